"""The report's SQL files: one source in the package, identical copies in docs/queries/,
parameters filled only with values of their kind."""

from pathlib import Path

import pytest

from advertisex.serving import templates
from advertisex.serving.templates import QueryTemplate, TemplateError, sql_literal

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "queries"

EXPECTED = {
    "campaign_performance": ("campaign_metrics_1m", {"from_ms", "to_ms", "limit"}),
    "advertiser_performance": ("campaign_metrics_1m", {"from_ms", "to_ms", "limit"}),
    "campaign_time_series": (
        "campaign_metrics_1m",
        {"campaign_id", "from_ms", "to_ms", "limit"},
    ),
    "top_websites": ("impressions", {"from_ms", "to_ms", "top"}),
    "website_clicks": ("attributed_clicks", {"from_ms", "to_ms", "websites", "limit"}),
}


def test_every_query_is_known_with_its_table_and_parameters():
    assert templates.query_names() == sorted(EXPECTED)
    for name, (table, parameters) in EXPECTED.items():
        query = templates.load(name)
        assert query.table == table
        assert set(query.parameters) == parameters


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_docs_copy_is_identical(name):
    source = templates.QUERY_DIR / f"{name}.sql"
    copy = DOCS / f"{name}.sql"
    assert copy.exists() and copy.read_text() == source.read_text(), (
        f"docs/queries/{name}.sql differs from its source: "
        f"cp advertisex/serving/queries/{name}.sql docs/queries/"
    )


def test_docs_have_no_other_query_files():
    assert sorted(p.stem for p in DOCS.glob("*.sql")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_values_are_documented_and_columns_exist(name):
    """Each file says what it is and carries example values: it runs as it is."""
    query = templates.load(name)
    assert query.text.startswith("-- ")
    assert "example" in query.text
    assert "1795942800000 /* :from_ms */" in query.text  # 2026-11-29T09:00:00Z


def test_render_puts_values_in_place_without_comments():
    sql = templates.load("campaign_time_series").render(
        {"campaign_id": "cmp-0042", "from_ms": 60_000, "to_ms": 180_000, "limit": 2}
    )
    assert "--" not in sql and "/*" not in sql
    assert "campaign_id = 'cmp-0042'" in sql
    assert "window_start_ms >= 60000" in sql
    assert "window_start_ms < 180000" in sql
    assert sql.endswith("LIMIT 2")


def test_render_escapes_quotes_in_strings_and_lists():
    sql = templates.load("website_clicks").render(
        {"from_ms": 0, "to_ms": 1, "websites": ["a.example", "it's.example"], "limit": 2}
    )
    assert "website IN ('a.example', 'it''s.example')" in sql
    sql = templates.load("campaign_time_series").render(
        {"campaign_id": "x' OR '1'='1", "from_ms": 0, "to_ms": 1, "limit": 1}
    )
    assert "campaign_id = 'x'' OR ''1''=''1'" in sql


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1 OR 1=1", "int"),
        (1.5, "int"),
        (True, "int"),
        (None, "int"),
        (5, "str"),
        ("a\nb", "str"),
        ("a\x00", "str"),
        ([], "list"),
        ("abc", "list"),
        ([1], "list"),
    ],
)
def test_values_of_the_wrong_kind_are_refused(value, kind):
    with pytest.raises(TemplateError):
        sql_literal(value, kind)


def test_missing_and_unknown_parameters_are_refused():
    query = templates.load("top_websites")
    with pytest.raises(TemplateError, match="missing"):
        query.render({"from_ms": 0, "to_ms": 1})
    with pytest.raises(TemplateError, match="unknown"):
        query.render({"from_ms": 0, "to_ms": 1, "top": 3, "other": 1})


def test_a_marker_without_a_literal_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "bad.sql").write_text("SELECT a FROM t WHERE b = c /* :x */\n")
    monkeypatch.setattr(templates, "QUERY_DIR", tmp_path)
    templates.load.cache_clear()
    try:
        with pytest.raises(TemplateError, match="marker"):
            templates.load("bad")
    finally:
        templates.load.cache_clear()


def test_parameter_kinds_follow_their_literals():
    query = QueryTemplate("q", "SELECT 1 FROM t WHERE a = 'x' /* :s */ AND b > -3 /* :n */")
    assert query.parameters == {"s": "str", "n": "int"}
    assert query.render({"s": "y", "n": 4}) == "SELECT 1 FROM t WHERE a = 'y' AND b > 4"


def test_render_can_read_another_table_of_the_same_columns():
    query = templates.load("campaign_time_series")
    values = {"campaign_id": "FROM x", "from_ms": 0, "to_ms": 1, "limit": 1}
    sql = query.render(values, {"campaign_metrics_1m": "metrics_test_1"})
    assert "FROM metrics_test_1\n" in sql and "campaign_id = 'FROM x'" in sql
    assert query.render(values, {"impressions": "other"}) == query.render(values)
    with pytest.raises(TemplateError, match="table name"):
        query.render(values, {"campaign_metrics_1m": "a; DROP"})
