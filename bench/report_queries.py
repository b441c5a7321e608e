"""Report queries on Pinot: p50/p95 latency with the tables' indexes beside the same queries as
a full scan, the ingestion rate, and the ingestion lag from a produce to a queryable row (issue 5).

Run on a running stack (the addresses come from the same ADVERTISEX_* variables as
`advertisex stack up`; 10 million rows want a Pinot server heap of about 6 GB, below):

    ADVERTISEX_PINOT_SERVER_HEAP=6g advertisex stack up kafka pinot
    python bench/report_queries.py [--rows 10000000] [--runs 30] [--json figures.json]

One run, one table of queries, one of ingestion:

1. Generate `--rows` rows of the `impressions` output (40 campaigns of 12 advertisers from
   the simulator's market with Zipf popularity, Zipf websites and users, a daily cycle over
   `--days`, in event-time order as a stream brings them), the `attributed_clicks` they
   lead to (each campaign's CTR), and the `campaign_metrics_1m` rows they add up to (per
   campaign and minute: impressions and spend exact, clicks from the attributed clicks,
   conversions and bids drawn around them). Produced with confluent-kafka, keyed like the
   pipeline (`x-key`; murmur2, the Java producer's partitioner), into topics under a prefix
   of the run's own, created beforehand with the pipeline's topic specs.
2. `bootstrap()` creates the Pinot tables of those three outputs with the repository's
   configs (indexes, star-tree, dedup, upsert) under a table prefix of the run; the bench
   waits (COUNT(*) every second) until they hold every row: the ingestion rate from a
   backlog. Then the same three tables without their index settings (sorted column,
   inverted, range and star-tree indexes removed; dedup and upsert kept, they decide which
   rows count) under a second prefix, reading the same topics: the Pinot full scan.
3. DuckDB (in process, a temporary database file) holds the same rows, loaded from the same
   generated columns (the campaign, website, creative and device strings from the same
   pools), in event-time order: a column store without indexes, skipping row groups by
   their min-max zone maps.
4. Each report query (`advertisex/serving/queries/*.sql`, rendered by the report's loader
   with the run's table prefix) over each `--ranges` range: `--warmup` runs, then `--runs`
   timed runs, the three engines interleaved run by run so that load on the machine hits
   them alike. Pinot's latency is client-side (an HTTP POST /query/sql as pinotdb sends
   it, the answer read) with the broker's timeUsedMs beside it; the answers of the three
   are compared. One more row runs top_websites on `event_minute_ms`, the column the
   star-tree is split on (the report's file filters `event_time_ms`).
   All of it twice: "as ingested", the newest rows of each partition still in its consuming
   segment (in memory, only inverted indexes, as in production between two flushes), and
   "committed", after POST /tables/<t>/forceCommit has built those segments (every index,
   the star-tree), as a table looks right after a flush.
5. Ingestion lag, after everything else: `--lag-rate` marker impressions a second for
   `--lag-seconds`, each stamped with its send time, while the indexed impressions table
   is polled every `--lag-poll` seconds for them. A marker's lag is the midpoint between
   the last poll that did not see it (or its send) and the end of the first that did.
   The markers are not transactional, so a read_committed reader sees them once the broker
   has them; the pipeline's transactional sinks add up to one checkpoint interval.

The tables, topics and the DuckDB file are deleted at the end unless --keep (10 million
deduplicated keys hold about a gigabyte of the server's heap per table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advertisex.contract.topics import output_topics
from advertisex.ingest.model import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    DEVICE_TYPES,
    DEVICE_WEIGHTS,
    USER_AGENTS,
    build_market,
)
from advertisex.kafka_admin import reconcile_topics
from advertisex.serving import templates
from advertisex.serving.bootstrap import (
    BootstrapSettings,
    bootstrap,
    output_topic_specs,
    pinot_schema,
    pinot_table,
)
from advertisex.serving.pinot_admin import PinotAdmin, PinotError
from advertisex.serving.report import pinot_string, prefixed_tables
from advertisex.stack import supervisor
from advertisex.stack.config import StackConfig
from advertisex.stack.versions import pinned_versions

try:
    import duckdb
except ImportError:  # pip install -e '.[bench]'
    duckdb = None

MINUTE_MS = 60_000
OUTPUTS = ("impressions", "attributed_clicks", "campaign_metrics_1m")
UNKNOWN_CAMPAIGN = "cmp-9999"  # not in the campaign dimension: enrichment null, known false
UNKNOWN_SHARE = 0.002
NULL_SHARE = {"bid_request_id": 0.02, "cost_micros": 0.01, "device_type": 0.005, "country": 0.005}
CHUNK_MINUTES = 60
ENGINES = ("indexed", "scan", "duckdb")
# Keys of tableIndexConfig that make an index (what the full-scan tables go without).
INDEX_KEYS = re.compile(
    r"^(sortedColumn|\w*IndexColumns|\w*IndexConfigs|bloomFilter\w*|enableDefaultStarTree|"
    r"enableDynamicStarTreeCreation|rangeIndexVersion|createInvertedIndexDuringSegmentGeneration)$"
)

err = Console(stderr=True)


# --- the data ---------------------------------------------------------------------------------


def _cumulative(weights) -> np.ndarray:
    return np.cumsum(np.asarray(weights, dtype=np.float64))


def _draw(rng: np.random.Generator, cumulative: np.ndarray, n: int) -> np.ndarray:
    """n indexes drawn with the weights whose running sum is `cumulative`."""
    return np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")


def _js(value) -> str:
    return json.dumps(value)


class Pools:
    """Everything a row is drawn from, once: ids and their JSON fragments, and weights."""

    def __init__(self, seed: int, websites: int, users: int):
        rng = random.Random(seed)
        market = build_market(rng, websites=websites)
        camps = list(market.campaigns)
        order = list(range(len(camps)))
        rng.shuffle(order)  # popularity ranks independent of ids and advertisers
        weight = [0.0] * len(camps)
        for rank, i in enumerate(order, start=1):
            weight[i] = 1.0 / rank**0.8
        known = sum(weight)
        weight.append(known * UNKNOWN_SHARE / (1 - UNKNOWN_SHARE))
        self.campaign_cum = _cumulative(weight)
        self.campaign_ids = [c.campaign_id for c in camps] + [UNKNOWN_CAMPAIGN]
        self.top_campaign = camps[order[0]].campaign_id
        self.campaign_rows = [
            {
                "c": i,
                "campaign_id": c.campaign_id,
                "advertiser_id": c.advertiser_id,
                "campaign_name": c.name,
                "campaign_status": c.status,
                "campaign_daily_budget_micros": c.daily_budget_micros,
                "campaign_known": True,
            }
            for i, c in enumerate(camps)
        ] + [
            {
                "c": len(camps),
                "campaign_id": UNKNOWN_CAMPAIGN,
                "advertiser_id": None,
                "campaign_name": None,
                "campaign_status": None,
                "campaign_daily_budget_micros": None,
                "campaign_known": False,
            }
        ]
        # The enrichment fields and campaign_id of each campaign, as JSON members.
        self.campaign_json = [
            ",".join(f'"{k}":{_js(v)}' for k, v in row.items() if k != "c")
            for row in self.campaign_rows
        ]
        self.cpi_micros = np.array([c.base_cpm_micros / 1000 for c in camps] + [2000.0])
        self.ctr = np.array([c.ctr for c in camps] + [0.01])
        self.cvr = np.array([c.cvr for c in camps] + [0.05])
        creatives = [c.creatives for c in camps] + [("cr-9999-0",)]
        self.creative_ids = [cr for group in creatives for cr in group]
        self.creative_start = np.cumsum([0] + [len(g) for g in creatives[:-1]])
        self.creative_count = np.array([len(g) for g in creatives])
        self.websites = [site.domain for site in market.websites]
        self.website_cum = np.asarray(market.website_weights)
        self.user_cum = _cumulative(1.0 / np.arange(1, users + 1) ** 0.9)
        null_device = NULL_SHARE["device_type"]
        self.device_cum = _cumulative(
            [w / sum(DEVICE_WEIGHTS) * (1 - null_device) for w in DEVICE_WEIGHTS] + [null_device]
        )
        self.devices = [*DEVICE_TYPES, None]
        self.user_agents = [USER_AGENTS[d] for d in DEVICE_TYPES] + [None]
        # device_type with the user agent it implies (impressions), and alone (clicks).
        self.device_json = [
            f'"device_type":{_js(d)},"user_agent":{_js(ua)}'
            for d, ua in zip(self.devices, self.user_agents, strict=True)
        ]
        self.device_only_json = [f'"device_type":{_js(d)}' for d in self.devices]
        null_country = NULL_SHARE["country"]
        self.country_cum = _cumulative(
            [w / sum(COUNTRY_WEIGHTS) * (1 - null_country) for w in COUNTRY_WEIGHTS]
            + [null_country]
        )
        self.countries = [*COUNTRIES, None]
        self.country_json = [_js(c) for c in self.countries]


@dataclass
class Span:
    start_ms: int
    minutes: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.minutes * MINUTE_MS


class Metrics:
    """campaign_metrics_1m, summed per (minute, campaign) over the generated events."""

    def __init__(self, minutes: int, campaigns: int):
        self.shape = (minutes, campaigns)
        size = minutes * campaigns
        self.impressions = np.zeros(size, dtype=np.int64)
        self.spend = np.zeros(size, dtype=np.int64)
        self.attributed_clicks = np.zeros(size, dtype=np.int64)

    def add(self, target: np.ndarray, minute: np.ndarray, campaign: np.ndarray, weights=None):
        cells = minute.astype(np.int64) * self.shape[1] + campaign
        target += np.bincount(cells, weights=weights, minlength=target.size).astype(np.int64)

    def rows(self, pools: Pools, span: Span, rng: np.random.Generator) -> list[dict]:
        """One row per campaign and minute with any impression or click, as the job
        writes it: the other counts drawn around the exact ones."""
        impressions, spend = self.impressions, self.spend
        attributed = self.attributed_clicks
        cell = np.nonzero((impressions > 0) | (attributed > 0))[0]
        minute, campaign = np.divmod(cell, self.shape[1])
        imps, attr = impressions[cell], attributed[cell]
        unattributed = rng.binomial(attr + 1, 0.04)
        clicks = attr + unattributed
        conversions = rng.binomial(clicks, pools.cvr[campaign])
        unattr_conv = rng.binomial(conversions, 0.05)
        value = np.round(conversions * rng.uniform(20, 80, cell.size), 2)
        bids = imps + rng.poisson(imps * 1.5)
        out = []
        for k in range(cell.size):
            c = int(campaign[k])
            start = span.start_ms + int(minute[k]) * MINUTE_MS
            i, cl, co, b = int(imps[k]), int(clicks[k]), int(conversions[k]), int(bids[k])
            info = pools.campaign_rows[c]
            out.append(
                {
                    "campaign_id": info["campaign_id"],
                    "window_start_ms": start,
                    "window_end_ms": start + MINUTE_MS,
                    "impressions": i,
                    "clicks": cl,
                    "attributed_clicks": int(attr[k]),
                    "unattributed_clicks": int(unattributed[k]),
                    "conversions": co,
                    "unattributed_conversions": int(unattr_conv[k]),
                    "conversion_value": float(value[k]),
                    "spend_micros": int(spend[cell[k]]),
                    "bids": b,
                    "wins": i,
                    "ctr": cl / i if i else None,
                    "cvr": co / cl if cl else None,
                    "win_rate": i / b if b else None,
                    **{k2: v for k2, v in info.items() if k2 not in ("c", "campaign_id")},
                }
            )
        return out


@dataclass
class Chunk:
    """An hour of events as columns (ints, pool indexes) and as Kafka messages."""

    impressions: dict[str, np.ndarray]
    clicks: dict[str, np.ndarray]
    impression_messages: list[tuple[str, str]]
    click_messages: list[tuple[str, str]]


def generate(pools: Pools, span: Span, rows: int, seed: int, metrics: Metrics):
    """Chunks of an hour of traffic, in event-time order; `rows` impressions in all."""
    rng = np.random.default_rng(seed)
    minute_of_day = (span.start_ms // MINUTE_MS + np.arange(span.minutes)) % 1440
    daily = 1 + 0.6 * np.sin(2 * np.pi * (minute_of_day / 60 - 9) / 24)  # peak 15:00 UTC
    per_minute = rng.multinomial(rows, daily / daily.sum())
    next_id = next_click = 0
    for first in range(0, span.minutes, CHUNK_MINUTES):
        counts = per_minute[first : first + CHUNK_MINUTES]
        n = int(counts.sum())
        minute = np.repeat(np.arange(first, first + counts.size), counts)
        t = span.start_ms + minute * MINUTE_MS + rng.integers(0, MINUTE_MS, n)
        order = np.argsort(t, kind="stable")
        t, minute = t[order], minute[order]
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        camp = _draw(rng, pools.campaign_cum, n)
        creative = pools.creative_start[camp] + rng.integers(0, 12, n) % pools.creative_count[camp]
        site = _draw(rng, pools.website_cum, n)
        user = _draw(rng, pools.user_cum, n)
        device = _draw(rng, pools.device_cum, n)
        country = _draw(rng, pools.country_cum, n)
        cost = (pools.cpi_micros[camp] * rng.uniform(0.6, 1.4, n)).astype(np.int64)
        cost[rng.random(n) < NULL_SHARE["cost_micros"]] = -1
        bid = rng.integers(0, 2**62, n, dtype=np.int64)
        bid[rng.random(n) < NULL_SHARE["bid_request_id"]] = -1
        metrics.add(metrics.impressions, minute, camp)
        metrics.add(metrics.spend, minute, camp, np.maximum(cost, 0))
        imp = {
            "i": ids,
            "t": t,
            "u": user,
            "k": creative,
            "c": camp,
            "s": site,
            "r": bid,
            "cost": cost,
            "d": device,
            "y": country,
        }

        clicked = np.nonzero(rng.random(n) < pools.ctr[camp])[0]
        delay = np.maximum(1000, rng.exponential(90_000, clicked.size)).astype(np.int64)
        click_t = t[clicked] + delay
        clicked, click_t = clicked[click_t < span.end_ms], click_t[click_t < span.end_ms]
        clk = {key: column[clicked] for key, column in imp.items()}
        clk["j"] = np.arange(next_click, next_click + clicked.size, dtype=np.int64)
        clk["ct"] = click_t
        next_click += clicked.size
        metrics.add(metrics.attributed_clicks, (click_t - span.start_ms) // MINUTE_MS, clk["c"])

        yield Chunk(
            imp,
            clk,
            impression_messages(pools, imp),
            click_messages(pools, clk),
        )


def impression_messages(pools: Pools, cols: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """(key, JSON value) per row, as the pipeline writes the impressions output."""
    creatives, sites, camps = pools.creative_ids, pools.websites, pools.campaign_json
    devices, countries = pools.device_json, pools.country_json
    bids, costs = _nullable_json(cols)
    out = []
    for i, t, u, k, c, s, r, cost, d, y in zip(
        *(cols[name].tolist() for name in ("i", "t", "u", "k", "c", "s")),
        bids,
        costs,
        *(cols[name].tolist() for name in ("d", "y")),
        strict=True,
    ):
        key = f"imp-{i:010d}"
        out.append(
            (
                key,
                f'{{"impression_id":"{key}","event_time_ms":{t},"user_id":"u-{u:07d}",'
                f'"creative_id":"{creatives[k]}","website":"{sites[s]}","bid_request_id":{r},'
                f'"cost_micros":{cost},"currency":"USD",{devices[d]},"country":{countries[y]},'
                f"{camps[c]}}}",
            )
        )
    return out


def _nullable_json(cols: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """bid_request_id and cost_micros as JSON values (-1 is null)."""
    bids = ["null" if r < 0 else f'"br-{r:016x}"' for r in cols["r"].tolist()]
    costs = ["null" if c < 0 else str(c) for c in cols["cost"].tolist()]
    return bids, costs


def click_messages(pools: Pools, cols: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """(key, JSON value) per row of the attributed_clicks output."""
    creatives, sites, camps = pools.creative_ids, pools.websites, pools.campaign_json
    devices, countries = pools.device_only_json, pools.country_json
    bids, costs = _nullable_json(cols)
    out = []
    for j, ct, i, t, u, k, c, s, r, cost, d, y in zip(
        *(cols[name].tolist() for name in ("j", "ct", "i", "t", "u", "k", "c", "s")),
        bids,
        costs,
        *(cols[name].tolist() for name in ("d", "y")),
        strict=True,
    ):
        key = f"clk-{j:09d}"
        out.append(
            (
                key,
                f'{{"event_id":"{key}","event_time_ms":{ct},"user_id":"u-{u:07d}",'
                f'"impression_id":"imp-{i:010d}","impression_event_time_ms":{t},'
                f'"creative_id":"{creatives[k]}","website":"{sites[s]}","bid_request_id":{r},'
                f'"cost_micros":{cost},"currency":"USD",'
                f'{devices[d]},"country":{countries[y]},"seconds_to_click":{(ct - t) / 1000},'
                f"{camps[c]}}}",
            )
        )
    return out


# --- Kafka ------------------------------------------------------------------------------------


class Sender:
    """confluent-kafka, keyed and partitioned like the pipeline's Java producer (murmur2)."""

    def __init__(self, bootstrap: str, **overrides):
        self.failures: list[str] = []
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "partitioner": "murmur2_random",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 50,
                "batch.size": 1_000_000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                **overrides,
            }
        )

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.failures.append(str(error))

    def send(self, topic: str, messages: list[tuple[str, str]]) -> None:
        produce, delivered = self.producer.produce, self._delivered
        for key, value in messages:
            while True:
                try:
                    produce(topic, value, key, on_delivery=delivered)
                    break
                except BufferError:
                    self.producer.poll(0.05)
        self.producer.poll(0)

    def flush(self) -> None:
        left = self.producer.flush(120)
        if left or self.failures:
            raise RuntimeError(
                f"Kafka did not take {left + len(self.failures)} messages"
                + (f": {self.failures[0]}" if self.failures else "")
            )


