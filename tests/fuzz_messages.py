"""A deterministic fuzz corpus for the data contract: raw messages of the three sources.

messages(count, seed) yields Message(source, payload, kind), the same sequence for the same
arguments: valid traffic from the simulator (every anomaly knob on) and mutations of it
aimed at each rule of advertisex/contract/rules.py, each timestamp form, host shape, CSV
quoting case and Avro framing, plus plain byte damage (truncation, bit flips, inserted and
deleted bytes, random bytes). Sources take turns, and each source's kinds take turns by
weight, so a prefix of a few thousand messages already holds every kind.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import NamedTuple

import fastavro

from advertisex.contract.bid_requests import decode_bid_request
from advertisex.contract.clicks_csv import COLUMNS, decode_click_row
from advertisex.contract.impressions import decode_impression
from advertisex.contract.schemas import bid_request_avsc, enum_values
from advertisex.contract.timestamps import MAX_EPOCH_MS
from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.simulator import Simulator

SOURCES = ("impressions", "clicks_conversions", "bid_requests")
START = 1_795_910_400_000  # 2026-11-29T00:00:00Z
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Message(NamedTuple):
    source: str
    payload: bytes
    kind: str  # what made it, for reports


# --- values ------------------------------------------------------------------------------

# Python's str.strip and str.isspace know these; Java's String.strip knows only some.
WHITESPACE = (
    *" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0",
    *"\u1680\u2000\u2003\u2007\u200a\u2028\u2029\u202f\u205f\u3000",
)
NOT_WHITESPACE = ("\u200b", "\ufeff", "\u180e", "\u2060", "\x00", "\x7f")
ODD_TEXT = ("😀", "e\u0301", "\u200f", "İ", "ß", "Ω", "ǅ", "\u212a", "Ｗ", "\x01", "\u00ad", "ﬁ")

# Just above a halfway point between two doubles, told only by a digit past the 1,100th: a
# parser that stops reading digits early rounds them to even instead.
LONG_DECIMALS = (
    "9007199254740993." + "0" * 1200 + "1",
    "1.00000000000000011102230246251565404236316680908203125" + "0" * 1200 + "1",
    "-1.00000000000000011102230246251565404236316680908203125" + "0" * 1200 + "1",
)

# fmt: off
ISO_EDGES = (
    "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000+00:00", "1970-01-01T00:59:59.999+01:00",
    "1969-12-31T23:00:00-01:00", "1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999-00:01",
    "9999-12-31T23:59:59.999+00:01", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
    "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z",
    "2026-11-29T24:00:00Z", "2026-11-29T23:60:00Z", "2026-11-29T23:59:60Z",
    "2026-11-29T10:15:30+24:00", "2026-11-29T10:15:30+23:59", "2026-11-29T10:15:30-23:59",
    "2026-11-29T10:15:30+05:60", "2026-11-29T10:15:30+99:99", "2026-11-29T10:15:30-00:00",
    "2026-11-29T10:15:30", "2026-11-29T10:15:30.123", "2026-11-29", "2026-11-29T10:15Z",
    "2026-11-29 10:15:30Z", "2026-11-29t10:15:30z", "2026-11-29T10:15:30z",
    "2026-11-29T10:15:30+0100", "2026-11-29T10:15:30+01", "2026-11-29T10:15:30.Z",
    "2026-11-29T10:15:30.1234567890Z", "2026-11-29T10:15:30,123Z", "2026-11-29T10:15:30.12a Z",
    "+2026-11-29T10:15:30Z", "12026-11-29T10:15:30Z", "2026-1-29T10:15:30Z",
    "２０２６-11-29T10:15:30Z", "2026-11-29T10:15:30\u2212 01:00", "2026-11-29T10:15:30Z junk",
    "2026-11-29T10:15:30ZZ", "2026-11-29T10:15:30.１Z", "2026-11-٢٩T10:15:30Z",
    "2026-11-29T10:15:30.123+01:00\n",
)
TIMESTAMP_TEXT = (
    "yesterday", "now", "", " ", "\u2003", "null", "NaN", "1e12", "1795910400000.0",
    "+1795910400000", "-1795910400000", "0", "000", "0" * 40 + "1", "9" * 16, str(MAX_EPOCH_MS),
    str(MAX_EPOCH_MS + 1), "1" * 5000, "١٧٩٥٩١٠٤٠٠٠٠٠", "１７９５９１０４０００００",
    "1795910400000\x00",
    "0x1A2B", "1_795_910_400_000", "1795910400000 1",
)
TIMESTAMP_JSON = (
    0, -1, MAX_EPOCH_MS, MAX_EPOCH_MS + 1, 2**63, 10**30, -(10**30), -0.0, 0.5, 1e300, -1e300,
    float(MAX_EPOCH_MS), float(MAX_EPOCH_MS + 1), True, False, None, [], {}, [START],
    {"ms": START},
)
TIMESTAMP_LONGS = (0, -1, 1, MAX_EPOCH_MS, MAX_EPOCH_MS + 1, INT64_MIN, INT64_MAX, -START)

NUMBERS_JSON = (
    0, 1, -1, 1500, -1500, INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 10**19, 10**25,
    -(10**25), 1.0, 1.5, -0.0, -1.0, 0.5, 1e18, 9.3e18, 9.223372036854776e18,
    -9.223372036854776e18, -9.3e18, 1e300, 9007199254740993.0, True, False, None, [], [1], {},
    {"v": 1},
)
NUMBER_TEXT = (
    "123", " 123 ", "+5", "-5", "-0", "00012", "1.0", "1e3", "0x10", "12k", "", "  ",
    "\u00a07\u3000", "\x1c7\x85", "١٢٣", "９", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "0" * 30 + "5", "-" + "0" * 30 + "5",
    "1" * 20, "1" * 21, "9" * 20, "1" * 400, "+", "-", "1 2", "+-1", "--1",
)
DECIMAL_TEXT = (
    "0", "0.0", "12.50", "12.5", ".5", "5.", "+1.25", "-0", "-0.0", "-.0", "-0.01", "-3.50",
    "1e3", "1E3", "12,5", "NaN", "inf", "Infinity", "", " ", " 7.25 ", "\u00a07.25",
    "\u30007.25\x85", "٣.٥", "1.2.3", "..", ".", "+", "-", "+.5", "-.5", "0x1p3", "1_000",
    "9" * 400, "1" + "0" * 308, "1" + "0" * 309, "17976931348623157" + "0" * 292,
    "17976931348623158" + "0" * 292, "17976931348623159" + "0" * 292, "0." + "0" * 400 + "1",
    "0." + "0" * 323 + "49", "0." + "0" * 323 + "25", "123456789.123456789", "0.1",
    "0.30000000000000004", "9007199254740993", "9007199254740993.0000000000000001",
    "2.5000000000000000000000000001", *LONG_DECIMALS,
)
COUNTRIES = (
    "US", "us", " de ", "Fr", "USA", "U", "", "  ", "\u00a0GB\u3000", "\x1cIT\x85", "ÜS", "1A",
    "U1", "U S", "\u212aR", "ǅ", "Ｕｓ", "US\u200b",
)
CURRENCIES = (
    "USD", "usd", " eur ", "Gbp", "EURO", "US", "", "  ", "€", "U$D", "\u00a0JPY\u2003", "ÜSD",
    "123", "U S D", "\u212aRW", "usd\ufeff",
)
DEVICE_TYPES = (
    "desktop", "mobile", "tablet", "ctv", "other", "Mobile", " TABLET ", "CTV\u2003", "phone",
    "smart-tv", "", "  ", "DES\u212aTOP", "MOBİLE", "Ｍobile", "\u00a0desktop", "ｃｔｖ", "\u0130",
    "ΣΑΣ",
)
# Host shapes around a domain ({d}; {D} in capitals).
HOST_SHAPES = (
    "{d}", "{d}", "{D}", "www.{d}", "WWW.{d}", "www.www.{d}", "{d}.", "{d}..", "www.{d}.",
    "www.com", "www.com.", "www.", "www", "www..com", ".", "...", "", "192.168.0.1",
    "[2001:db8::1]", "[::1]", "[::1", "[]", "]", "[a]b:c", "exa mple.com", "exa\u00a0mple.com",
    "ex\tample.com", "ex\x85ample.com", "ex\u200bample.com", "bücher.example",
    "İSTANBUL.example", "\u212aelvin.example", "ΣΑΣ.example", "xn--bcher-kva.example",
    "localhost", "{d}\u3000", "\u00a0{d}", "x" * 300 + ".com", "www\u3002{d}",
)
# fmt: on
WRONG_TYPES = (123, -7, 1.5, 0.0, True, False, None, [], ["a"], {}, {"a": 1}, 1e300, 2**70)

SCHEMES = ("", "", "", "http://", "https://", "HTTPS://", "ftp://", "//", "://", "http:/")
SCHEMES += ("git+ssh://", "http:", "\\\\")
USERINFO = ("", "", "", "", "user@", "user:secret@", "a@b@", "@", "u:p:q@", "x/y@")
PORTS = ("", "", "", ":80", ":443", ":8080", ":", ":abc", ":99999")
PATHS = ("", "", "", "/", "/a/b.html", "/p?ref=ad", "?q=1", "#top", "/x#y?z", "/@evil.com")
PATHS += ("?a=http://x.com", "/a:b@c", ";params")


def _timestamp_text(rng: random.Random, ms: int) -> str:
    """A timestamp written as text: ISO in any zone and precision, digits, or not a time."""
    pick = rng.randrange(13)
    if pick < 3:
        return _iso(rng, ms)
    if pick == 3:
        return _iso(rng, rng.randrange(MAX_EPOCH_MS + 1))  # any day of the valid range
    if pick == 4:
        return str(ms)
    if pick == 5:
        return _padded(rng, "0" * rng.randrange(1, 30) + str(ms))
    if pick == 6:
        return _padded(rng, _iso(rng, ms))
    if pick == 7:
        return rng.choice(ISO_EDGES)
    if pick == 8:
        return _calendar_fields(rng)
    if pick == 9:  # digits of any length, around the last valid instant's 15
        return str(rng.randrange(10 ** rng.randrange(1, 18))).zfill(rng.randrange(1, 20))
    return rng.choice(TIMESTAMP_TEXT)


def _calendar_fields(rng: random.Random) -> str:
    """ISO-shaped text whose fields may not make a date: Feb 29 of any year, day 31 of any
    month, hour 24, second 60, offsets past 23:59."""
    year = rng.choice((rng.randrange(10_000), 1900, 2000, 2100, 1970, 9999, 0, 1969, 1600))
    month, day = rng.randrange(0, 14), rng.choice((rng.randrange(0, 33), 28, 29, 30, 31))
    hour, minute, second = rng.randrange(0, 26), rng.randrange(0, 62), rng.randrange(0, 62)
    zone = rng.choice(("Z", f"+{rng.randrange(26):02d}:{rng.randrange(62):02d}", "-00:00"))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"


def _timestamp_json(rng: random.Random, ms: int) -> object:
    pick = rng.randrange(8)
    if pick < 4:
        return _timestamp_text(rng, ms)
    if pick == 4:
        return ms
    if pick == 5:
        return rng.choice((float(ms), ms + 0.5, float(rng.randrange(2**60)), rng.uniform(0, 1e16)))
    if pick == 6:
        return rng.choice((-ms, rng.randrange(MAX_EPOCH_MS), rng.randrange(-(2**64), 2**64)))
    return rng.choice(TIMESTAMP_JSON)


def _iso(rng: random.Random, ms: int) -> str:
    """ms as ISO-8601 in a random zone (Z or an offset) with 0 to 9 fraction digits."""
    offset = 0 if rng.random() < 0.4 else rng.randrange(-23 * 60 - 59, 23 * 60 + 60)
    try:
        local = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms + offset * 60_000)
    except OverflowError:
        return rng.choice(ISO_EDGES)
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
        f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )
    digits = rng.randrange(10)
    if digits:
        text += "." + f"{local.microsecond // 1000:03d}{rng.randrange(10**6):06d}"[:digits]
    if offset == 0 and rng.random() < 0.7:
        return text + "Z"
    sign = "-" if offset < 0 or (offset == 0 and rng.random() < 0.5) else "+"
    return text + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def _padded(rng: random.Random, text: str) -> str:
    """Text with whitespace (or a look-alike that is not whitespace) on one or both sides."""
    chars = WHITESPACE if rng.random() < 0.85 else NOT_WHITESPACE
    left = "".join(rng.choice(chars) for _ in range(rng.randrange(3)))
    right = "".join(rng.choice(chars) for _ in range(rng.randrange(3)))
    return left + text + right


def _unicode(rng: random.Random, length: int = 8) -> str:
    """Random code points of any plane (no surrogates): letters of every script to lower
    and strip, next to ASCII."""
    points = []
    for _ in range(length):
        pick = rng.random()
        if pick < 0.3:
            points.append(rng.randrange(0x20, 0x80))
        elif pick < 0.85:
            point = rng.randrange(0x80, 0xF800)
            points.append(point + 0x800 if point >= 0xD800 else point)
        else:
            points.append(rng.randrange(0x10000, 0x110000))
    return "".join(map(chr, points))


def _id_variant(rng: random.Random, value: str) -> str:
    pick = rng.randrange(9)
    if pick < 3:
        return _padded(rng, value)
    if pick == 3:
        return "".join(rng.choice(WHITESPACE) for _ in range(rng.randrange(1, 4)))
    if pick == 4:
        return value + rng.choice(ODD_TEXT)
    if pick == 5:
        return rng.choice((",", '"', "\r\n", "\n", '""', '",', "\r")).join((value, value))
    if pick == 6:
        return value * rng.randrange(20, 80)
    if pick == 7:
        return rng.choice(NOT_WHITESPACE) + value
    return _unicode(rng) if rng.random() < 0.5 else value + _unicode(rng, 2)


def _host(rng: random.Random, domain: str) -> str:
    if rng.random() < 0.85:
        host = rng.choice(HOST_SHAPES).format(d=domain, D=domain.upper())
    else:
        host = _unicode(rng) + "." + domain
    text = rng.choice(SCHEMES) + rng.choice(USERINFO) + host + rng.choice(PORTS) + rng.choice(PATHS)
    return _padded(rng, text) if rng.random() < 0.2 else text


def _random_decimal(rng: random.Random) -> str:
    whole = str(rng.randrange(10 ** rng.randrange(1, 25)))
    places = rng.randrange(0, 25)
    fraction = f"{rng.randrange(10**places):0{places}d}" if places else ""
    sign = rng.choice(("", "", "", "+", "-"))
    return f"{sign}{whole}.{fraction}" if fraction or rng.random() < 0.2 else sign + whole


def _number_json(rng: random.Random) -> object:
    pick = rng.randrange(5)
    if pick == 0:
        return rng.choice(NUMBERS_JSON)
    if pick == 1:
        return rng.choice(NUMBER_TEXT)
    if pick == 2:
        return rng.randrange(-(10**6), 10**12)
    if pick == 3:
        return rng.randrange(-(2**66), 2**66)
    return rng.choice((float(rng.randrange(-(10**20), 10**20)), rng.uniform(-1e6, 1e6)))


# --- byte damage -------------------------------------------------------------------------

# fmt: off
INTERESTING_BYTES = (
    b"\x00", b"\xff", b"\x80", b'"', b",", b"\n", b"\r\n", b"\r", b"{", b"}", b"[", b"\\",
    b"\xc3", b"\xc0\x80", b"\xe2\x80\xa8", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x7f",
    b"\x01", b" ", b"\xc2\xa0", b"\xef\xbb\xbf",
)
# fmt: on


def truncated(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def bit_flipped(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return b"\x01"
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def inserted(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.6:
        return data[:at] + rng.choice(INTERESTING_BYTES) + data[at:]
    return data[:at] + rng.randbytes(rng.randint(1, 4)) + data[at:]


def deleted(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 4) :]


BYTE_DAMAGE = (truncated, bit_flipped, inserted, deleted)


# --- impressions: JSON -------------------------------------------------------------------

# fmt: off
IMPRESSION_FIELDS = (
    "impression_id", "event_time", "user_id", "creative_id", "campaign_id", "website",
    "bid_request_id", "cost_micros", "currency", "device_type", "country", "user_agent",
)
IMPRESSION_IDS = ("impression_id", "user_id", "creative_id", "campaign_id", "bid_request_id")
_RAW = "@@raw@@"  # a value later replaced by a raw JSON token
RAW_TOKENS = (
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E3", "1e+3", "1.5e3",
    "1795910400000e0", "1.7959104e12", "-0", "-0.0", "0.0", "01", "+1", ".5", "1.", "-", "1e",
    "0x10", "true", "false", "null", "tru", "nul", '"\\u0041BC"', '"\\ud800"',
    '"\\udc00\\ud800"', '"\\ud83d\\ude00"', '"\\u00e9x\\u0000"', '"\\x41"',
    '"\\/a\\b\\f\\n\\r\\t"', "'a'", '"a\tb"', '"a\x00b"', '"a\x1fb"', '"a\x7fb"', '"\\u12"',
    '"\\uZZZZ"', "1" * 4300, "1" * 4301, "-" + "1" * 4300, "-" + "1" * 4301, "1" * 4300 + ".5",
    "1" + "0" * 400, "1.0e-400", "123456789012345678901234567890.5", "9007199254740993",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "[1,2,]", "{}",
    '{"a":}', "[" * 10 + "]" * 10, "1795910400000.0000000001", "- 1", "1 ", *LONG_DECIMALS,
)
# fmt: on


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_JSON_ASCII = json.JSONEncoder(separators=(",", ":")).encode  # non-ASCII as \\u escapes


def _json_text(record: dict, ascii_only: bool = False) -> str:
    return _JSON_ASCII(record) if ascii_only else _JSON(record)


def _json_bytes(text: str) -> bytes:
    # A lone surrogate in a value becomes bytes no UTF-8 decoder accepts, not an error here.
    return text.encode("utf-8", "surrogatepass")


class _Source:
    """One source's messages. Mutators change a decoded record in place; kinds each make a
    payload: the simulator's own, a record with one or more mutations, byte damage."""

    OWN_KINDS: dict[str, int] = {}  # the source's own kinds (method names) and their weights
    DAMAGE_WEIGHT = 2

    def __init__(self, rng: random.Random, records: list[dict], payloads: list[bytes]):
        self.rng, self.records, self.payloads = rng, records, payloads
        self.mutators = self.field_mutators()

    def record(self) -> dict:
        return dict(self.rng.choice(self.records))

    def encode(self, r: dict) -> bytes:
        raise NotImplementedError

    def field_mutators(self) -> list[Callable[[dict], None]]:
        """Each mutator once per weight unit (a name twice is twice as likely)."""
        raise NotImplementedError

    def kinds(self) -> dict[str, tuple[int, Callable[[], bytes]]]:
        kinds = {"valid": (3, self.valid), "combo": (6, self.combo)}
        kinds |= {name: (weight, getattr(self, name)) for name, weight in self.OWN_KINDS.items()}
        kinds["random_bytes"] = (1, self.random_bytes)
        for mutate in self.mutators:
            weight = kinds.get(mutate.__name__, (0,))[0]
            kinds[mutate.__name__] = (weight + 2, self.one(mutate))
        for damage in BYTE_DAMAGE:
            kinds[damage.__name__] = (self.DAMAGE_WEIGHT, self.damaged(damage))
        return kinds

    def valid(self) -> bytes:
        return self.rng.choice(self.payloads)

    def random_bytes(self) -> bytes:
        return _random_bytes(self.rng)

    def one(self, mutate: Callable[[dict], None]) -> Callable[[], bytes]:
        def make() -> bytes:
            r = self.record()
            mutate(r)
            return self.encode(r)

        return make

    def combo(self) -> bytes:
        r = self.record()
        for mutate in self.rng.sample(self.mutators, self.rng.randint(2, 4)):
            mutate(r)
        return self.encode(r)

    def damaged(self, damage: Callable[[random.Random, bytes], bytes]) -> Callable[[], bytes]:
        def make() -> bytes:
            base = self.valid() if self.rng.random() < 0.5 else self.combo()
            return damage(self.rng, base)

        return make


