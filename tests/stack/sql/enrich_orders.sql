-- A small streaming job for the stack test: filter, compute, and rename, Kafka to Kafka.
INSERT INTO orders_out
SELECT id, UPPER(country) AS country, amount * 2 AS doubled
FROM orders_in
WHERE amount >= 0
