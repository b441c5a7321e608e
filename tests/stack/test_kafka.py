"""The real KRaft broker: produce and consume, with transactions and consumer groups."""

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic


def test_produce_and_consume_round_trip(kafka, topic_name):
    admin = KafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap)
    admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])
    admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka.kafka_bootstrap, acks="all")
    sent = {f"id-{i}": f"value-{i}" for i in range(50)}
    for key, value in sent.items():
        producer.send(topic_name, key=key.encode(), value=value.encode())
    producer.flush()
    producer.close()

    # A consumer group: needs the offsets topic, which replication factor 1 makes possible.
    consumer = KafkaConsumer(
        topic_name,
        bootstrap_servers=kafka.kafka_bootstrap,
        group_id=f"g-{topic_name}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    received = {}
    for message in consumer:
        received[message.key.decode()] = message.value.decode()
        if len(received) == len(sent):
            break
    consumer.commit()
    partitions = {tp.partition for tp in consumer.assignment()}
    consumer.close()

    assert received == sent
    assert partitions == {0, 1, 2}


def test_transactions_are_visible_only_when_committed(kafka, topic_name):
    producer = KafkaProducer(
        bootstrap_servers=kafka.kafka_bootstrap,
        transactional_id=f"tx-{topic_name}",
    )
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(topic_name, b"aborted")
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic_name, b"committed")
    producer.commit_transaction()
    producer.close()

    consumer = KafkaConsumer(
        topic_name,
        bootstrap_servers=kafka.kafka_bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=5_000,
    )
    values = [m.value for m in consumer]
    consumer.close()
    assert values == [b"committed"]
