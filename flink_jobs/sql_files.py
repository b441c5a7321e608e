"""Read the pipeline's .sql files: statements end with a semicolon at the end of a line."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


def statements(name: str) -> list[str]:
    """The statements of sql/<name>.sql, comments dropped."""
    text = (SQL_DIR / f"{name}.sql").read_text()
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