class _Impressions(_Source):
    OWN_KINDS = {"raw_token": 4, "json_syntax": 4, "nesting": 1}

    def encode(self, record: dict) -> bytes:
        return _json_bytes(_json_text(record, self.rng.random() < 0.1))

    # field mutators: change one record in place
    def wrong_type(self, r: dict) -> None:
        r[self.rng.choice(IMPRESSION_FIELDS)] = self.rng.choice(WRONG_TYPES)

    def drop(self, r: dict) -> None:
        r.pop(self.rng.choice(IMPRESSION_FIELDS), None)

    def blank(self, r: dict) -> None:
        field = self.rng.choice(IMPRESSION_FIELDS)
        r[field] = "".join(self.rng.choice(WHITESPACE) for _ in range(self.rng.randrange(3)))

    def timestamp(self, r: dict) -> None:
        r["event_time"] = _timestamp_json(self.rng, START + self.rng.randrange(86_400_000))

    def ids(self, r: dict) -> None:
        for field in self.rng.sample(IMPRESSION_IDS, self.rng.randint(1, 3)):
            r[field] = _id_variant(self.rng, str(r.get(field) or "x"))

    def host(self, r: dict) -> None:
        r["website"] = _host(self.rng, _domain_of(r.get("website")))

    def cost(self, r: dict) -> None:
        r["cost_micros"] = _number_json(self.rng)

    def country(self, r: dict) -> None:
        r["country"] = self.rng.choice(COUNTRIES + (12, None, True, ["US"], {"c": "US"}))

    def currency(self, r: dict) -> None:
        r["currency"] = self.rng.choice(CURRENCIES + (840, None, True, ["USD"]))

    def device(self, r: dict) -> None:
        r["device_type"] = self.rng.choice(
            DEVICE_TYPES + (None, 5, True, [], {}, _unicode(self.rng))
        )

    def user_agent(self, r: dict) -> None:
        r["user_agent"] = self.rng.choice(("", " ", "Mozilla/5.0 😀", None, 7, ["ua"], "\x85"))

    def extra(self, r: dict) -> None:
        key = self.rng.choice(("extra", "Impression_ID", "impression_id ", "", "é", "web\u200b"))
        r[key] = self.rng.choice(({"a": [1, 2, {"b": None}]}, [[], {}], "x", 1.5, None))

    def field_mutators(self) -> list[Callable[[dict], None]]:
        return [
            self.wrong_type,
            self.drop,
            self.blank,
            self.timestamp,
            self.timestamp,
            self.ids,
            self.host,
            self.host,
            self.cost,
            self.country,
            self.currency,
            self.device,
            self.user_agent,
            self.extra,
        ]

    def raw_token(self) -> bytes:
        r = self.record()
        r[self.rng.choice(IMPRESSION_FIELDS)] = _RAW
        text = _json_text(r).replace(f'"{_RAW}"', self.rng.choice(RAW_TOKENS), 1)
        return _json_bytes(text)

    def json_syntax(self) -> bytes:
        rng, r = self.rng, self.record()
        text = _json_text(r, rng.random() < 0.3)
        pick = rng.randrange(16)
        if pick == 0:  # a key twice: the last one counts
            field = rng.choice(IMPRESSION_FIELDS)
            value = json.dumps(rng.choice((*WRONG_TYPES, "dup", "  ", r.get(field))))
            text = text[:-1] + f',"{field}":{value}}}'
        elif pick == 1:
            field = rng.choice(IMPRESSION_FIELDS)
            text = f'{{"{field}":{json.dumps(rng.choice(WRONG_TYPES))},' + text[1:]
        elif pick == 2:
            text = rng.choice(("", " ", "\t\r\n", "\u00a0", "\ufeff", "\x0c")) + text
        elif pick == 3:
            text += rng.choice(("", " ", "\n", "\r\n", " x", "}", "{}", ",", "\x00", "\u3000"))
        elif pick == 4:
            text = text[:-1] + ",}"
        elif pick == 5:
            text = rng.choice(("[]", '"s"', "1", "null", "true", "", "[{}]", "[" + text + "]"))
        elif pick == 6:
            text = text.replace('"', "'", 2)
        elif pick == 7:
            text = text[:1] + "/* c */" + text[1:]
        elif pick == 8:  # a raw control character inside a string
            at = text.index('":"') + 3 if '":"' in text else 1
            text = text[:at] + rng.choice(("\x01", "\t", "\n", "\x1f", "\x7f", "\x85")) + text[at:]
        elif pick == 9:  # a key written with escapes, alone or next to its plain twin
            escaped = '"\\u0069mpression_id"'
            if rng.random() < 0.5:
                text = text.replace('"impression_id"', escaped, 1)
            else:
                text = text[:-1] + f",{escaped}:{json.dumps(rng.choice(WRONG_TYPES))}}}"
        elif pick == 10:
            text = text.replace(":", " : ", 3).replace(",", " ,\n ", 3)
        elif pick == 11:  # bytes that are not UTF-8 inside a string value
            data = _json_bytes(text)
            at = data.index(b'":"') + 3 if b'":"' in data else 1
            return data[:at] + rng.choice(INTERESTING_BYTES[11:]) + data[at:]
        elif pick == 12:
            return text.encode(rng.choice(("utf-16", "utf-16-le", "utf-32", "latin-1")), "replace")
        elif pick == 13:
            text = text.replace("{", "{ ", 1).replace("}", " }")
        elif pick == 14:
            text = text[:-1] + ',"a":' + json.dumps("[" * 600) + "}"
        else:
            text = text.replace('"', '\\"', 1)
        return _json_bytes(text)

    def nesting(self) -> bytes:
        depth = self.rng.choice((1, 498, 499, 500, 501, 502, 1500))
        shape = self.rng.choice(("[", '{"a":'))
        close = "]" if shape == "[" else "}"
        inner = shape * depth + "1" + close * depth
        if self.rng.random() < 0.2:
            inner = shape * depth  # unbalanced
        text = _json_text(self.record())[:-1] + f',"deep":{inner}}}'
        return _json_bytes(text)


