"""The AdvertiseX operator: FlinkSqlJob resources turned into running Flink jobs (kopf)."""
