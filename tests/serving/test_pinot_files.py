"""schemas/pinot/: every output's Pinot schema and REALTIME table, checked against the
output schemas, the pipeline's topics and each other (no servers needed)."""

from __future__ import annotations

import json

import pytest

from advertisex.contract.schemas import SCHEMA_DIR, output_names, output_schema
from advertisex.contract.topics import output_topics, upsert_outputs
from advertisex.serving.bootstrap import (
    BROKERS_PLACEHOLDER,
    PINOT_DIR,
    TOPIC_PLACEHOLDER,
    BootstrapSettings,
    output_topic_specs,
    pinot_schema,
    pinot_schema_file,
    pinot_table,
    pinot_table_file,
    schema_refusals,
    stream_config,
    table_refusals,
)
from advertisex.serving.pinot_admin import JSON_DECODER, KAFKA_CONSUMER_FACTORY

OUTPUTS = output_names()
# JSON Schema type -> the Pinot data types that hold it without loss.
COMPATIBLE = {
    "string": {"STRING"},
    "integer": {"LONG"},
    "number": {"DOUBLE"},
    "boolean": {"BOOLEAN"},
    "object": {"JSON"},
}
PRIMARY_KEYS = {
    "impressions": ["impression_id"],
    "clicks": ["event_id"],
    "conversions": ["event_id"],
    "bid_requests": ["request_id"],
    "attributed_clicks": ["event_id"],
    "dead_letters": ["dead_letter_id"],
    "attributed_conversions": ["event_id"],
    "campaign_metrics_1m": ["campaign_id", "window_start_ms"],
    "dq_metrics": ["source", "window_start_ms"],
}


def columns(schema: dict) -> dict[str, dict]:
    kinds = ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs")
    found = {}
    for kind in kinds:
        for spec in schema.get(kind, []):
            assert spec["name"] not in found, f"{spec['name']} twice"
            found[spec["name"]] = {**spec, "kind": kind}
    return found


def derived(table: dict) -> dict[str, str]:
    """Columns the table computes at ingestion: name -> transform."""
    transforms = table.get("ingestionConfig", {}).get("transformConfigs", [])
    return {t["columnName"]: t["transformFunction"] for t in transforms}


def test_one_schema_and_one_table_per_output():
    files = {p.name for p in PINOT_DIR.iterdir()}
    assert files == {f"{n}.{kind}.json" for n in OUTPUTS for kind in ("schema", "table")}


@pytest.mark.parametrize("name", OUTPUTS)
def test_schema_has_the_output_fields_with_compatible_types(name):
    props = output_schema(name)["properties"]
    schema, table = pinot_schema_file(name), pinot_table_file(name)
    cols = columns(schema)
    assert schema["schemaName"] == name
    # The same fields, and only columns the table derives from them besides.
    assert set(cols) - set(props) == set(derived(table))
    assert set(props) <= set(cols)
    for field, spec in props.items():
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        kind = next(k for k in kinds if k != "null")
        col = cols[field]
        if kind == "array":
            assert col["singleValueField"] is False, field
            kind = spec["items"]["type"]
        else:
            assert col.get("singleValueField", True), field
        assert col["dataType"] in COMPATIBLE[kind], (field, kind, col["dataType"])


@pytest.mark.parametrize("name", OUTPUTS)
def test_time_columns_are_epoch_milliseconds(name):
    cols = columns(pinot_schema_file(name))
    table = pinot_table_file(name)
    time_column = table["segmentsConfig"]["timeColumnName"]
    assert cols[time_column]["kind"] == "dateTimeFieldSpecs"
    for col in cols.values():
        if col["kind"] == "dateTimeFieldSpecs":
            assert (col["dataType"], col["format"]) == ("LONG", "1:MILLISECONDS:EPOCH")
            assert col["name"].endswith("_ms")
    assert table["segmentsConfig"]["retentionTimeUnit"] == "DAYS"
    assert int(table["segmentsConfig"]["retentionTimeValue"]) >= 30


@pytest.mark.parametrize("name", OUTPUTS)
def test_primary_key_is_what_the_kafka_key_is_made_of(name):
    """Dedup and upsert need the input partitioned by the primary key: the pipeline keys each
    message by x-key, a one-to-one function of these columns."""
    pk = pinot_schema_file(name)["primaryKeyColumns"]
    assert pk == PRIMARY_KEYS[name]
    assert output_schema(name)["x-key"] == " + ':' + ".join(pk)
    assert set(pk) <= set(output_schema(name)["required"])


def test_updated_outputs_upsert_and_the_others_deduplicate():
    from flink_jobs.tables import UPSERT_OUTPUTS

    # x-upsert in the output schemas drives the job's sinks and the Pinot tables alike.
    assert UPSERT_OUTPUTS == upsert_outputs()
    assert set(upsert_outputs()) == {
        "attributed_conversions",
        "campaign_metrics_1m",
        "dq_metrics",
    }
    assert {n for n in OUTPUTS if "upsertConfig" in pinot_table_file(n)} == set(upsert_outputs())
    for name in OUTPUTS:
        table = pinot_table_file(name)
        assert table["routing"] == {"instanceSelectorType": "strictReplicaGroup"}
        if name in UPSERT_OUTPUTS:
            assert "dedupConfig" not in table
            assert table["upsertConfig"]["mode"] == "FULL"
            # No comparison column: the time column decides, and on a tie (every update of
            # a key has the same time) the later message wins.
            assert "comparisonColumn" not in table["upsertConfig"]
        else:
            assert "upsertConfig" not in table
            assert table["dedupConfig"]["dedupEnabled"] is True