# --- clicks and conversions: CSV ---------------------------------------------------------

LINE_ENDS = ("\r\n", "\n", "\r", "\n\n", "\r\n\r\n", "\n\r", " \n")
CLICK_IDS = ("event_id", "user_id", "campaign_id", "impression_id")
EVENT_TYPES = ("click", "conversion", " click ", "Click", "CLICK", "view", "", " ")
EVENT_TYPES += ("click\u00a0", "\u3000conversion", "clicks", "click\u200b", "ｃlick")
CONVERSION_TYPES = tuple(enum_values("conversion_type"))
CONVERSION_TYPES += ("Purchase", " signup ", "refund", "", "  ", "add-to-cart")
CONVERSION_TYPES += ("add_to_cart\x85", "INSTALL", "lead\u200b")


def csv_row(record: dict) -> str:
    """One CSV record of string values, as encode_click_row writes it (a test checks it),
    at a third of its cost."""
    return ",".join([_csv_field(record.get(name)) for name in COLUMNS])


def _csv_field(text: str | None) -> str:
    if not text:
        return ""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


class _Clicks(_Source):
    OWN_KINDS = {"conversion": 3, "csv_syntax": 8}

    def record(self) -> dict:
        r = dict(self.rng.choice(self.records))
        if self.rng.random() < 0.4:
            self.to_conversion(r)
        return r

    def to_conversion(self, r: dict) -> None:
        rng = self.rng
        r["event_type"] = "conversion"
        r["conversion_type"] = rng.choice(enum_values("conversion_type"))
        r["conversion_value"] = rng.choice(("", _random_decimal(rng).lstrip("+-"), "12.50"))
        r["currency"] = rng.choice(("", "USD", "eur"))
        r["impression_id"] = rng.choice(("", r["impression_id"]))

    def encode(self, r: dict) -> bytes:
        return csv_row(r).encode("utf-8", "surrogatepass")

    def blank(self, r: dict) -> None:
        field = self.rng.choice(COLUMNS)
        r[field] = "".join(self.rng.choice(WHITESPACE) for _ in range(self.rng.randrange(3)))

    def timestamp(self, r: dict) -> None:
        r["event_time"] = _timestamp_text(self.rng, START + self.rng.randrange(86_400_000))

    def ids(self, r: dict) -> None:
        for field in self.rng.sample(CLICK_IDS, self.rng.randint(1, 3)):
            r[field] = _id_variant(self.rng, r.get(field) or "x")

    def event_type(self, r: dict) -> None:
        r["event_type"] = self.rng.choice(EVENT_TYPES)

    def conversion_type(self, r: dict) -> None:
        self.to_conversion(r)
        r["conversion_type"] = self.rng.choice(CONVERSION_TYPES)

    def value(self, r: dict) -> None:
        self.to_conversion(r)
        pick = self.rng.randrange(3)
        r["conversion_value"] = (
            self.rng.choice(DECIMAL_TEXT)
            if pick == 0
            else self.rng.choice(NUMBER_TEXT)
            if pick == 1
            else _random_decimal(self.rng)
        )

    def currency(self, r: dict) -> None:
        if self.rng.random() < 0.7:
            self.to_conversion(r)
        r["currency"] = self.rng.choice(CURRENCIES)

    def impression(self, r: dict) -> None:
        r["impression_id"] = self.rng.choice(("", " ", "\u3000", r["impression_id"] or "imp-1"))

    def field_mutators(self) -> list[Callable[[dict], None]]:
        return [
            self.blank,
            self.timestamp,
            self.timestamp,
            self.ids,
            self.event_type,
            self.conversion_type,
            self.value,
            self.value,
            self.currency,
            self.impression,
        ]

    def conversion(self) -> bytes:
        r = super().record()
        self.to_conversion(r)
        return self.encode(r)

    def csv_syntax(self) -> bytes:
        rng, r = self.rng, self.record()
        fields = [r.get(c) or "" for c in COLUMNS]
        pick = rng.randrange(18)
        at = rng.randrange(len(fields))
        if pick == 0:  # every field quoted
            text = ",".join('"' + f.replace('"', '""') + '"' for f in fields)
        elif pick == 1:  # a field holding a comma, quotes, CR or LF, quoted properly
            fields[at] += rng.choice((",", '"', "\r\n", "\n", "\r", '","', ',"x",'))
            text = csv_row(dict(zip(COLUMNS, fields, strict=True)))
        elif pick == 2:  # an unterminated quote
            fields[at] = '"' + fields[at]
            text = ",".join(fields)
        elif pick == 3:  # a quote inside an unquoted field
            fields[at] = fields[at][:1] + '"' + fields[at][1:]
            text = ",".join(fields)
        elif pick == 4:  # text after the closing quote
            fields[at] = f'"{fields[at]}"' + rng.choice(("x", " ", '"', "\r", "\t"))
            text = ",".join(fields)
        elif pick == 5:  # too few columns
            text = ",".join(fields[: rng.randrange(len(fields))])
        elif pick == 6:  # too many columns
            text = ",".join(fields + [""] * rng.randint(1, 3))
        elif pick == 7:
            text = csv_row(r) + rng.choice(LINE_ENDS)
        elif pick == 8:  # a line break outside quotes
            fields[at] += rng.choice(("\n", "\r\n", "\r"))
            text = ",".join(fields)
        elif pick == 9:
            text = rng.choice(("", ",", "," * 8, "," * 9, '""', '"', "\r\n", "\n", ",,,\r\n"))
        elif pick == 10:
            text = "\ufeff" + csv_row(r)
        elif pick == 11:
            text = ",".join(COLUMNS)  # the header row as a message
        elif pick == 12:  # empty and quote-only quoted fields
            fields[at] = rng.choice(('""', '""""', '"""x"""', '"a""b"'))
            text = ",".join(fields)
        elif pick == 13:  # spaces around separators
            text = ", ".join(fields) if rng.random() < 0.5 else " ,".join(fields)
        elif pick == 14:  # a quoted field with a line break, then a line ending
            fields[at] = '"' + fields[at] + "\r\n" + fields[at] + '"'
            text = ",".join(fields) + rng.choice(("", "\n", "\r\n"))
        elif pick == 15:  # two records in one message
            text = csv_row(r) + "\r\n" + csv_row(r)
        elif pick == 16:  # quoted last field followed by a line ending
            fields[-1] = '"' + fields[-1] + '"'
            text = ",".join(fields) + rng.choice(("\n", "\r\n", "\r", " \n"))
        else:
            text = ",".join(f + "\x00" if i == at else f for i, f in enumerate(fields))
        return text.encode("utf-8", "surrogatepass")


