"""The job's watermark folded from Flink REST answers (advertisex/monitor/watermarks.py):
Long.MIN_VALUE and missing subtasks ignored, sources and what an interval join feeds
skipped, the minimum over the vertices."""

from datetime import UTC, datetime

import pytest

from advertisex.jobs.flink_rest import FlinkUnreachable, UnknownJob
from advertisex.monitor.watermarks import (
    LONG_MAX,
    LONG_MIN,
    WatermarkReader,
    counted_vertices,
    held_back_vertices,
    job_watermark,
    running_job_id,
    source_vertices,
    subtask_watermarks,
    vertex_watermark,
    watermark_lag_s,
)

SOURCE, CALC, JOIN, SINK, AGG, RANK = (c * 32 for c in "abcdef")
JOB_ID = "0123456789abcdef0123456789abcdef"
WEEK_MS = 7 * 86_400_000
NAMES = {
    SOURCE: "Source: raw_impressions[1] -> Calc[2]",
    CALC: "OverAggregate[4] -> Calc[5] -> PythonCalc[6]",
    JOIN: "IntervalJoin[54] -> Calc[55] -> attributed_clicks[57]: Writer",
    SINK: "dead_letters[27]: Writer",
    AGG: "GroupAggregate[79] -> Calc[80]",
    RANK: "Rank[66] -> Calc[67]",
}
INPUTS = {CALC: [SOURCE], JOIN: [CALC, SOURCE], SINK: [CALC], AGG: [CALC, JOIN], RANK: [AGG]}


def job(names: dict[str, str], inputs: dict[str, list[str]], descriptions=None) -> dict:
    """GET /jobs/{id} as Flink answers it, cut to what is read: the vertices and the plan's
    nodes with their inputs (a source has none)."""
    nodes = []
    for v in names:
        node = {"id": v, "parallelism": 2, "description": (descriptions or names)[v]}
        if v in inputs:
            node["inputs"] = [
                {"num": i, "id": u, "ship_strategy": "HASH"} for i, u in enumerate(inputs[v])
            ]
        nodes.append(node)
    vertices = [{"id": v, "name": name, "parallelism": 2} for v, name in names.items()]
    return {"jid": JOB_ID, "vertices": vertices, "plan": {"jid": JOB_ID, "nodes": nodes}}


JOB = job(NAMES, INPUTS)


def answer(*values) -> list[dict]:
    """A vertex's GET .../watermarks answer: one metric per subtask (values as strings)."""
    return [
        {"id": f"{i}.currentInputWatermark", "value": str(v)}
        for i, v in enumerate(values)
        if v is not None
    ]


def test_long_min_value_means_no_watermark_yet():
    assert subtask_watermarks(answer(LONG_MIN, 1_000)) == [1_000]
    assert vertex_watermark(answer(LONG_MIN, 1_000)) == 1_000
    assert vertex_watermark(answer(LONG_MIN, LONG_MIN)) is None
    assert vertex_watermark(answer("-9223372036854775808")) is None


def test_a_vertex_is_its_slowest_subtask():
    assert vertex_watermark(answer(5_000, 3_000, 4_000)) == 3_000


def test_missing_values_ended_inputs_and_garbage_are_ignored():
    assert vertex_watermark([]) is None
    assert vertex_watermark([{"id": "0.currentInputWatermark"}]) is None
    assert vertex_watermark(answer("n/a", 7_000)) == 7_000
    assert vertex_watermark(answer(LONG_MAX, 7_000)) == 7_000
    assert vertex_watermark(answer(LONG_MAX)) is None


def test_sources_are_the_plan_nodes_without_inputs():
    assert source_vertices(JOB) == {SOURCE}
    assert source_vertices({"vertices": []}) == set()


def test_what_an_interval_join_feeds_is_held_back_not_the_join():
    assert held_back_vertices(JOB) == {AGG, RANK}  # RANK through AGG
    assert counted_vertices(JOB) == [CALC, JOIN, SINK]


def test_an_interval_join_is_found_by_its_plan_description_too():
    names = {**NAMES, JOIN: "Co-Process", AGG: "Aggregate"}
    descriptions = {**names, JOIN: "[54]:IntervalJoin(joinType=[LeftOuterJoin], ...)"}
    assert held_back_vertices(job(names, INPUTS, descriptions)) == {AGG, RANK}
    assert held_back_vertices(job(names, INPUTS)) == set()


def test_the_job_is_its_slowest_vertex_that_counts():
    now = 1_000_000_000
    watermarks = {
        SOURCE: answer(1, 1),  # a source has no input watermark: never read, even if given
        CALC: answer(now - 2_000, now - 3_000),
        JOIN: answer(now - 6_000, LONG_MIN),
        SINK: answer(now - 7_000, now - 7_500),
        # the join's output watermark: its input's minus its window, on purpose
        AGG: answer(now - 6_000 - WEEK_MS),
        RANK: answer(now - 6_000 - WEEK_MS),
    }
    assert job_watermark(JOB, watermarks) == now - 7_500


