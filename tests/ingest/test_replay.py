"""`ingest`: a folder of files replayed onto the real Kafka arrives intact."""

import json
import os
import subprocess
import time
from collections import Counter

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from advertisex.ingest.config import Anomalies, SimulationConfig
from advertisex.ingest.replay import folder_messages
from advertisex.ingest.simulator import Simulator
from advertisex.ingest.sinks import FileSink
from advertisex.ingest.topics import CAMPAIGN_TOPIC, RAW_TOPICS

# Recent event times: messages carry them as timestamps, and the raw topics delete what is
# older than a week.
START = int(time.time()) // 60 * 60_000 - 10 * 60_000


def test_ingest_replays_a_folder_onto_kafka_intact(kafka, tmp_path, read_topic):
    folder = tmp_path / "input"
    sim = Simulator(
        SimulationConfig(
            start_ms=START,
            seed=21,
            duration_s=90,
            bid_rate=80,
            diurnal=False,  # the same volume at whatever hour the test runs
            anomalies=Anomalies(malformed=0.05, duplicates=0.02),
        )
    )
    sink = FileSink(folder, part_size=3000)
    sink.write_campaigns(sim.campaigns())
    emitted = Counter()
    for message in sim.events():
        sink.write(message)
        emitted[message.source] += 1
    sink.close()
    assert set(emitted) == set(RAW_TOPICS)  # the scenario has every source
    # Reading the folder gives back every record, malformed ones included.
    in_files = list(folder_messages(folder))
    assert Counter(m.source for m in in_files) == emitted

    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        ["advertisex", "ingest", str(folder), "--bootstrap", kafka.kafka_bootstrap],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr

    for source, topic in RAW_TOPICS.items():
        got = read_topic(kafka.kafka_bootstrap, topic)
        expected = [m for m in in_files if m.source == source]
        assert Counter(m.value for m in got) == Counter(m.payload for m in expected)
        keys = {m.value: (m.key or b"").decode() for m in got}
        assert all(keys[m.payload] == m.key for m in expected)
    campaigns = read_topic(kafka.kafka_bootstrap, CAMPAIGN_TOPIC)
    assert sorted(json.loads(m.value)["campaign_id"] for m in campaigns) == sorted(
        c["campaign_id"] for c in sim.campaigns()
    )

    admin = KafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap)
    described = admin.describe_topics(list(RAW_TOPICS.values()))
    assert {t["name"]: len(t["partitions"]) for t in described} == {
        t: 4 for t in RAW_TOPICS.values()
    }
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, CAMPAIGN_TOPIC)])
    admin.close()
    assert configs["topic"][CAMPAIGN_TOPIC]["cleanup.policy"]["value"] == "compact"


def test_ingest_without_kafka_says_how_to_start_it(tmp_path):
    (tmp_path / "impressions").mkdir()
    result = subprocess.run(
        ["advertisex", "ingest", str(tmp_path), "--bootstrap", "127.0.0.1:1"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert (
        "Kafka at 127.0.0.1:1 is not reachable: start it with `advertisex stack up kafka`"
        in result.stderr
    )


def test_ingest_of_a_folder_that_is_not_an_input_folder(kafka, tmp_path):
    result = subprocess.run(
        ["advertisex", "ingest", str(tmp_path), "--bootstrap", kafka.kafka_bootstrap],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "holds none of impressions/, clicks_conversions/, bid_requests/" in result.stderr