# --- bid requests: Avro ------------------------------------------------------------------

# fmt: off
BID_STRINGS = (
    ("request_id",), ("exchange",), ("currency",), ("site", "domain"), ("user", "user_id"),
    ("user", "age_range"), ("user", "gender"), ("device", "os"), ("device", "user_agent"),
    ("device", "ip"), ("site", "page_url"),
)
# fmt: on
BID_LISTS = (
    ("user", "segments"),
    ("site", "categories"),
    ("targeting", "campaign_ids"),
    ("targeting", "keywords"),
)
DEVICE_FIELDS = ("device_type", "os", "user_agent", "ip", "country")
LONGS = (0, 1, -1, 1000, -1000, INT64_MAX, INT64_MIN, INT64_MAX - 1, 2**53 + 1, -(2**53) - 1)
_REGISTRY_OURS = b"\x00\x00\x00\x00\x01"  # the registry framing's header for schema id 1
UNKNOWN_SCHEMA_IDS = (0, 2, 7, 255, 256, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x01000000)

# Newer writers that append top-level fields with defaults: plain framing reads our fields
# and leaves the rest.
_EVOLVED_FIELDS = [
    [{"name": "ext_note", "type": "string", "default": ""}],
    [
        {"name": "ext_score", "type": ["null", "double"], "default": None},
        {"name": "ext_tags", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "ext_map", "type": {"type": "map", "values": "long"}, "default": {}},
        {"name": "ext_flag", "type": "boolean", "default": False},
        {"name": "ext_bytes", "type": "bytes", "default": ""},
        {
            "name": "ext_fixed",
            "type": {"type": "fixed", "name": "Ext4", "size": 4},
            "default": "\u0000\u0000\u0000\u0000",
        },
        {
            "name": "ext_rec",
            "type": {"type": "record", "name": "ExtRec", "fields": [{"name": "x", "type": "int"}]},
            "default": {"x": 0},
        },
        {
            "name": "ext_enum",
            "type": {"type": "enum", "name": "ExtEnum", "symbols": ["A", "B"]},
            "default": "A",
        },
        {"name": "ext_float", "type": "float", "default": 0},
    ],
]
_EVOLVED_VALUES = [
    lambda rng: {"ext_note": rng.choice(("", "note", "é" * 50))},
    lambda rng: {
        "ext_score": rng.choice((None, 1.5, -0.0)),
        "ext_tags": ["a", "b"][: rng.randrange(3)],
        "ext_map": {"k": rng.randrange(-5, 5)},
        "ext_flag": rng.random() < 0.5,
        "ext_bytes": rng.randbytes(rng.randrange(5)),
        "ext_fixed": rng.randbytes(4),
        "ext_rec": {"x": rng.randrange(-100, 100)},
        "ext_enum": rng.choice(("A", "B")),
        "ext_float": 0.25,
    },
]


