"""AdvertiseX: a streaming ad-event pipeline on Kafka, PyFlink SQL and Pinot."""

__version__ = "0.1.0"
