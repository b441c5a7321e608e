"""Clicks and conversions on the wire: one RFC 4180 CSV record per message (contract 1.2).

Every value is text and an empty field means absent, so None and a missing key encode
as an empty field. A field is quoted only when it holds a comma, a quote, CR or LF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from advertisex.contract.errors import ContractError
from advertisex.contract.schemas import csv_columns

COLUMNS: tuple[str, ...] = tuple(csv_columns())
HEADER: str = ",".join(COLUMNS)
# Batch files use RFC 4180's CRLF; readers accept LF as well.
LINE_END = "\r\n"


def encode_click_row(record: dict) -> str:
    """One CSV record, columns in contract order, WITHOUT a line terminator.

    Keys that are not columns are ignored (like unknown JSON fields on impressions).
    """
    return ",".join(_quote(record.get(name)) for name in COLUMNS)


def decode_click_row(payload: bytes | str) -> dict[str, str]:
    """Column name -> text ('' when empty) of one record; ContractError('malformed_csv') else.

    One trailing line terminator (LF or CRLF) is allowed; any other line break must sit
    inside a quoted field.
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractError("malformed_csv", f"payload is not UTF-8 ({exc})") from None
    else:
        text = payload
    fields = _split_record(_strip_line_end(text))
    if len(fields) != len(COLUMNS):
        raise ContractError(
            "malformed_csv", f"expected {len(COLUMNS)} columns ({HEADER}), got {len(fields)}"
        )
    return dict(zip(COLUMNS, fields, strict=True))


def iter_csv_records(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number where it starts, raw text) of each record after the checked header.

    For batch readers that dead-letter one bad record and go on: decode each text with
    decode_click_row. A record continues onto the next line while it holds an odd number
    of quotes (an open quoted field). Blank lines are skipped. A UTF-8 BOM is allowed.
    """
    with open(path, encoding="utf-8-sig", newline="") as lines:
        records = _join_quoted_lines(lines)
        first = next(records, None)
        if first is None:
            raise ContractError(
                "malformed_csv", f"{path}: empty file, expected the header {HEADER}"
            )
        if _strip_line_end(first[1]) != HEADER:
            raise ContractError(
                "malformed_csv",
                f"{path}: header is {_strip_line_end(first[1])!r}, expected {HEADER!r}",
            )
        for line_number, text in records:
            if _strip_line_end(text):
                yield line_number, text


def read_csv_file(path: str | Path) -> Iterator[dict[str, str]]:
    """The records of a batch CSV file as dicts; raises at the first malformed one."""
    for line_number, text in iter_csv_records(path):
        try:
            yield decode_click_row(text)
        except ContractError as exc:
            raise ContractError(exc.reason, f"{path}:{line_number}: {exc.detail}") from None


def write_csv_file(path: str | Path, records: Iterable[dict]) -> int:
    """A batch CSV file: the header, then one CRLF-terminated record each. Returns the count."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + LINE_END)
        for record in records:
            out.write(encode_click_row(record) + LINE_END)
            count += 1
    return count


def _quote(value: object) -> str:
    if value is None:
        text = ""
    elif isinstance(value, float):
        # Plain decimal notation: str(1e-07) would be '1e-07', which decimals here refuse.
        text = format(Decimal(repr(value)), "f")
    else:
        text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _strip_line_end(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _split_record(text: str) -> list[str]:
    """RFC 4180 fields of one record (no line terminator left), strictly."""
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        column = len(fields) + 1
        if i < n and text[i] == '"':
            # Quoted field: runs to a quote that is not doubled.
            chunks, i = [], i + 1
            while True:
                close = text.find('"', i)
                if close < 0:
                    raise ContractError(
                        "malformed_csv", f"unterminated quoted field in column {column}"
                    )
                chunks.append(text[i:close])
                if text.startswith('"', close + 1):
                    chunks.append('"')
                    i = close + 2
                    continue
                i = close + 1
                break
            fields.append("".join(chunks))
            if i < n and text[i] in "\r\n":
                raise ContractError(
                    "malformed_csv",
                    f"line break outside quotes after column {column}: more than one record",
                )
            if i < n and text[i] != ",":
                raise ContractError(
                    "malformed_csv",
                    f"unexpected {text[i]!r} after the closing quote of column {column}",
                )
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            field = text[i:end]
            if '"' in field:
                raise ContractError("malformed_csv", f"quote inside unquoted column {column}")
            if "\r" in field or "\n" in field:
                raise ContractError(
                    "malformed_csv",
                    f"line break outside quotes in column {column}: more than one record",
                )
            fields.append(field)
            i = end
        if i >= n:
            return fields
        i += 1  # past the comma; a trailing comma leaves one more (empty) field
        if i == n:
            fields.append("")
            return fields


def _join_quoted_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    pending, start, quotes = "", 0, 0
    for line_number, line in enumerate(lines, start=1):
        if not pending:
            start = line_number
        pending += line
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield start, pending
            pending, quotes = "", 0
    if pending:
        yield start, pending  # an open quote at end of file: decoding reports it