# --- DuckDB -----------------------------------------------------------------------------------


class DuckCopy:
    """The same rows in DuckDB: generated columns staged as they come, then the tables with
    the outputs' columns (strings from the same pools) in event-time order."""

    def __init__(self, folder: Path, pools: Pools, prefix: str):
        self.con = duckdb.connect(str(folder / "bench.duckdb"))
        self.con.execute("SET memory_limit = '3GB'")
        self.con.execute(f"SET temp_directory = '{folder / 'tmp'}'")
        self.prefix = prefix
        self.pools = pools
        self.staged = {"impressions": False, "clicks": False}

    def stage(self, chunk: Chunk) -> None:
        for name, cols in (("impressions", chunk.impressions), ("clicks", chunk.clicks)):
            table = pa.table(
                {
                    key: pa.array(col, mask=col < 0) if key in ("r", "cost") else col
                    for key, col in cols.items()
                }
            )
            self.con.register("chunk", table)
            if self.staged[name]:
                self.con.execute(f"INSERT INTO stage_{name} SELECT * FROM chunk")
            else:
                self.con.execute(f"CREATE TABLE stage_{name} AS SELECT * FROM chunk")
                self.staged[name] = True
            self.con.unregister("chunk")

    def finish(self, metrics_rows: list[dict]) -> None:
        p = self.pools
        pools = {
            "campaigns": pa.Table.from_pylist(p.campaign_rows),
            "creatives": pa.table({"k": range(len(p.creative_ids)), "creative_id": p.creative_ids}),
            "websites": pa.table({"s": range(len(p.websites)), "website": p.websites}),
            "devices": pa.table(
                {"d": range(5), "device_type": p.devices, "user_agent": p.user_agents}
            ),
            "countries": pa.table({"y": range(len(p.countries)), "country": p.countries}),
        }
        for name, table in pools.items():
            self.con.register(f"pool_{name}", table)
        common = """
            printf('u-%07d', x.u) AS user_id,
            cr.creative_id, c.campaign_id, w.website,
            printf('br-%016x', x.r) AS bid_request_id,
            x.cost AS cost_micros, 'USD' AS currency, d.device_type, y.country"""
        enrichment = """
            c.advertiser_id, c.campaign_name, c.campaign_status,
            c.campaign_daily_budget_micros, c.campaign_known"""
        joins = """
            JOIN pool_campaigns c ON c.c = x.c JOIN pool_creatives cr ON cr.k = x.k
            JOIN pool_websites w ON w.s = x.s JOIN pool_devices d ON d.d = x.d
            JOIN pool_countries y ON y.y = x.y"""
        self.con.execute(
            f"""CREATE TABLE {self.prefix}impressions AS
            SELECT printf('imp-%010d', x.i) AS impression_id, x.t AS event_time_ms, {common},
                d.user_agent, {enrichment}, x.t - x.t % 60000 AS event_minute_ms
            FROM stage_impressions x {joins} ORDER BY x.t, x.i"""
        )
        self.con.execute(
            f"""CREATE TABLE {self.prefix}attributed_clicks AS
            SELECT printf('clk-%09d', x.j) AS event_id, x.ct AS event_time_ms,
                printf('imp-%010d', x.i) AS impression_id, x.t AS impression_event_time_ms,
                {common}, (x.ct - x.t) / 1000 AS seconds_to_click, {enrichment}
            FROM stage_clicks x {joins} ORDER BY x.ct, x.j"""
        )
        self.con.register("metrics", pa.Table.from_pylist(metrics_rows))
        self.con.execute(
            f"CREATE TABLE {self.prefix}campaign_metrics_1m AS "
            "SELECT * FROM metrics ORDER BY window_start_ms, campaign_id"
        )
        self.con.unregister("metrics")
        for name in pools:
            self.con.unregister(f"pool_{name}")
        self.con.execute("DROP TABLE stage_impressions; DROP TABLE stage_clicks; CHECKPOINT")

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()