def test_vertices_without_a_watermark_do_not_hold_the_job_back():
    watermarks = {CALC: answer(9_000, 8_000), JOIN: answer(LONG_MIN, LONG_MIN), SINK: []}
    assert job_watermark(JOB, watermarks) == 8_000


@pytest.mark.parametrize(
    "watermarks",
    [
        {},
        {CALC: [], JOIN: [], SINK: []},
        {CALC: answer(LONG_MIN, LONG_MIN), JOIN: answer(LONG_MIN), SINK: answer(None, LONG_MIN)},
        {SOURCE: answer(5_000, 5_000), AGG: answer(5_000), RANK: answer(5_000)},
    ],
)
def test_no_watermark_at_all_is_none(watermarks):
    assert job_watermark(JOB, watermarks) is None


def test_lag_is_the_clock_minus_the_watermark_and_may_be_negative():
    assert watermark_lag_s(1_000_000, 1_600_000) == 600.0
    assert watermark_lag_s(1_600_500, 1_600_000) == -0.5
    assert watermark_lag_s(None, 1_600_000) is None


def jobs(*rows) -> list[dict]:
    return [
        {"id": i, "name": n, "state": s, "start_time": datetime.fromtimestamp(t, UTC)}
        for i, n, s, t in rows
    ]


def test_running_job_id_is_the_newest_running_job_of_that_name():
    listed = jobs(
        ("new", "pipe", "RUNNING", 300),
        ("other", "other", "RUNNING", 400),
        ("gone", "pipe", "CANCELED", 500),
        ("old", "pipe", "RUNNING", 100),
    )
    assert running_job_id(listed, "pipe") == "new"
    assert running_job_id(listed, "other") == "other"
    assert running_job_id(jobs(("gone", "pipe", "FAILED", 1)), "pipe") is None
    assert running_job_id([], "pipe") is None


class FakeRest:
    """FlinkRest's reading calls over canned answers; records the vertices asked."""

    def __init__(self, watermarks: dict, listed: list[dict], error: Exception | None = None):
        self.watermarks = watermarks
        self.listed = listed
        self.error = error
        self.asked: list[str] = []
        self.details = 0

    def jobs(self):
        if self.error:
            raise self.error
        return self.listed

    def job(self, job_id):
        self.details += 1
        return JOB

    def vertex_watermarks(self, job_id, vertex_id):
        self.asked.append(vertex_id)
        return self.watermarks.get(vertex_id, [])


def test_reader_finds_the_job_by_name_and_asks_only_non_sources():
    rest = FakeRest(
        {
            CALC: answer(900_000),
            JOIN: answer(400_000, LONG_MIN),
            SINK: answer(500_000),
            AGG: answer(1),
        },
        jobs((JOB_ID, "pipe", "RUNNING", 1)),
    )
    reader = WatermarkReader(rest, job_name="pipe")
    reading = reader.read(1_000_000)
    assert (reading.job_id, reading.watermark_ms, reading.error) == (JOB_ID, 400_000, None)
    assert reading.lag_s == 600.0
    assert rest.asked == [CALC, JOIN, SINK]  # neither the source nor what the join feeds
    reader.read(1_000_000)
    assert rest.details == 1  # the plan is read once per job


def test_reader_reports_no_job_and_rest_failures_as_no_lag():
    reader = WatermarkReader(FakeRest({}, jobs((JOB_ID, "pipe", "CANCELED", 1))), job_name="pipe")
    reading = reader.read(5)
    assert (reading.job_id, reading.lag_s, reading.error) == (None, None, "no RUNNING job 'pipe'")

    down = FlinkUnreachable("the Flink REST API at http://x is not reachable")
    reading = WatermarkReader(FakeRest({}, [], down), job_name="pipe").read(5)
    assert (reading.job_id, reading.lag_s, reading.error) == (None, None, str(down))

    class Ended(FakeRest):
        def vertex_watermarks(self, job_id, vertex_id):
            raise UnknownJob(f"no job {job_id}", 404)

    reading = WatermarkReader(Ended({}, []), job_id=JOB_ID).read(5)
    assert (reading.job_id, reading.lag_s, reading.error) == (JOB_ID, None, f"no job {JOB_ID}")


def test_reader_needs_a_name_or_an_id():
    with pytest.raises(ValueError, match="name or its id"):
        WatermarkReader(FakeRest({}, []))
    with pytest.raises(ValueError, match="name or its id"):
        WatermarkReader(FakeRest({}, []), job_name="pipe", job_id=JOB_ID)


def test_reader_asks_again_for_a_job_not_planned_yet():
    class Initializing(FakeRest):
        def job(self, job_id):
            self.details += 1
            return {"jid": job_id, "vertices": [], "plan": {}} if self.details == 1 else JOB

    rest = Initializing({CALC: answer(400_000)}, [])
    reader = WatermarkReader(rest, job_id=JOB_ID)
    assert reader.read(1_000_000).watermark_ms is None
    assert reader.read(1_000_000).watermark_ms == 400_000
    assert reader.read(1_000_000).watermark_ms == 400_000
    assert rest.details == 2
