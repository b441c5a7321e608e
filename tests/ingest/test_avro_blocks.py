"""Object container files from raw datums: fastavro reads them; bad datums stay isolated."""

from datetime import UTC, datetime, timedelta

import fastavro

from advertisex.contract.schemas import bid_request_avsc
from advertisex.ingest.avro_blocks import read_datums, write_datum_blocks

SCHEMA = bid_request_avsc()
PARSED = fastavro.parse_schema(SCHEMA)


def bid(i: int) -> dict:
    return {
        "request_id": f"br-{i}",
        "event_time": 1_795_900_000_000 + i,
        "exchange": "adx",
        "auction_type": "FIRST_PRICE",
        "bid_floor_micros": 1000 * i,
        "currency": "USD",
        "user": {"user_id": f"u{i}", "segments": ["s1"], "age_range": None, "gender": None},
        "device": {
            "device_type": "mobile",
            "os": None,
            "user_agent": None,
            "ip": None,
            "country": "US",
        },
        "site": {"domain": "a.example.com", "page_url": None, "categories": ["IAB1"]},
        "targeting": {"campaign_ids": ["c1"], "keywords": []},
        "outcome": None,
    }


def datum(record: dict) -> bytes:
    import io

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, PARSED, record)
    return buf.getvalue()


def test_fastavro_reads_what_we_write(tmp_path):
    path = tmp_path / "b.avro"
    records = [bid(i) for i in range(2500)]
    assert (
        write_datum_blocks(path, SCHEMA, [(datum(r), False) for r in records], block_size=1000)
        == 2500
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    with open(path, "rb") as f:
        # fastavro hands timestamp-millis back as an aware datetime.
        got = [
            {**r, "event_time": (r["event_time"] - epoch) // timedelta(milliseconds=1)}
            for r in fastavro.reader(f)
        ]
    assert got == records


def test_datums_come_back_byte_for_byte_and_bad_ones_alone(tmp_path):
    path = tmp_path / "b.avro"
    good = [datum(bid(i)) for i in range(5)]
    truncated = datum(bid(99))[:7]
    pieces = [
        (good[0], False),
        (good[1], False),
        (truncated, True),
        (good[2], False),
        (good[3], False),
        (good[4], False),
    ]
    write_datum_blocks(path, SCHEMA, pieces, block_size=2)
    assert list(read_datums(path)) == [
        (good[0], True),
        (good[1], True),
        (truncated, False),
        (good[2], True),
        (good[3], True),
        (good[4], True),
    ]


def test_a_deflate_file_yields_each_datum(tmp_path):
    from advertisex.contract.bid_requests import decode_bid_request, write_avro_file

    records = [
        {
            "request_id": f"r{i}",
            "event_time": i,
            "exchange": "x",
            "auction_type": "FIRST_PRICE",
            "bid_floor_micros": 0,
            "currency": "USD",
            "user": {},
            "device": {},
            "site": {"domain": "d"},
            "targeting": {},
        }
        for i in range(3)
    ]
    path = tmp_path / "deflate.avro"
    write_avro_file(path, records, codec="deflate")
    datums = list(read_datums(path))
    assert [ok for _, ok in datums] == [True, True, True]
    assert [decode_bid_request(d)["request_id"] for d, _ in datums] == ["r0", "r1", "r2"]