def duck_sql(pinot_sql: str) -> str:
    """The rendered Pinot query in DuckDB's dialect: only DISTINCTCOUNT differs."""
    return re.sub(r"\bDISTINCTCOUNT\(", "COUNT(DISTINCT ", pinot_sql)


# --- Pinot ------------------------------------------------------------------------------------


class QueryFailed(RuntimeError):
    pass


class PinotSql:
    """POST /query/sql on the broker, as pinotdb does, keeping the answer's statistics."""

    def __init__(self, broker_url: str, timeout: float = 60.0):
        self.http = httpx.Client(base_url=broker_url, timeout=timeout)

    def run(self, sql: str) -> tuple[float, dict]:
        began = time.perf_counter()
        response = self.http.post("/query/sql", json={"sql": sql})
        body = response.json()
        seconds = time.perf_counter() - began
        if response.status_code >= 400 or body.get("exceptions"):
            raise QueryFailed(f"{response.status_code} {body.get('exceptions') or body}\n{sql}")
        return seconds, body

    def rows(self, sql: str) -> list[list]:
        return self.run(sql)[1].get("resultTable", {}).get("rows", [])

    def count(self, table: str) -> int:
        rows = self.rows(f"SELECT COUNT(*) FROM {table}")
        return int(rows[0][0]) if rows else 0  # no answer while the table is not routed

    def close(self) -> None:
        self.http.close()


