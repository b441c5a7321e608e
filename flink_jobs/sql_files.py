"""Read the pipeline's .sql files: statements end with a semicolon at the end of a line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Template

SQL_DIR = Path(__file__).parent / "sql"


def statements(name: str, parameters: Mapping[str, str] | None = None) -> list[str]:
    """The statements of sql/<name>.sql, comments dropped, with ${parameter}s replaced by
    the given values (literals SQL cannot take from SET, such as an interval join's
    bounds); an unknown parameter is an error."""
    text = Template((SQL_DIR / f"{name}.sql").read_text()).substitute(parameters or {})
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    parts, current = [], []
    for line in lines:
        current.append(line)
        if line.rstrip().endswith(";"):
            parts.append("\n".join(current).strip().rstrip(";").strip())
            current = []
    if "".join(current).strip():
        raise ValueError(f"{name}.sql ends with a statement that has no semicolon")
    return [p for p in parts if p]