def _evolved_schemas() -> list[dict]:
    schemas = []
    for extra in _EVOLVED_FIELDS:
        avsc = bid_request_avsc()
        avsc["fields"] += extra
        schemas.append(fastavro.parse_schema(avsc))
    return schemas


class _Bids(_Source):
    OWN_KINDS = {"framing": 4, "avro_quirks": 6}
    DAMAGE_WEIGHT = 3
    EVOLVED = _evolved_schemas()

    def record(self) -> dict:
        base = self.rng.choice(self.records)
        r = dict(base)
        for part in ("user", "device", "site", "targeting"):
            r[part] = dict(base[part])
        r["outcome"] = dict(base["outcome"]) if base["outcome"] else None
        return r

    def encode(self, r: dict) -> bytes:
        rng = self.rng
        pick = rng.randrange(12)
        if pick < 4:
            return avro_datum(r)
        if pick < 8:
            return _REGISTRY_OURS + avro_datum(r)
        if pick == 8:
            return struct.pack(">bI", 0, rng.choice(UNKNOWN_SCHEMA_IDS)) + avro_datum(r)
        if pick == 9:  # bytes after the datum: ignored in plain framing, refused in registry
            head = rng.choice((b"", _REGISTRY_OURS))
            return head + avro_datum(r) + rng.randbytes(rng.randint(1, 8))
        which = rng.randrange(len(self.EVOLVED))
        out = BytesIO()
        if pick == 11:  # an evolved datum under our registry id: trailing bytes, refused
            out.write(_REGISTRY_OURS)
        fastavro.schemaless_writer(out, self.EVOLVED[which], {**r, **_EVOLVED_VALUES[which](rng)})
        return out.getvalue()

    def strings(self, r: dict) -> None:
        path = self.rng.choice(BID_STRINGS)
        holder = r if len(path) == 1 else r[path[0]]
        old = holder.get(path[-1]) or "x"
        pick = self.rng.randrange(4)
        holder[path[-1]] = (
            ""
            if pick == 0
            else "".join(self.rng.choice(WHITESPACE) for _ in range(self.rng.randint(1, 3)))
            if pick == 1
            else _id_variant(self.rng, old)
        )

    def timestamp(self, r: dict) -> None:
        pick = self.rng.randrange(3)
        r["event_time"] = (
            self.rng.choice(TIMESTAMP_LONGS)
            if pick == 0
            else self.rng.randrange(INT64_MIN, INT64_MAX)
            if pick == 1
            else self.rng.randrange(-(10**13), MAX_EPOCH_MS + 10**13)
        )

    def longs(self, r: dict) -> None:
        value = self.rng.choice(LONGS) if self.rng.random() < 0.6 else self._long()
        field = self.rng.choice(("bid_floor_micros", "bid_price_micros", "clearing_price_micros"))
        if field == "bid_floor_micros":
            r[field] = value
        else:
            r["outcome"] = r["outcome"] or self._outcome()
            r["outcome"][field] = value

    def _long(self) -> int:
        return self.rng.randrange(-(2 ** self.rng.randrange(1, 64)), 2 ** self.rng.randrange(1, 63))

    def host(self, r: dict) -> None:
        r["site"]["domain"] = _host(self.rng, _domain_of(r["site"]["domain"]))

    def country(self, r: dict) -> None:
        r["device"]["country"] = self.rng.choice((*COUNTRIES, None))

    def currency(self, r: dict) -> None:
        r["currency"] = self.rng.choice(CURRENCIES)

    def device(self, r: dict) -> None:
        r["device"]["device_type"] = self.rng.choice((*DEVICE_TYPES, None, _unicode(self.rng)))

    def lists(self, r: dict) -> None:
        part, name = self.rng.choice(BID_LISTS)
        items = ["a", " b ", "", "  ", "\u3000c\x85", "cmp-001", "😀", "\u200b"]
        r[part][name] = self.rng.sample(items, self.rng.randrange(len(items) + 1))

    def outcome(self, r: dict) -> None:
        r["outcome"] = None if self.rng.random() < 0.3 else self._outcome()

    def _outcome(self) -> dict:
        rng = self.rng
        return {
            "bid_price_micros": rng.choice((None, 0, 1500, -1, rng.randrange(10**9))),
            "won": rng.random() < 0.5,
            "clearing_price_micros": rng.choice((None, 0, 900, -5, INT64_MAX)),
            "campaign_id": rng.choice((None, "", " cmp-1 ", "cmp-2", "\u3000")),
            "creative_id": rng.choice((None, "", "cr-1", "\xa0cr-2\x85")),
        }

    def auction(self, r: dict) -> None:
        r["auction_type"] = self.rng.choice(("FIRST_PRICE", "SECOND_PRICE"))

    def field_mutators(self) -> list[Callable[[dict], None]]:
        return [
            self.strings,
            self.strings,
            self.timestamp,
            self.longs,
            self.host,
            self.host,
            self.country,
            self.currency,
            self.device,
            self.lists,
            self.outcome,
            self.auction,
        ]

    def framing(self) -> bytes:
        return self.encode(self.record())

    def random_bytes(self) -> bytes:
        head = self.rng.choice((b"", b"", b"\x00", _REGISTRY_OURS, b"\x00\x00\x00"))
        return head + _random_bytes(self.rng)

    def avro_quirks(self) -> bytes:
        """A datum written by hand with what fastavro's writer never writes: overlong and
        overflowing varints, odd booleans, bad union and enum indexes, arrays in several or
        negative-count blocks, odd string lengths and bytes that are not UTF-8."""
        r = self.record()
        if self.rng.random() < 0.5:
            self.rng.choice(self.mutators)(r)
        if r["outcome"] is None and self.rng.random() < 0.5:
            r["outcome"] = self._outcome()
        writer = _QuirkyAvro(self.rng, self.rng.sample(_QuirkyAvro.QUIRKS, self.rng.randint(1, 2)))
        datum = writer.bid_request(r)
        return (_REGISTRY_OURS if self.rng.random() < 0.5 else b"") + datum