def without_indexes(table: dict) -> tuple[dict, list[str]]:
    """The table config with every index setting removed, and what was removed."""
    removed = []
    index = table.get("tableIndexConfig", {})
    for key in list(index):
        if INDEX_KEYS.match(key) and index[key] not in (None, [], False):
            removed.append(key)
            del index[key]
    for spec in table.get("fieldConfigList") or []:
        for key in ("indexType", "indexTypes", "indexes"):
            if spec.pop(key, None):
                removed.append(f"fieldConfigList[{spec['name']}].{key}")
    return table, removed


def create_scan_tables(cfg: StackConfig, settings: BootstrapSettings) -> dict[str, list[str]]:
    removed = {}
    with PinotAdmin(cfg.pinot_controller_url) as admin:
        for output in OUTPUTS:
            admin.add_schema(pinot_schema(output, settings.table_prefix))
            table, removed[output] = without_indexes(pinot_table(output, settings))
            admin.add_table(table)
    return removed


def _pinot_pids(cfg: StackConfig) -> dict[str, int]:
    return {s.name: s.pid for s in supervisor.status(cfg, ["pinot"]) if s.pid}


def _cpu_seconds(pid: int | None) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_rows(
    sql: PinotSql,
    expected: dict[str, int],
    progress: Progress,
    label: str,
    timeout: float,
    began: float,
) -> dict:
    """Poll COUNT(*) of each table every second until each holds its rows: when each was
    complete, and the largest table's steady rate (between 10% and 90% of its rows)."""
    task = progress.add_task(label, total=sum(expected.values()))
    largest = max(expected, key=expected.get)
    series: list[tuple[float, int]] = []
    done: dict[str, float] = {}
    last_change, last_total = time.monotonic(), -1
    while len(done) < len(expected):
        counts = {}
        for table, want in expected.items():
            try:
                counts[table] = sql.count(table)
            except (QueryFailed, httpx.HTTPError):
                counts[table] = 0  # not routable yet
            if counts[table] >= want and table not in done:
                done[table] = time.monotonic() - began
        now = time.monotonic()
        series.append((now - began, counts[largest]))
        total = sum(min(counts[t], expected[t]) for t in expected)
        progress.update(task, completed=total)
        if total != last_total:
            last_change, last_total = now, total
        if now - began > timeout or now - last_change > 300:
            raise TimeoutError(
                f"{label}: {counts} of {expected} after {now - began:.0f} s "
                f"(no progress for {now - last_change:.0f} s): see `advertisex stack logs "
                "pinot-server` (heap: ADVERTISEX_PINOT_SERVER_HEAP)"
            )
        if len(done) < len(expected):
            time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
    want = expected[largest]
    t10, n10 = next((t, n) for t, n in series if n >= 0.1 * want)
    t90, n90 = next((t, n) for t, n in series if n >= 0.9 * want)
    return {
        "seconds": max(done.values()),
        "complete_s": done,
        "steady_rows_per_s": (n90 - n10) / (t90 - t10) if t90 > t10 else None,
        "largest": largest,
    }


def segment_count(cfg: StackConfig, table: str) -> int | None:
    try:
        answer = httpx.get(f"{cfg.pinot_controller_url}/segments/{table}", timeout=10).json()
        return sum(len(entry.get("REALTIME", [])) for entry in answer)
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return None


def force_commit(cfg: StackConfig, tables: list[str], progress: Progress) -> dict:
    """Commit every consuming segment now (POST /tables/<t>/forceCommit, in Pinot 0.11): their
    rows go into built segments with every index, as they would at the flush threshold.
    Waits until each segment that was consuming is ONLINE."""
    with httpx.Client(base_url=cfg.pinot_controller_url, timeout=60) as http:
        consuming = {}
        for table in tables:
            ideal = http.get(f"/tables/{table}/idealstate").json()["REALTIME"]
            consuming[table] = [
                segment for segment, states in ideal.items() if "CONSUMING" in states.values()
            ]
            http.post(f"/tables/{table}/forceCommit").raise_for_status()
        total = sum(len(segments) for segments in consuming.values())
        task = progress.add_task("force commit of the consuming segments", total=total)
        began = time.monotonic()
        while True:
            done = 0
            for table, segments in consuming.items():
                view = http.get(f"/tables/{table}/externalview").json()["REALTIME"]
                done += sum(
                    1 for s in segments if view.get(s) and set(view[s].values()) == {"ONLINE"}
                )
            progress.update(task, completed=done)
            if done == total:
                return {"segments": total, "seconds": time.monotonic() - began}
            if time.monotonic() - began > 900:
                raise TimeoutError(f"force commit: {done} of {total} segments online")
            time.sleep(1)


