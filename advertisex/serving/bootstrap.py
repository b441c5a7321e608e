"""`advertisex bootstrap`: the Kafka topics and the Pinot schemas and REALTIME tables, set up
idempotently.

The Pinot configs are files, `schemas/pinot/<output>.schema.json` and
`<output>.table.json` (docs/pinot.md says why each setting is what it is). What depends on
the installation is filled in here: the table prefix (isolated runs), the topic with its
prefix (`${topic}` in the file) and the Kafka brokers (`${kafka_bootstrap}`).

Every object is compared with what the servers hold: missing ones are created, differing
ones updated, and equal ones left alone and reported `unchanged`. A change Pinot cannot
apply to a table that holds data (its primary key, dedup or upsert, its topic, its time
column, a column's type) is refused with a message, unless the table is named in
`recreate`: then it is dropped and created anew, and re-reads its topic from the start.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, Field

from advertisex.contract.schemas import SCHEMA_DIR, output_names
from advertisex.contract.topics import output_topics, upsert_outputs
from advertisex.ingest.topics import raw_topic_specs
from advertisex.kafka_admin import TopicSpec, reconcile_topics
from advertisex.serving.pinot_admin import PinotAdmin, PinotError

PINOT_DIR = SCHEMA_DIR / "pinot"
TOPIC_PLACEHOLDER = "${topic}"
BROKERS_PLACEHOLDER = "${kafka_bootstrap}"


class BootstrapSettings(BaseModel):
    kafka_bootstrap: str = Field(description="Kafka brokers, host:port[,host:port]")
    pinot_controller: str = Field(description="the Pinot controller's URL")
    topic_prefix: str = Field("", pattern=r"^[A-Za-z0-9._-]*$", description="before topics")
    table_prefix: str = Field("", pattern=r"^[A-Za-z0-9_]*$", description="before tables")
    partitions: int = Field(4, ge=1, description="partitions of new raw and output topics")


@dataclass(frozen=True)
class Outcome:
    kind: str  # topic | schema | table
    name: str
    status: str  # created | unchanged | updated | recreated | refused
    detail: str = ""


# The files


@cache
def _load(name: str) -> dict:
    return json.loads((PINOT_DIR / name).read_text(encoding="utf-8"))


def pinot_schema_file(output: str) -> dict:
    """schemas/pinot/<output>.schema.json as a dict (a copy)."""
    return copy.deepcopy(_load(f"{output}.schema.json"))


def pinot_table_file(output: str) -> dict:
    """schemas/pinot/<output>.table.json as a dict (a copy), placeholders and all."""
    return copy.deepcopy(_load(f"{output}.table.json"))


def stream_config(table: dict) -> dict:
    """The table's one Kafka stream config (a reference into the dict)."""
    (stream,) = table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"]
    return stream


def pinot_schema(output: str, table_prefix: str = "") -> dict:
    schema = pinot_schema_file(output)
    schema["schemaName"] = table_prefix + output
    return schema


def pinot_table(output: str, settings: BootstrapSettings) -> dict:
    """The table config to send: the file with the table's name, its topic and brokers."""
    table = pinot_table_file(output)
    table["tableName"] = table["segmentsConfig"]["schemaName"] = settings.table_prefix + output
    stream = stream_config(table)
    filled = {
        TOPIC_PLACEHOLDER: settings.topic_prefix + output_topics()[output],
        BROKERS_PLACEHOLDER: settings.kafka_bootstrap,
    }
    for key, value in stream.items():
        if value in filled:
            stream[key] = filled[value]
    left = re.findall(r"\$\{\w+\}", json.dumps(table))
    if left:
        raise ValueError(f"{output}.table.json: placeholders not filled: {', '.join(left)}")
    return table


def output_topic_specs(topic_prefix: str = "", partitions: int = 4) -> list[TopicSpec]:
    """The output topics as the pipeline's driver creates them (flink_jobs.tables): updated
    outputs compacted, so the latest row of each key stays."""
    upserts = upsert_outputs()
    return [
        TopicSpec(
            topic_prefix + topic,
            partitions,
            {"cleanup.policy": "compact"} if name in upserts else {},
        )
        for name, topic in output_topics().items()
    ]