def _varint(n: int) -> bytes:
    """A long as Avro writes it: zigzag, then 7 bits a byte, low first."""
    z = ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_SIZES = [_varint(n) for n in range(512)]
_NULL, _SOME = b"\x00", b"\x02"  # union branch 0 (null) and 1
_AUCTION = {"FIRST_PRICE": b"\x00", "SECOND_PRICE": b"\x02"}


def _avro_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return (_SIZES[len(data)] if len(data) < 512 else _varint(len(data))) + data


def _avro_optional(text: str | None) -> bytes:
    return _NULL if text is None else _SOME + _avro_string(text)


def _avro_array(items: list[str]) -> bytes:
    if not items:
        return _NULL
    return _varint(len(items)) + b"".join(map(_avro_string, items)) + _NULL


def avro_datum(r: dict) -> bytes:
    """The plain datum of a bid request, byte for byte what encode_bid_request writes (a
    test checks it) at a third of fastavro's cost, which a million messages feel."""
    user, device, site, targeting, outcome = (
        r["user"],
        r["device"],
        r["site"],
        r["targeting"],
        r["outcome"],
    )
    parts = [
        _avro_string(r["request_id"]),
        _varint(r["event_time"]),
        _avro_string(r["exchange"]),
        _AUCTION[r["auction_type"]],
        _varint(r["bid_floor_micros"]),
        _avro_string(r["currency"]),
        _avro_optional(user["user_id"]),
        _avro_array(user["segments"]),
        _avro_optional(user["age_range"]),
        _avro_optional(user["gender"]),
        *(_avro_optional(device[name]) for name in DEVICE_FIELDS),
        _avro_string(site["domain"]),
        _avro_optional(site["page_url"]),
        _avro_array(site["categories"]),
        _avro_array(targeting["campaign_ids"]),
        _avro_array(targeting["keywords"]),
    ]
    if outcome is None:
        parts.append(_NULL)
    else:
        price, clearing = outcome["bid_price_micros"], outcome["clearing_price_micros"]
        parts += [
            _SOME,
            _NULL if price is None else _SOME + _varint(price),
            b"\x01" if outcome["won"] else b"\x00",
            _NULL if clearing is None else _SOME + _varint(clearing),
            _avro_optional(outcome["campaign_id"]),
            _avro_optional(outcome["creative_id"]),
        ]
    return b"".join(parts)