def gc_counters(pid: int | None) -> dict[str, float] | None:
    """The JVM's GC counts and seconds so far (`jstat -gcutil`): young, full, concurrent."""
    if pid is None:
        return None
    try:
        out = subprocess.run(
            ["jstat", "-gcutil", str(pid)], capture_output=True, text=True, timeout=20
        ).stdout.split("\n")
        header, values = out[0].split(), out[1].split()
    except (OSError, IndexError, subprocess.SubprocessError):
        return None
    return {k: float(v) for k, v in zip(header, values, strict=False) if v != "-"}


def live_heap_gb(pid: int | None) -> float | None:
    """The JVM's heap in use after a full GC (`jcmd GC.run`, then `jstat -gc`): what the
    tables' live structures (dedup and upsert key maps, consuming segments) hold."""
    if pid is None:
        return None
    try:
        subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=120)
        out = subprocess.run(
            ["jstat", "-gc", str(pid)], capture_output=True, text=True, timeout=20
        ).stdout.split("\n")
        gc = dict(zip(out[0].split(), out[1].split(), strict=False))
        return sum(float(gc[k]) for k in ("S0U", "S1U", "EU", "OU")) / 1024**2
    except (OSError, IndexError, KeyError, ValueError, subprocess.SubprocessError):
        return None


def gc_spent(before: dict | None, after: dict | None) -> dict | None:
    if not before or not after:
        return None
    keys = ("YGC", "YGCT", "FGC", "FGCT", "CGC", "CGCT", "GCT")
    return {k: round(after[k] - before[k], 3) for k in keys if k in before and k in after}


# --- the queries ------------------------------------------------------------------------------


@dataclass
class QuerySpec:
    label: str
    query: str  # the file's name
    range_label: str
    pinot: dict[str, str]  # engine -> SQL (indexed, scan)
    duck: str | None


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    rows: int = 0
    error: str | None = None


STAT_KEYS = (
    "numDocsScanned",
    "numEntriesScannedInFilter",
    "numEntriesScannedPostFilter",
    "numSegmentsQueried",
    "numSegmentsProcessed",
    "numSegmentsMatched",
    "totalDocs",
)


def normal(rows) -> list[tuple]:
    """Rows comparable across engines: Pinot's null string as None, numbers to 9 digits."""

    def one(value):
        value = pinot_string(value)
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        number = float(value)
        return int(number) if number.is_integer() else float(f"{number:.9g}")

    return [tuple(one(v) for v in row) for row in rows]


def query_specs(
    ranges: list[tuple[str, int, int]], pools: Pools, prefixes: dict[str, str], sql: PinotSql
) -> list[QuerySpec]:
    """Each report query over each range, rendered for both Pinot table sets and DuckDB."""
    tables = {engine: prefixed_tables(prefix) for engine, prefix in prefixes.items()}

    def render(name: str, values: dict) -> dict[str, str]:
        template = templates.load(name)
        return {engine: template.render(values, tables[engine]) for engine in prefixes}

    specs = []
    for label, start, end in ranges:
        span = {"from_ms": start, "to_ms": end}
        minutes = (end - start) // MINUTE_MS
        top = render("top_websites", {**span, "top": 10})
        websites = [row[0] for row in sql.rows(top["indexed"])] or ["none"]
        rendered = {
            "campaign_performance": render("campaign_performance", {**span, "limit": 1000}),
            "advertiser_performance": render("advertiser_performance", {**span, "limit": 1000}),
            "top_websites": top,
            "website_clicks": render(
                "website_clicks", {**span, "websites": websites, "limit": len(websites)}
            ),
            "campaign_time_series": render(
                "campaign_time_series",
                {"campaign_id": pools.top_campaign, **span, "limit": minutes},
            ),
        }
        for name, by_engine in rendered.items():
            specs.append(QuerySpec(name, name, label, by_engine, duck_sql(by_engine["indexed"])))
        star = {e: s.replace("event_time_ms", "event_minute_ms") for e, s in top.items()}
        specs.append(
            QuerySpec(
                "top_websites by event_minute_ms *",
                "top_websites",
                label,
                star,
                duck_sql(star["indexed"]),
            )
        )
    return specs


def run_queries(
    specs: list[QuerySpec],
    sql: PinotSql,
    duck: DuckCopy | None,
    warmup: int,
    runs: int,
    progress: Progress,
) -> list[dict]:
    """Every spec's engines interleaved run by run; the first answers compared."""
    timings = [{engine: Timing() for engine in ENGINES} for _ in specs]
    answers: list[dict[str, list]] = [{} for _ in specs]
    task = progress.add_task("report queries", total=len(specs) * (warmup + runs))
    for spec, timing, answer in zip(specs, timings, answers, strict=True):
        for round_ in range(warmup + runs):
            for engine in ENGINES:
                t = timing[engine]
                if t.error or (engine == "duckdb" and duck is None):
                    continue
                try:
                    if engine == "duckdb":
                        began = time.perf_counter()
                        rows = duck.rows(spec.duck)
                        seconds, body = time.perf_counter() - began, None
                    else:
                        seconds, body = sql.run(spec.pinot[engine])
                        rows = body["resultTable"]["rows"]
                except (QueryFailed, httpx.HTTPError) as exc:
                    t.error = str(exc).splitlines()[0][:300]
                    continue
                if engine not in answer:
                    answer[engine] = normal(rows)
                    t.rows = len(rows)
                    if body:
                        t.stats = {k: body.get(k) for k in STAT_KEYS}
                if round_ >= warmup:
                    t.seconds.append(seconds)
                    if body:
                        t.server_ms.append(body.get("timeUsedMs", math.nan))
            progress.advance(task)
    out = []
    for spec, timing, answer in zip(specs, timings, answers, strict=True):
        reference = answer.get("indexed")
        same = {
            engine: (answer[engine] == reference) if engine in answer else None
            for engine in ENGINES
        }
        out.append(
            {
                "query": spec.label,
                "file": spec.query,
                "range": spec.range_label,
                "sql": spec.pinot["indexed"],
                "same_answer": same,
                "engines": {e: summarize(timing[e]) for e in ENGINES},
            }
        )
    return out


def _percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(timing: Timing) -> dict:
    ms = [s * 1000 for s in timing.seconds]
    return {
        "runs": len(ms),
        "p50_ms": _percentile(ms, 50),
        "p95_ms": _percentile(ms, 95),
        "server_p50_ms": _percentile(timing.server_ms, 50),
        "server_p95_ms": _percentile(timing.server_ms, 95),
        "rows": timing.rows,
        "stats": timing.stats,
        "error": timing.error,
    }


# --- ingestion lag ----------------------------------------------------------------------------


