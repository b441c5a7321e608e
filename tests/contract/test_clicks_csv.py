"""Clicks and conversions CSV: RFC 4180 records both ways, files with a header, and every
malformed record refused with its cause."""

from __future__ import annotations

import pytest

from advertisex.contract.clicks_csv import (
    HEADER,
    decode_click_row,
    encode_click_row,
    iter_csv_records,
    read_csv_file,
    write_csv_file,
)
from advertisex.contract.errors import ContractError

CONTRACT_HEADER = (
    "event_id,event_time,event_type,user_id,campaign_id,impression_id,"
    "conversion_type,conversion_value,currency"
)
CLICK = {
    "event_id": "e-1",
    "event_time": "2026-11-29T10:15:30.123Z",
    "event_type": "click",
    "user_id": "u-1",
    "campaign_id": "c-1",
    "impression_id": "imp-1",
}
CONVERSION = {
    "event_id": "e-2",
    "event_time": 1795947330123,
    "event_type": "conversion",
    "user_id": "u-1",
    "campaign_id": "c-1",
    "impression_id": None,
    "conversion_type": "purchase",
    "conversion_value": 12.5,
    "currency": "EUR",
}


def test_header_is_the_contracts():
    assert HEADER == CONTRACT_HEADER


def test_encoding_a_click_leaves_absent_columns_empty_and_no_line_end():
    assert encode_click_row(CLICK) == "e-1,2026-11-29T10:15:30.123Z,click,u-1,c-1,imp-1,,,"


def test_encoding_a_conversion_writes_numbers_as_text():
    assert encode_click_row(CONVERSION) == "e-2,1795947330123,conversion,u-1,c-1,,purchase,12.5,EUR"


def test_floats_are_written_without_exponent():
    assert encode_click_row({"conversion_value": 1e-07}).split(",")[7] == "0.0000001"
    assert encode_click_row({"conversion_value": 1e16}).split(",")[7] == "10000000000000000"


def test_keys_that_are_not_columns_are_ignored():
    assert encode_click_row({**CLICK, "note": "x,y"}) == encode_click_row(CLICK)


def test_quotes_commas_and_line_breaks_are_quoted_and_round_trip():
    record = {
        **CLICK,
        "event_id": 'say "hi"',
        "user_id": "a,b",
        "campaign_id": "line1\nline2",
        "impression_id": "cr\r\nlf",
        "currency": " padded ",
    }
    line = encode_click_row(record)
    assert line == (
        '"say ""hi""",2026-11-29T10:15:30.123Z,click,"a,b","line1\nline2","cr\r\nlf",,, padded '
    )
    decoded = decode_click_row(line)
    assert decoded == {**{k: "" for k in HEADER.split(",")}, **record}
    assert decode_click_row(line.encode()) == decoded


def test_decoding_gives_text_for_every_column():
    assert decode_click_row(encode_click_row(CONVERSION)) == {
        "event_id": "e-2",
        "event_time": "1795947330123",
        "event_type": "conversion",
        "user_id": "u-1",
        "campaign_id": "c-1",
        "impression_id": "",
        "conversion_type": "purchase",
        "conversion_value": "12.5",
        "currency": "EUR",
    }


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_one_trailing_line_end_is_allowed(ending):
    line = encode_click_row(CLICK)
    assert decode_click_row(line + ending) == decode_click_row(line)


def test_unicode_and_empty_quoted_fields():
    line = 'e,t,click,"üser 😀","",i,,,'
    assert decode_click_row(line.encode())["user_id"] == "üser 😀"
    assert decode_click_row(line)["campaign_id"] == ""


VALID = encode_click_row(CLICK)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ("", "expected 9 columns (" + CONTRACT_HEADER + "), got 1"),
        ("e-1,t,click", "expected 9 columns (" + CONTRACT_HEADER + "), got 3"),
        (VALID + ",extra", "expected 9 columns (" + CONTRACT_HEADER + "), got 10"),
        ('e,t,click,u,c,i,,,"open', "unterminated quoted field in column 9"),
        ('"open,t,click,u,c,i,,,', "unterminated quoted field in column 1"),
        ('e,t,click,u,c,"i"x,,,', "unexpected 'x' after the closing quote of column 6"),
        ('e,t,click,u,c,i"x,,,', "quote inside unquoted column 6"),
        (VALID + "\n" + VALID, "line break outside quotes in column 9: more than one record"),
        (VALID + "\n\n", "line break outside quotes in column 9: more than one record"),
        ('e,t,click,u,c,"i"\n,,,', "line break outside quotes after column 6"),
        ("e,t,click,u\rx,c,i,,,", "line break outside quotes in column 4"),
        (b"e,t,click,\xff,c,i,,,", "payload is not UTF-8"),
    ],
)
def test_malformed_records(payload, detail):
    with pytest.raises(ContractError) as caught:
        decode_click_row(payload)
    assert caught.value.reason == "malformed_csv"
    assert caught.value.detail.startswith(detail)


def test_file_round_trip_with_header_and_multiline_fields(tmp_path):
    path = tmp_path / "events.csv"
    records = [CLICK, CONVERSION, {**CLICK, "event_id": "e-3", "user_id": 'multi\n"line"'}]
    assert write_csv_file(path, records) == 3
    raw = path.read_bytes()
    assert raw.startswith(CONTRACT_HEADER.encode() + b"\r\ne-1,")
    assert raw.endswith(b"\r\n")
    back = list(read_csv_file(path))
    assert [r["event_id"] for r in back] == ["e-1", "e-2", "e-3"]
    assert back[2]["user_id"] == 'multi\n"line"'
    assert back[1] == decode_click_row(encode_click_row(CONVERSION))
    assert [n for n, _ in iter_csv_records(path)] == [2, 3, 4]


def test_reading_accepts_lf_files_a_bom_and_blank_lines(tmp_path):
    path = tmp_path / "lf.csv"
    path.write_bytes(("\ufeff" + CONTRACT_HEADER + "\n" + VALID + "\n\n" + VALID + "\n").encode())
    assert [n for n, _ in iter_csv_records(path)] == [2, 4]
    assert list(read_csv_file(path)) == [decode_click_row(VALID)] * 2


def test_a_wrong_header_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("event_id,event_time\n" + VALID + "\n")
    with pytest.raises(ContractError) as caught:
        list(read_csv_file(path))
    assert caught.value.reason == "malformed_csv"
    assert "header is 'event_id,event_time', expected" in caught.value.detail


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ContractError) as caught:
        list(read_csv_file(path))
    assert caught.value.reason == "malformed_csv"
    assert "empty file" in caught.value.detail


def test_a_bad_record_in_a_file_names_its_line(tmp_path):
    path = tmp_path / "bad-row.csv"
    path.write_text(CONTRACT_HEADER + "\n" + VALID + "\ne,t,click\n")
    rows = read_csv_file(path)
    assert next(rows) == decode_click_row(VALID)
    with pytest.raises(ContractError) as caught:
        next(rows)
    assert caught.value.reason == "malformed_csv"
    assert caught.value.detail == f"{path}:3: expected 9 columns ({CONTRACT_HEADER}), got 3"


def test_an_open_quote_at_end_of_file_is_one_unterminated_record(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text(CONTRACT_HEADER + "\n" + 'e,t,click,"never closed\n' + VALID + "\n")
    records = list(iter_csv_records(path))
    assert [n for n, _ in records] == [2]
    with pytest.raises(ContractError) as caught:
        decode_click_row(records[0][1])
    assert caught.value.detail == "unterminated quoted field in column 4"