class _QuirkyAvro:
    """Avro binary of our schema, field by field, with chosen deviations."""

    QUIRKS = ("overlong", "overflow", "boolean", "union", "enum", "blocks", "length", "utf8")

    def __init__(self, rng: random.Random, quirks: list[str]):
        self.rng, self.quirks = rng, set(quirks)
        self.out = bytearray()

    def long(self, n: int) -> None:
        if "overlong" not in self.quirks and "overflow" not in self.quirks:
            self.out += _varint(n)
            return
        z = ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF
        groups = []
        while True:
            groups.append(z & 0x7F)
            z >>= 7
            if not z:
                break
        if "overlong" in self.quirks and self.rng.random() < 0.5:
            groups += [0] * self.rng.randint(1, 4)
        if "overflow" in self.quirks and self.rng.random() < 0.2:
            groups += [0] * max(0, 10 - len(groups)) + [self.rng.randrange(128)]
        last = len(groups) - 1
        self.out += bytes(g | (0x80 if i < last else 0) for i, g in enumerate(groups))

    def string(self, text: str) -> None:
        if "utf8" not in self.quirks and "length" not in self.quirks:
            self.long(len(text.encode("utf-8")))
            self.out += text.encode("utf-8")
            return
        data = text.encode("utf-8")
        if "utf8" in self.quirks and self.rng.random() < 0.3:
            data += self.rng.choice(INTERESTING_BYTES[12:])
        length = len(data)
        if "length" in self.quirks and self.rng.random() < 0.15:
            length = self.rng.choice((-1, -2, -length - 1, length + 1, 2**40, 2**62))
        self.long(length)
        self.out += data

    def index(self, n: int, bad: tuple[int, ...]) -> None:
        self.long(self.rng.choice(bad) if bad and self.rng.random() < 0.2 else n)

    def optional(self, value: object, write: Callable[[object], None]) -> None:
        bad = (2, 3, -1, 100) if "union" in self.quirks else ()
        if bad and self.rng.random() < 0.2:
            self.long(self.rng.choice(bad))
        elif value is None:
            self.long(0)
        else:
            self.long(1)
            write(value)

    def array(self, items: list[str]) -> None:
        if "blocks" in self.quirks and items:
            rest = list(items)
            while rest:
                size = self.rng.randint(1, 2)
                block, rest = rest[:size], rest[size:]
                if self.rng.random() < 0.5:
                    self.long(len(block))
                    for item in block:
                        self.string(item)
                else:  # a negative count is followed by the block's size in bytes
                    body = _QuirkyAvro(self.rng, [])
                    for item in block:
                        body.string(item)
                    self.long(-len(block))
                    self.long(len(body.out) + self.rng.choice((0, 0, 1, -1)))
                    self.out += body.out
            self.long(0)
            return
        if items:
            self.long(len(items))
            for item in items:
                self.string(item)
        self.long(0)

    def bid_request(self, r: dict) -> bytes:
        self.string(r["request_id"])
        self.long(r["event_time"])
        self.string(r["exchange"])
        symbol = ("FIRST_PRICE", "SECOND_PRICE").index(r["auction_type"])
        self.index(symbol, (2, 3, -1) if "enum" in self.quirks else ())
        self.long(r["bid_floor_micros"])
        self.string(r["currency"])
        user, device, site, targeting = r["user"], r["device"], r["site"], r["targeting"]
        self.optional(user["user_id"], self.string)
        self.array(user["segments"])
        self.optional(user["age_range"], self.string)
        self.optional(user["gender"], self.string)
        for name in DEVICE_FIELDS:
            self.optional(device[name], self.string)
        self.string(site["domain"])
        self.optional(site["page_url"], self.string)
        self.array(site["categories"])
        self.array(targeting["campaign_ids"])
        self.array(targeting["keywords"])
        self.optional(r["outcome"], self.outcome)
        return bytes(self.out)

    def outcome(self, outcome: dict) -> None:
        self.optional(outcome["bid_price_micros"], self.long)
        won = 1 if outcome["won"] else 0
        if "boolean" in self.quirks:
            won = self.rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF))
        self.out.append(won)
        self.optional(outcome["clearing_price_micros"], self.long)
        self.optional(outcome["campaign_id"], self.string)
        self.optional(outcome["creative_id"], self.string)


