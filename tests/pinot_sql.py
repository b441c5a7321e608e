"""query(cfg, sql): rows from the test stack's Pinot broker, for tests that check tables."""

from advertisex.serving.pinot_broker import broker_connection


def query(cfg, sql: str) -> list[tuple]:
    _, conn = broker_connection(cfg.pinot_broker_url)
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        conn.close()
