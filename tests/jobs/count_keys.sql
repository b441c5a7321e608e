-- Counts the rows per key of a Kafka topic into an upsert-kafka topic: a keyed state that a
-- savepoint carries. shout() is a Python UDF, so the job needs Python workers on the cluster.
CREATE TEMPORARY TABLE keys_in (
    k STRING
) WITH (
    'connector' = 'kafka',
    'topic' = '{source_topic}',
    'properties.bootstrap.servers' = '{bootstrap}',
    'properties.group.id' = '{source_topic}',
    'scan.startup.mode' = '{startup_mode}',
    'format' = 'json'
);

CREATE TEMPORARY TABLE key_counts (
    k STRING,
    n BIGINT,
    PRIMARY KEY (k) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = '{sink_topic}',
    'properties.bootstrap.servers' = '{bootstrap}',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO key_counts
SELECT shout(k) AS k, COUNT(*) AS n FROM keys_in GROUP BY shout(k);