def topic_specs(settings: BootstrapSettings) -> list[TopicSpec]:
    """Raw topics, the campaign dimension and the outputs."""
    return raw_topic_specs(settings.partitions, settings.topic_prefix) + output_topic_specs(
        settings.topic_prefix, settings.partitions
    )


# Comparing


def _differences(want, have, path: str = "") -> list[str]:
    """Paths where want and have differ: dicts key by key, anything else as a whole."""
    if isinstance(want, dict) and isinstance(have, dict):
        found = []
        for key in sorted(want.keys() | have.keys()):
            found += _differences(want.get(key), have.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if want == have else [path]


def _columns(schema: dict) -> dict[str, dict]:
    """Column name -> its field spec with its kind, defaults left out."""
    columns = {}
    for kind in ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs"):
        for spec in schema.get(kind) or []:
            spec = {k: v for k, v in spec.items() if (k, v) != ("singleValueField", True)}
            columns[spec["name"]] = {"kind": kind.removesuffix("FieldSpecs"), **spec}
    return columns


def _normal_schema(schema: dict) -> dict:
    return {
        "schemaName": schema["schemaName"],
        "primaryKeyColumns": schema.get("primaryKeyColumns") or [],
        "columns": _columns(schema),
    }


def schema_refusals(want: dict, have: dict) -> list[str]:
    """What a schema change would do that a table with data cannot take."""
    found = []
    want_pk, have_pk = want.get("primaryKeyColumns") or [], have.get("primaryKeyColumns") or []
    if want_pk != have_pk:
        found.append(f"primary key {have_pk} -> {want_pk}")
    want_cols, have_cols = _columns(want), _columns(have)
    removed = sorted(have_cols.keys() - want_cols.keys())
    if removed:
        found.append(f"columns removed: {', '.join(removed)}")
    for name in sorted(want_cols.keys() & have_cols.keys()):
        for key in ("dataType", "singleValueField"):
            old, new = have_cols[name].get(key, True), want_cols[name].get(key, True)
            if old != new:
                found.append(f"column {name}: {key} {old} -> {new}")
    return found


def table_refusals(want: dict, have: dict) -> list[str]:
    """What a table change would do that Pinot cannot apply to a table with data."""
    found = []
    for key in ("dedupConfig", "upsertConfig"):
        if want.get(key) != have.get(key):
            found.append(f"{key} {json.dumps(have.get(key))} -> {json.dumps(want.get(key))}")
    old_time = have["segmentsConfig"].get("timeColumnName")
    new_time = want["segmentsConfig"].get("timeColumnName")
    if old_time != new_time:
        found.append(f"time column {old_time} -> {new_time}")
    old_topic = _topic_of(have)
    new_topic = _topic_of(want)
    if old_topic != new_topic:
        found.append(f"topic {old_topic} -> {new_topic} (offsets belong to the old topic)")
    return found


def _topic_of(table: dict) -> str | None:
    ingestion = table.get("ingestionConfig") or {}
    maps = (ingestion.get("streamIngestionConfig") or {}).get("streamConfigMaps")
    stream = maps[0] if maps else (table.get("tableIndexConfig") or {}).get("streamConfigs", {})
    return stream.get("stream.kafka.topic.name")


# Reconciling


def bootstrap(
    settings: BootstrapSettings,
    outputs: Iterable[str] | None = None,
    recreate: Iterable[str] = (),
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Topics first (a REALTIME table needs its topic), then per output its schema and
    table. outputs limits the Pinot tables and output topics (default: all nine); recreate
    names outputs whose table may be dropped and created anew when a change needs it.

    Raises KafkaUnreachable or PinotUnreachable when a server does not answer."""
    names = list(output_names() if outputs is None else outputs)
    unknown = sorted(set(names) - set(output_names()) | set(recreate) - set(output_names()))
    if unknown:
        raise ValueError(f"no output named {', '.join(unknown)}; known: {output_names()}")
    report = on_outcome or (lambda outcome: None)
    outcomes: list[Outcome] = []

    def add(outcome: Outcome) -> None:
        outcomes.append(outcome)
        report(outcome)

    wanted_topics = {settings.topic_prefix + output_topics()[n] for n in names}
    specs = raw_topic_specs(settings.partitions, settings.topic_prefix) + [
        spec
        for spec in output_topic_specs(settings.topic_prefix, settings.partitions)
        if spec.name in wanted_topics
    ]
    refused_topics = set()
    for result in reconcile_topics(settings.kafka_bootstrap, specs):
        add(Outcome("topic", result.spec.name, result.status, result.detail))
        if result.status == "refused":
            refused_topics.add(result.spec.name)

    with PinotAdmin(settings.pinot_controller) as admin:
        for name in names:
            topic = settings.topic_prefix + output_topics()[name]
            if topic in refused_topics:
                why = f"not touched: its topic {topic} was refused (above)"
                add(Outcome("table", settings.table_prefix + name, "refused", why))
                continue
            for outcome in _reconcile_output(admin, name, settings, name in set(recreate)):
                add(outcome)
    return outcomes


def _reconcile_output(
    admin: PinotAdmin, output: str, settings: BootstrapSettings, may_recreate: bool
) -> list[Outcome]:
    schema = pinot_schema(output, settings.table_prefix)
    table = pinot_table(output, settings)
    name = table["tableName"]
    have_schema = admin.get_schema(name)
    have_table = admin.get_table(name)
    if have_table is not None:
        refusals = (schema_refusals(schema, have_schema) if have_schema else []) + (
            table_refusals(table, have_table)
        )
        if refusals and not may_recreate:
            return [Outcome("table", name, "refused", _refusal(output, name, refusals, settings))]
        if refusals:
            admin.drop_table(name)
            admin.delete_schema(name)
            admin.add_schema(schema)
            warning = _ignored_keys(admin.validate_table(table)[1])
            admin.add_table(table)
            detail = f"dropped and created anew ({'; '.join(refusals)}){warning}"
            return [
                Outcome("schema", name, "recreated"),
                Outcome("table", name, "recreated", detail),
            ]

    if have_schema is None:
        admin.add_schema(schema)
        schema_outcome = Outcome("schema", name, "created")
    else:
        changed = _differences(_normal_schema(schema), _normal_schema(have_schema))
        if not changed:
            schema_outcome = Outcome("schema", name, "unchanged")
        else:
            try:
                admin.update_schema(schema, reload=have_table is not None)
            except PinotError as error:
                why = [f"Pinot refused the schema change ({', '.join(changed)}): {error}"]
                return [Outcome("schema", name, "refused", _refusal(output, name, why, settings))]
            schema_outcome = Outcome("schema", name, "updated", ", ".join(changed))

    canonical, unknown = admin.validate_table(table)
    warning = _ignored_keys(unknown)
    if have_table is None:
        admin.add_table(table)
        return [schema_outcome, Outcome("table", name, "created", warning.lstrip("; "))]
    changed = _differences(canonical, have_table)
    if not changed:
        return [schema_outcome, Outcome("table", name, "unchanged", warning.lstrip("; "))]
    try:
        admin.update_table(table)
    except PinotError as error:
        why = [f"Pinot refused the change ({', '.join(changed)}): {error}"]
        return [
            schema_outcome,
            Outcome("table", name, "refused", _refusal(output, name, why, settings)),
        ]
    # Completed segments get new indexes only when they are reloaded.
    admin.reload_table(name)
    return [schema_outcome, Outcome("table", name, "updated", ", ".join(changed) + warning)]


def _ignored_keys(unknown: dict) -> str:
    """Keys Pinot does not know (a typo, or a key of a newer Pinot), as a warning."""
    return f"; Pinot ignores {', '.join(sorted(unknown))}" if unknown else ""


def _refusal(output: str, table: str, why: list[str], settings: BootstrapSettings) -> str:
    prefixes = "".join(
        f" --{flag} {value}"
        for flag, value in (
            ("topic-prefix", settings.topic_prefix),
            ("table-prefix", settings.table_prefix),
        )
        if value
    )
    return (
        f"table {table} cannot be changed in place: {'; '.join(why)}. The table was not changed. "
        f"To apply it, drop the table and create it anew with `advertisex bootstrap"
        f"{prefixes} --recreate {output}`: its rows are lost, and it reads topic "
        f"{settings.topic_prefix + output_topics()[output]} again from the earliest offset "
        "Kafka still keeps."
    )
