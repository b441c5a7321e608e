"""Ingestion: the traffic simulator with its ground truth, Kafka and file sinks, file replay."""
