"""The report's SQL, kept as files that run as they are in Pinot's query console.

A parameter is a literal followed by a marker comment naming it:
`window_start_ms >= 1795942800000 /* :from_ms */`. The literal is an example value, so
the file is a working query; `render` puts the real value in its place. The kind of
literal fixes the kind of value: a number takes an int, a quoted string a str (its quotes
doubled), a parenthesized list of strings a non-empty sequence of str. `docs/queries/`
holds identical copies for readers (a test keeps them identical).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

QUERY_DIR = Path(__file__).parent / "queries"

_STRING = r"'(?:[^']|'')*'"
_PARAMETER = re.compile(
    rf"(?P<literal>-?\d+|{_STRING}|\(\s*{_STRING}(?:\s*,\s*{_STRING})*\s*\))"
    r"\s*/\*\s*:(?P<name>[a-z_][a-z0-9_]*)\s*\*/"
)
_MARKER = re.compile(r"/\*\s*:")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TABLE = re.compile(r"\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


class TemplateError(ValueError):
    """A value does not fit its parameter, or a parameter has no value."""


@dataclass(frozen=True)
class QueryTemplate:
    name: str
    text: str

    @property
    def body(self) -> str:
        """The query without its comment lines."""
        return "\n".join(
            line for line in self.text.splitlines() if not line.lstrip().startswith("--")
        ).strip()

    @property
    def parameters(self) -> dict[str, str]:
        """Each parameter's name and kind: 'int', 'str' or 'list'."""
        return {m["name"]: _kind(m["literal"]) for m in _PARAMETER.finditer(self.body)}

    @property
    def table(self) -> str:
        """The one table the query reads."""
        return _TABLE.search(self.body).group(1)

    def render(self, values: Mapping[str, object], tables: Mapping[str, str] | None = None) -> str:
        """The query with every parameter's value in place, without comments; `tables`
        maps a table name to the name to read instead."""
        missing = set(self.parameters) - set(values)
        unknown = set(values) - set(self.parameters)
        if missing or unknown:
            raise TemplateError(
                f"{self.name}: values missing for {sorted(missing)}, "
                f"unknown parameters {sorted(unknown)}"
            )

        def replace(match: re.Match) -> str:
            name = match["name"]
            return sql_literal(values[name], _kind(match["literal"]), f"{self.name}:{name}")

        actual = (tables or {}).get(self.table, self.table)
        if not _IDENTIFIER.fullmatch(actual):
            raise TemplateError(f"{self.name}: {actual!r} is not a table name")
        # The table first: a string value that holds "FROM" must stay as it is.
        body = _TABLE.sub(f"FROM {actual}", self.body, count=1)
        return _PARAMETER.sub(replace, body)


def _kind(literal: str) -> str:
    return {"'": "str", "(": "list"}.get(literal[0], "int")


def sql_literal(value: object, kind: str, what: str = "value") -> str:
    """value as a SQL literal of the given kind; anything that does not fit is refused."""
    if kind == "int":
        if type(value) is not int:
            raise TemplateError(f"{what}: expected an int, got {value!r}")
        return str(value)
    if kind == "str":
        if not isinstance(value, str):
            raise TemplateError(f"{what}: expected a string, got {value!r}")
        if any(ord(c) < 32 for c in value):
            raise TemplateError(f"{what}: control characters in {value!r}")
        return "'" + value.replace("'", "''") + "'"
    if kind == "list":
        if isinstance(value, str) or not isinstance(value, Sequence) or not value:
            raise TemplateError(f"{what}: expected a non-empty list of strings, got {value!r}")
        return "(" + ", ".join(sql_literal(v, "str", what) for v in value) + ")"
    raise TemplateError(f"{what}: unknown parameter kind {kind!r}")


@cache
def load(name: str) -> QueryTemplate:
    """The query `advertisex/serving/queries/<name>.sql`."""
    path = QUERY_DIR / f"{name}.sql"
    text = path.read_text()
    template = QueryTemplate(name, text)
    if len(_MARKER.findall(template.body)) != len(_PARAMETER.findall(template.body)):
        raise TemplateError(f"{path}: a /* :name */ marker does not follow a literal")
    return template


def is_identifier(text: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(text))


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERY_DIR.glob("*.sql"))