@pytest.mark.parametrize("name", OUTPUTS)
def test_stream_reads_committed_json_from_the_start(name):
    table = pinot_table_file(name)
    assert table["tableType"] == "REALTIME" and table["tableName"] == name
    assert "streamConfigs" not in table["tableIndexConfig"]
    stream = stream_config(table)
    assert stream["stream.kafka.topic.name"] == TOPIC_PLACEHOLDER
    assert stream["stream.kafka.broker.list"] == BROKERS_PLACEHOLDER
    assert stream["stream.kafka.consumer.factory.class.name"] == KAFKA_CONSUMER_FACTORY
    assert stream["stream.kafka.decoder.class.name"] == JSON_DECODER
    assert stream["stream.kafka.consumer.type"] == "lowlevel"
    assert stream["stream.kafka.consumer.prop.auto.offset.reset"] == "smallest"
    # 0.11 reads this key; stream.kafka.consumer.prop.isolation.level it ignores.
    assert stream["stream.kafka.isolation.level"] == "read_committed"
    assert int(stream["realtime.segment.flush.threshold.rows"]) > 0
    assert stream["realtime.segment.flush.threshold.time"][-1] in "hm"
    # No port or host of any installation in the files.
    assert "localhost" not in json.dumps(table) and "127.0.0.1" not in json.dumps(table)


@pytest.mark.parametrize("name", OUTPUTS)
def test_indexes_name_existing_columns(name):
    cols = columns(pinot_schema_file(name))
    table = pinot_table_file(name)
    index = table["tableIndexConfig"]
    named = [
        *index.get("sortedColumn", []),
        *index.get("invertedIndexColumns", []),
        *index.get("rangeIndexColumns", []),
        *index.get("jsonIndexColumns", []),
        *index.get("noDictionaryColumns", []),
    ]
    for star in index.get("starTreeIndexConfigs", []):
        named += star["dimensionsSplitOrder"]
        named += [p.split("__")[1] for p in star["functionColumnPairs"] if p != "COUNT__*"]
    assert set(named) <= set(cols)
    assert index["rangeIndexColumns"] == [table["segmentsConfig"]["timeColumnName"]]
    assert len(index.get("sortedColumn", [])) <= 1
    for col in index.get("jsonIndexColumns", []):
        assert cols[col]["dataType"] == "JSON"
    assert index["nullHandlingEnabled"] is True
    if name in upsert_outputs():
        # Pinot refuses a star-tree on an upsert table.
        assert not index.get("starTreeIndexConfigs")


def test_impressions_star_tree_splits_on_the_minute():
    table = pinot_table_file("impressions")
    (star,) = table["tableIndexConfig"]["starTreeIndexConfigs"]
    assert star["dimensionsSplitOrder"][0] == "event_minute_ms"
    assert derived(table) == {"event_minute_ms": "round(event_time_ms, 60000)"}


def test_table_gets_its_prefix_topic_and_brokers():
    settings = BootstrapSettings(
        kafka_bootstrap="k1:9092,k2:9092",
        pinot_controller="http://pinot:9000",
        topic_prefix="run7.",
        table_prefix="run7_",
    )
    for name in OUTPUTS:
        table = pinot_table(name, settings)
        assert table["tableName"] == table["segmentsConfig"]["schemaName"] == f"run7_{name}"
        stream = stream_config(table)
        assert stream["stream.kafka.topic.name"] == "run7." + output_topics()[name]
        assert stream["stream.kafka.broker.list"] == "k1:9092,k2:9092"
        assert "${" not in json.dumps(table)
        assert pinot_schema(name, "run7_")["schemaName"] == f"run7_{name}"
    # The files stay as they are.
    assert stream_config(pinot_table_file("clicks"))["stream.kafka.topic.name"] == "${topic}"


def test_prefixes_are_checked():
    with pytest.raises(ValueError, match="table_prefix"):
        BootstrapSettings(kafka_bootstrap="k:1", pinot_controller="http://p", table_prefix="a-b")
    with pytest.raises(ValueError, match="topic_prefix"):
        BootstrapSettings(kafka_bootstrap="k:1", pinot_controller="http://p", topic_prefix="a b")


def test_output_topics_are_those_the_pipeline_creates():
    from flink_jobs.tables import KafkaOptions, KafkaTables

    theirs = KafkaTables(KafkaOptions(bootstrap="k:1", topic_prefix="p.")).topics()
    assert output_topic_specs("p.", 4) == theirs


def test_refusals_name_what_cannot_change():
    schema = pinot_schema_file("clicks")
    changed = json.loads(json.dumps(schema))
    changed["primaryKeyColumns"] = ["user_id"]
    changed["dimensionFieldSpecs"] = [
        {**c, "dataType": "LONG"} if c["name"] == "campaign_known" else c
        for c in changed["dimensionFieldSpecs"]
        if c["name"] != "impression_id"
    ]
    assert schema_refusals(schema, schema) == []
    assert schema_refusals(changed, schema) == [
        "primary key ['event_id'] -> ['user_id']",
        "columns removed: impression_id",
        "column campaign_known: dataType BOOLEAN -> LONG",
    ]
    table = pinot_table_file("clicks")
    upsert = json.loads(json.dumps(table))
    del upsert["dedupConfig"]
    upsert["upsertConfig"] = {"mode": "FULL"}
    assert table_refusals(table, table) == []
    assert table_refusals(upsert, table) == [
        'dedupConfig {"dedupEnabled": true, "hashFunction": "MURMUR3"} -> null',
        'upsertConfig null -> {"mode": "FULL"}',
    ]


def test_files_are_formatted_json():
    for path in PINOT_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2) + "\n", path.name
    assert PINOT_DIR.parent == SCHEMA_DIR