def ingestion_lag(
    cfg: StackConfig,
    topic: str,
    table: str,
    run: str,
    rate: float,
    seconds: float,
    poll_s: float,
    progress: Progress,
) -> dict:
    """Markers at a steady rate, each stamped with its send time, and a poll of the table
    every poll_s: per marker, send -> queryable (the midpoint of the interval in which it
    became visible) and send -> the broker's acknowledgement."""
    campaign = f"lag-{run}"
    total = int(rate * seconds)
    sender = Sender(cfg.kafka_bootstrap, **{"linger.ms": 0, "compression.type": "none"})
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    partition: dict[str, int] = {}
    start_ms = int(time.time() * 1000)

    def send_all() -> None:
        producer = sender.producer
        began = time.time()
        for k in range(total):
            due = began + k / rate
            while (wait := due - time.time()) > 0:
                producer.poll(min(wait, 0.01))
            key = f"lag-{run}-{k:06d}"
            now = time.time()
            value = json.dumps(
                {
                    "impression_id": key,
                    "event_time_ms": int(now * 1000),
                    "user_id": "u-lag",
                    "creative_id": "cr-lag",
                    "campaign_id": campaign,
                    "website": "lag.example.com",
                    "bid_request_id": None,
                    "cost_micros": 0,
                    "currency": "USD",
                    "device_type": None,
                    "country": None,
                    "user_agent": None,
                    "advertiser_id": None,
                    "campaign_name": None,
                    "campaign_status": None,
                    "campaign_daily_budget_micros": None,
                    "campaign_known": False,
                }
            )
            sent[key] = now

            def delivered(error, message, key=key):
                if error is None:
                    acked[key] = time.time()
                    partition[key] = message.partition()
                else:
                    sender.failures.append(str(error))

            producer.produce(topic, value, key, on_delivery=delivered)
            producer.poll(0)
        producer.flush(30)

    thread = threading.Thread(target=send_all, name="markers", daemon=True)
    query = (
        f"SELECT impression_id FROM {table} WHERE event_time_ms >= {start_ms} "
        f"AND campaign_id = '{campaign}' LIMIT {total + 10}"
    )
    client = PinotSql(cfg.pinot_broker_url, timeout=10)
    seen: dict[str, tuple[float, float]] = {}
    poll_ms: list[float] = []
    task = progress.add_task("ingestion lag markers", total=total)
    thread.start()
    previous_start = time.time()
    deadline = None
    try:
        while len(seen) < total:
            poll_start = time.time()
            try:
                _, body = client.run(query)
                keys = [row[0] for row in body["resultTable"]["rows"]]
            except (QueryFailed, httpx.HTTPError):
                keys = []
            poll_end = time.time()
            poll_ms.append((poll_end - poll_start) * 1000)
            for key in keys:
                if key not in seen:
                    seen[key] = (previous_start, poll_end)
            previous_start = poll_start
            progress.update(task, completed=len(seen))
            if not thread.is_alive():
                deadline = deadline or time.time() + 60
                if time.time() > deadline:
                    break
            time.sleep(max(0.0, poll_s - (time.time() - poll_start)))
    finally:
        thread.join(timeout=60)
        client.close()
    lags, widths, markers = [], [], []
    first_sent = min(sent.values(), default=0.0)
    for key, (before, after) in seen.items():
        low = max(before, sent[key])
        lag = ((low + after) / 2 - sent[key]) * 1000
        lags.append(lag)
        widths.append((after - low) * 1000)
        markers.append([round(sent[key] - first_sent, 3), partition.get(key), round(lag, 1)])
    acks = [(acked[k] - sent[k]) * 1000 for k in acked]
    slow = [ms for ms in poll_ms if ms > 500]
    by_partition = {
        p: _percentile([lag for _, q, lag in markers if q == p], 99)
        for p in sorted({q for _, q, _ in markers if q is not None})
    }
    return {
        "markers": total,
        "seen": len(seen),
        "rate_per_s": rate,
        "seconds": seconds,
        "poll_s": poll_s,
        "lag_p50_ms": _percentile(lags, 50),
        "lag_p90_ms": _percentile(lags, 90),
        "lag_p99_ms": _percentile(lags, 99),
        "lag_over_1s": sum(1 for lag in lags if lag > 1000),
        "lag_p99_by_partition_ms": by_partition,
        "lag_max_ms": max(lags, default=None),
        "interval_mean_ms": statistics.fmean(widths) if widths else None,
        "ack_p50_ms": _percentile(acks, 50),
        "ack_p99_ms": _percentile(acks, 99),
        "poll_p50_ms": _percentile(poll_ms, 50),
        "poll_max_ms": max(poll_ms, default=None),
        "polls_over_500ms": len(slow),
        "polls": len(poll_ms),
        "markers_sent_s_partition_lag_ms": sorted(markers),
        "failures": sender.failures[:3],
        "campaign": campaign,
    }


# --- report -----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _count(value: int | None) -> str:
    if value is None:
        return "-"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def _scanned(stats: dict) -> str:
    """Entries read by the filter + after it (the aggregation's inputs)."""
    if not stats:
        return "-"
    return (
        f"{_count(stats.get('numEntriesScannedInFilter'))} + "
        f"{_count(stats.get('numEntriesScannedPostFilter'))}"
    )


