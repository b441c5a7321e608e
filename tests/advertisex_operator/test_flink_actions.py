from __future__ import annotations

from advertisex_operator import flink_actions


def test_the_pipeline_is_the_installed_file_even_when_tests_shadow_the_package():
    # tests/ is on sys.path under pytest, so `flink_jobs` may be tests/flink_jobs (a
    # namespace without __file__): the file is found through its module.
    path = flink_actions.PIPELINES["advertisex-pipeline"]
    assert path.name == "pipeline.py" and path.parent.name == "flink_jobs"
    assert (path.parent / "sql" / "validate.sql").is_file()