# --- the corpus --------------------------------------------------------------------------


def _random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(0, 80))


def _domain_of(website: object) -> str:
    text = website if isinstance(website, str) else "news.example.com"
    return text.split("//")[-1].split("/")[0].split(":")[0].lower().removeprefix("www.") or "a.io"


def simulated(seed: int) -> dict[str, list[bytes]]:
    """Payloads of a simulated minute, every anomaly knob on, per source."""
    anomalies = Anomalies.everything(60).model_copy(update={"bots": 3})
    config = SimulationConfig(
        seed=seed, start_ms=START, duration_s=60, diurnal=False, anomalies=anomalies
    )
    payloads: dict[str, list[bytes]] = {source: [] for source in SOURCES}
    for message in Simulator(config).events():
        payloads[message.source].append(message.payload)
    return payloads


def decoded(payloads: list[bytes], decode: Callable[[bytes], dict]) -> list[dict]:
    records = []
    for payload in payloads:
        try:
            records.append(decode(payload))
        except ValueError:  # the simulator's own malformed messages
            continue
    return records


def _schedule(kinds: dict[str, tuple[int, Callable[[], bytes]]]) -> list[tuple[str, Callable]]:
    """Each kind `weight` times, spread out: every kind within one round."""
    rounds = max(weight for weight, _ in kinds.values())
    return [
        (name, make)
        for turn in range(rounds)
        for name, (weight, make) in kinds.items()
        if turn < weight
    ]


def messages(count: int = 1_000_000, seed: int = 1129) -> Iterator[Message]:
    """`count` messages, sources in turn (impressions, clicks_conversions, bid_requests)."""
    rng = random.Random(seed)
    payloads = simulated(seed)
    makers = {
        source: maker(rng, decoded(payloads[source], decode), payloads[source])
        for source, maker, decode in (
            ("impressions", _Impressions, decode_impression),
            ("clicks_conversions", _Clicks, decode_click_row),
            ("bid_requests", _Bids, decode_bid_request),
        )
    }
    schedules = {source: _schedule(maker.kinds()) for source, maker in makers.items()}
    turns = dict.fromkeys(SOURCES, 0)
    for i in range(count):
        source = SOURCES[i % 3]
        schedule = schedules[source]
        name, make = schedule[turns[source] % len(schedule)]
        turns[source] += 1
        yield Message(source, make(), name)