def report(results: list[dict], ingestion: list[dict], caption: str, lag: dict | None) -> None:
    out = Console(width=max(Console().width, 190))
    table = Table(title="Report queries: Pinot with the repository's indexes vs full scans")
    table.add_column("segments")
    table.add_column("query", overflow="fold")
    table.add_column("range")
    table.add_column("rows", justify="right")
    table.add_column("indexed ms\np50 / p95 (server)", justify="right")
    table.add_column("indexed scanned\nfilter + post", justify="right")
    table.add_column("no index ms\np50 / p95 (server)", justify="right")
    table.add_column("no index scanned\nfilter + post", justify="right")
    table.add_column("no index\n/ indexed", justify="right")
    table.add_column("DuckDB\np50 / p95 ms", justify="right")
    table.add_column("same\nanswer")
    state = None
    for r in results:
        if r["segments"] != state and state is not None:
            table.add_section()
        shown_state = r["segments"] if r["segments"] != state else ""
        state = r["segments"]
        e = r["engines"]
        cells = []
        for engine in ENGINES:
            s = e[engine]
            if s["error"]:
                cells.append([f"[red]failed[/]: {s['error'][:60]}", ""])
            elif not s["runs"]:
                cells.append(["-", ""])
            else:
                server = f" ({_ms(s['server_p50_ms'])})" if s["server_p50_ms"] is not None else ""
                cells.append(
                    [f"{_ms(s['p50_ms'])} / {_ms(s['p95_ms'])}{server}", _scanned(s["stats"])]
                )
        base, scan = e["indexed"]["p50_ms"], e["scan"]["p50_ms"]
        ratio = f"{scan / base:.1f}x" if base and scan else "-"
        same = r["same_answer"]
        differs = [n for n in ("scan", "duckdb") if same[n] is False]
        table.add_row(
            shown_state,
            r["query"],
            r["range"],
            str(e["indexed"]["rows"]),
            *cells[0],
            *cells[1],
            ratio,
            cells[2][0],
            "[red]no: " + ", ".join(differs) + "[/]" if differs else "yes",
        )
    table.caption = caption
    out.print(table)

    ingest = Table(title="Ingestion")
    ingest.add_column("")
    ingest.add_column("rows", justify="right")
    ingest.add_column("seconds", justify="right")
    ingest.add_column("rows/s", justify="right")
    ingest.add_column("notes", overflow="fold")
    for row in ingestion:
        ingest.add_row(
            row["label"],
            f"{row['rows']:,}" if row["rows"] else "",
            f"{row['seconds']:.1f}",
            f"{row['rows'] / row['seconds']:,.0f}" if row["rows"] else "",
            "; ".join(row["notes"]),
        )
    if lag:
        ingest.add_row(
            "ingestion lag, produce -> queryable",
            f"{lag['seen']:,}/{lag['markers']:,}",
            "",
            "",
            f"p50 {_ms(lag['lag_p50_ms'])} ms, p90 {_ms(lag['lag_p90_ms'])} ms, p99 "
            f"{_ms(lag['lag_p99_ms'])} ms, max {_ms(lag['lag_max_ms'])} ms, "
            f"{lag['lag_over_1s']} over 1 s (each within ±{_ms(lag['interval_mean_ms'] / 2)} ms "
            f"on average: a poll every {lag['poll_s'] * 1000:.0f} ms, p50 "
            f"{_ms(lag['poll_p50_ms'])} ms, max {_ms(lag['poll_max_ms'])} ms); of which "
            f"Kafka's ack p50 {_ms(lag['ack_p50_ms'])} ms, p99 {_ms(lag['ack_p99_ms'])} ms; "
            f"{_gc_note(lag.get('gc') or {})}{lag['rate_per_s']:.0f} markers/s for "
            f"{lag['seconds']:.0f} s, not transactional (the job's sinks add up to a "
            "checkpoint interval)",
        )
    out.print(ingest)


def _gc_note(gc: dict) -> str:
    parts = []
    for role, spent in gc.items():
        if spent:
            parts.append(
                f"{role} GC {spent.get('YGC', 0):.0f} young {spent.get('YGCT', 0):.2f} s, "
                f"{spent.get('FGC', 0):.0f} full {spent.get('FGCT', 0):.2f} s"
            )
    return "; ".join(parts) + ("; " if parts else "")


# --- main -------------------------------------------------------------------------------------


def parse_ranges(texts: list[str], span: Span) -> list[tuple[str, int, int]]:
    """'1h', '24h', '2d' (the last of the data) or 'all', as (label, from_ms, to_ms)."""
    units = {"m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": 1440 * MINUTE_MS}
    out = []
    for text in texts:
        if text == "all":
            days = span.minutes / 1440
            out.append((f"all {days:g} d", span.start_ms, span.end_ms))
            continue
        found = re.fullmatch(r"(\d+)([mhd])", text)
        if not found:
            raise SystemExit(f"error: --ranges {text!r}: give 1h, 24h, 2d or all")
        length = int(found[1]) * units[found[2]]
        out.append(
            (f"last {found[1]} {found[2]}", max(span.start_ms, span.end_ms - length), span.end_ms)
        )
    return out


def cleanup(cfg: StackConfig, tables: list[str], topic_prefix: str) -> None:
    with PinotAdmin(cfg.pinot_controller_url) as admin:
        for table in tables:
            try:
                if admin.get_table(table) is not None:
                    admin.drop_table(table)
                if admin.get_schema(table) is not None:
                    admin.delete_schema(table)
            except PinotError as exc:
                err.print(f"[yellow]could not drop {table}:[/] {exc}")
    kafka = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    # Twice: a consumer of a dropped table that is still closing can have a topic it reads
    # created anew (the broker's auto.create.topics.enable), empty.
    for attempt in range(2):
        topics = [t for t in kafka.list_topics(timeout=10).topics if t.startswith(topic_prefix)]
        if not topics:
            return
        if attempt:
            time.sleep(10)
        for future in kafka.delete_topics(topics, operation_timeout=30).values():
            try:
                future.result()
            except KafkaException as exc:
                err.print(f"[yellow]could not delete a topic:[/] {exc}")
        time.sleep(5)


