"""The local stack: real Kafka, Pinot and Flink servers on loopback, each its own process."""