def timed(progress: Progress, label: str, action: Callable[[], object]) -> tuple[float, object]:
    task = progress.add_task(label, total=None)
    began = time.monotonic()
    result = action()
    progress.update(task, total=1, completed=1)
    return time.monotonic() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="impressions")
    parser.add_argument("--days", type=float, default=3.0, help="the span of event times")
    parser.add_argument("--websites", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ranges", nargs="+", default=["1h", "24h", "all"])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per query and engine")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--lag-rate", type=float, default=50.0, help="markers per second")
    parser.add_argument("--lag-seconds", type=float, default=60.0)
    parser.add_argument("--lag-poll", type=float, default=0.1, help="seconds between polls")
    parser.add_argument("--timeout", type=float, default=5400, help="seconds per ingestion")
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the tables and topics")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if duckdb is None and not args.no_duckdb:
        raise SystemExit(
            "error: duckdb is not installed: pip install -e '.[bench]', or --no-duckdb"
        )

    cfg = StackConfig()
    try:
        AdminClient({"bootstrap.servers": cfg.kafka_bootstrap}).list_topics(timeout=10)
        with PinotAdmin(cfg.pinot_controller_url) as admin:
            admin.table_names()
        httpx.get(f"{cfg.pinot_broker_url}/health", timeout=5).raise_for_status()
    except (KafkaException, PinotError, httpx.HTTPError):
        raise SystemExit(
            f"error: the stack does not answer (Kafka {cfg.kafka_bootstrap}, Pinot "
            f"{cfg.pinot_controller_url}, broker {cfg.pinot_broker_url}): start it with "
            "`advertisex stack up kafka pinot` (same ADVERTISEX_* variables)"
        ) from None

    run = f"rq{time.strftime('%H%M%S')}{uuid.uuid4().hex[:4]}"
    topic_prefix = f"bench-{run}."
    prefixes = {"indexed": f"{run}_", "scan": f"{run}_scan_"}
    settings = {
        engine: BootstrapSettings(
            kafka_bootstrap=cfg.kafka_bootstrap,
            pinot_controller=cfg.pinot_controller_url,
            topic_prefix=topic_prefix,
            table_prefix=prefix,
        )
        for engine, prefix in prefixes.items()
    }
    all_tables = [prefix + output for prefix in prefixes.values() for output in OUTPUTS]
    topics = {output: topic_prefix + output_topics()[output] for output in OUTPUTS}
    minutes = int(args.days * 1440)
    end = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    span = Span(end - minutes * MINUTE_MS, minutes)
    ranges = parse_ranges(args.ranges, span)
    load_before = os.getloadavg()
    pids = _pinot_pids(cfg)
    sql = PinotSql(cfg.pinot_broker_url)
    figures: dict = {"run": run, "topic_prefix": topic_prefix, "table_prefixes": prefixes}
    ingestion: list[dict] = []
    lag = None
    workdir = tempfile.TemporaryDirectory(prefix="bench-report-")
    duck = None
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            pools = Pools(args.seed, args.websites, args.users)
            reconcile_topics(
                cfg.kafka_bootstrap,
                [s for s in output_topic_specs(topic_prefix) if s.name in topics.values()],
            )
            if not args.no_duckdb:
                duck = DuckCopy(Path(workdir.name), pools, prefixes["indexed"])
            metrics = Metrics(span.minutes, len(pools.campaign_ids))
            sender = Sender(cfg.kafka_bootstrap)
            counts = dict.fromkeys(OUTPUTS, 0)
            task = progress.add_task("generate and produce impressions", total=args.rows)
            began = time.monotonic()
            stage_s = 0.0
            for chunk in generate(pools, span, args.rows, args.seed, metrics):
                sender.send(topics["impressions"], chunk.impression_messages)
                sender.send(topics["attributed_clicks"], chunk.click_messages)
                counts["impressions"] += len(chunk.impression_messages)
                counts["attributed_clicks"] += len(chunk.click_messages)
                if duck:
                    staged = time.monotonic()
                    duck.stage(chunk)
                    stage_s += time.monotonic() - staged
                progress.update(task, completed=counts["impressions"])
            metric_rows = metrics.rows(pools, span, np.random.default_rng(args.seed + 1))
            sender.send(
                topics["campaign_metrics_1m"],
                [
                    (f"{r['campaign_id']}:{r['window_start_ms']}", json.dumps(r))
                    for r in metric_rows
                ],
            )
            counts["campaign_metrics_1m"] = len(metric_rows)
            sender.flush()
            produce_s = time.monotonic() - began - stage_s
            total_rows = sum(counts.values())
            ingestion.append(
                {
                    "label": "generate + produce to Kafka",
                    "rows": total_rows,
                    "seconds": produce_s,
                    "notes": [
                        ", ".join(f"{n} {c:,}" for n, c in counts.items()),
                        "one Python process, confluent-kafka, lz4",
                    ],
                }
            )
            figures["rows"] = counts
            if duck:
                finish_s, _ = timed(
                    progress, "DuckDB: build the tables", lambda: duck.finish(metric_rows)
                )
                figures["duckdb_load_s"] = {"stage": stage_s, "build": finish_s}

            for engine, label in (
                ("indexed", "Pinot ingestion, the repository's configs"),
                ("scan", "Pinot ingestion, no indexes"),
            ):
                cpu_before = _cpu_seconds(pids.get("pinot-server"))
                began = time.monotonic()
                if engine == "indexed":
                    outcomes = bootstrap(settings[engine], outputs=OUTPUTS)
                    refused = [o for o in outcomes if o.status == "refused"]
                    if refused:
                        raise SystemExit(f"error: bootstrap refused: {refused}")
                else:
                    figures["removed_from_scan_tables"] = create_scan_tables(cfg, settings[engine])
                expected = {prefixes[engine] + o: counts[o] for o in OUTPUTS}
                waited = wait_for_rows(sql, expected, progress, label, args.timeout, began)
                cpu_after = _cpu_seconds(pids.get("pinot-server"))
                segments = {t: segment_count(cfg, t) for t in expected}
                impressions_s = waited["complete_s"][prefixes[engine] + "impressions"]
                notes = [f"impressions complete at {impressions_s:.0f} s"]
                if waited["steady_rows_per_s"]:
                    notes[0] += f", steady {waited['steady_rows_per_s']:,.0f} rows/s"
                notes.append(
                    "segments "
                    + ", ".join(
                        f"{t.removeprefix(prefixes[engine])} {n}" for t, n in segments.items()
                    )
                )
                if cpu_before is not None and cpu_after is not None:
                    notes.append(
                        f"server CPU {(cpu_after - cpu_before) / total_rows * 1e6:,.0f} µs/row"
                    )
                heap = live_heap_gb(pids.get("pinot-server"))
                if heap is not None:
                    notes.append(f"server heap live after a full GC {heap:.2f} GB")
                ingestion.append(
                    {
                        "label": label,
                        "rows": total_rows,
                        "seconds": waited["seconds"],
                        "notes": notes,
                        "details": {**waited, "segments": segments},
                    }
                )

            results = []
            for state in ("as ingested", "committed"):
                if state == "committed":
                    committed = force_commit(cfg, all_tables, progress)
                    ingestion.append(
                        {
                            "label": "force commit (the consuming segments built)",
                            "rows": None,
                            "seconds": committed["seconds"],
                            "notes": [f"{committed['segments']} segments of both table sets"],
                        }
                    )
                specs = query_specs(ranges, pools, prefixes, sql)
                answers = run_queries(specs, sql, duck, args.warmup, args.runs, progress)
                results += [{"segments": state, **answer} for answer in answers]
            if args.lag_seconds > 0:
                server = pids.get("pinot-server")
                gc_before = {
                    "server": gc_counters(server),
                    "broker": gc_counters(pids.get("pinot-broker")),
                }
                lag = ingestion_lag(
                    cfg,
                    topics["impressions"],
                    prefixes["indexed"] + "impressions",
                    run,
                    args.lag_rate,
                    args.lag_seconds,
                    args.lag_poll,
                    progress,
                )
                lag["gc"] = {
                    role: gc_spent(gc_before[role], gc_counters(pids.get(f"pinot-{role}")))
                    for role in gc_before
                }
    finally:
        sql.close()
        if duck:
            duck.close()
        workdir.cleanup()
        if not args.keep:
            cleanup(cfg, all_tables, topic_prefix)
    load_after = os.getloadavg()

    caption = (
        f"{counts['impressions']:,} impressions over {args.days:g} days ({len(pools.campaign_ids)} "
        f"campaigns, {args.websites:,} websites), {counts['attributed_clicks']:,} attributed "
        f"clicks, {counts['campaign_metrics_1m']:,} campaign_metrics_1m rows; the time series "
        f"of {pools.top_campaign}, the largest campaign; {args.runs} runs "
        f"after {args.warmup} warm-up, engines interleaved; Pinot "
        f"{pinned_versions().get('pinot.version', '?')}, server heap {cfg.pinot_server_heap}; "
        f"DuckDB {duckdb.__version__ if duck else 'not run'}; {os.cpu_count()} CPUs, load "
        f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after; run {run}"
        + ("" if args.keep else " (tables and topics dropped)")
        + ". * top_websites.sql with its time filter on event_minute_ms, the column the "
        "star-tree is split on, instead of event_time_ms (same rows: whole minutes)"
    )
    report(results, ingestion, caption, lag)
    if args.json:
        figures |= {
            "span": asdict(span),
            "ranges": ranges,
            "args": {k: str(v) for k, v in vars(args).items()},
            "cpus": os.cpu_count(),
            "load_average": {"before": load_before, "after": load_after},
            "ingestion": ingestion,
            "queries": results,
            "lag": lag,
            "pinot_server_heap": cfg.pinot_server_heap,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
