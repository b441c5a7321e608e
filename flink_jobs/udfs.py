"""The pipeline's functions: the JVM head, and the one Python UDF left, for dead letters.

The hot path runs in the JVM (flink_jobs/java, built into the cache by `advertisex stack
fetch`): adx_event_time reads a raw message's rowtime from its payload, adx_check_<source>
decodes, validates, standardizes and enriches it. Only rejected messages reach Python:
explain_rejection asks the reference rules (advertisex/contract) for the human detail of
the dead letter, so that text has one home.
"""

from __future__ import annotations

import base64
import json

from pydantic import BaseModel, ConfigDict, Field
from pyflink.common import Row
from pyflink.table import DataTypes, TableEnvironment
from pyflink.table.udf import ScalarFunction, udf

from advertisex.contract.errors import ContractError, raw_payload
from advertisex.contract.event_time import check
from advertisex.contract.invalid_traffic import crawler_patterns
from advertisex.contract.topics import RAW_TOPICS
from flink_jobs.tables import EVENT_TIME_FUNCTION

# The raw sources, in the contract's order: the one list of them (their topics).
SOURCES = tuple(RAW_TOPICS)
BINARY_SOURCES = ("bid_requests",)
# name -> class of the JVM functions (flink_jobs/java/src/main/java/io/advertisex/flink).
JAVA_FUNCTIONS = {
    EVENT_TIME_FUNCTION: "io.advertisex.flink.EventTimeFunction",
    "adx_check_impressions": "io.advertisex.flink.CheckFunction$Impressions",
    "adx_check_clicks_conversions": "io.advertisex.flink.CheckFunction$ClicksConversions",
    "adx_check_bid_requests": "io.advertisex.flink.CheckFunction$BidRequests",
    # Contract 2.6: whether an impression's user agent is a known crawler's.
    "adx_known_crawler": "io.advertisex.flink.KnownCrawlerFunction",
    # dq_metrics' aggregates that merge (mini-batch, two-phase): sql/quality.sql.
    "adx_count_by": "io.advertisex.flink.CountByFunction",
    "adx_median_delay": "io.advertisex.flink.MedianDelayFunction",
    # Process table functions whose state the watermark clears (streaming only).
    "adx_first_seen": "io.advertisex.flink.FirstSeenFunction",
    "adx_campaign_minute": "io.advertisex.flink.CampaignMinuteFunction",
    "adx_last_click": "io.advertisex.flink.LastClickFunction",
}
# The job parameter that tells the check functions where the campaign dimension is
# (io.advertisex.flink.CheckFunction.CAMPAIGNS_PARAMETER).
CAMPAIGNS_PARAMETER = "adx.campaigns"
# The one that hands adx_known_crawler the crawler list's patterns
# (io.advertisex.flink.KnownCrawlerFunction.PATTERNS_PARAMETER).
CRAWLER_PATTERNS_PARAMETER = "adx.crawler-patterns"


def job_parameter_value(value: object) -> str:
    """A job parameter's value: JSON in URL-safe base64, as Flink's map syntax
    (`key:value,key:value`) cannot hold the JSON's colons and commas."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode("ascii")


def crawler_patterns_parameter() -> str:
    """The value of adx.crawler-patterns: the pinned crawler-user-agents package's
    patterns, a JSON array."""
    return job_parameter_value(crawler_patterns())


class CampaignSource(BaseModel):
    """Where the check functions read the campaign dimension: a compacted topic or a JSON
    Lines file. It travels to the TaskManagers as a job parameter, which carries the Kafka
    client's properties (security) itself: the TaskManager does not see the submitting
    client's environment."""

    model_config = ConfigDict(hide_input_in_errors=True)  # properties may hold a password

    bootstrap: str | None = None
    topic: str | None = None
    file: str | None = None
    # Kafka client properties as the connector's relocated client reads them
    # (flink_jobs.tables.connector_properties).
    properties: dict[str, str] = Field(default_factory=dict, repr=False)

    def job_parameter(self) -> str:
        """The value of adx.campaigns (job_parameter_value of this spec)."""
        return job_parameter_value(self.model_dump(exclude_none=True))


class ExplainRejection(ScalarFunction):
    """(detail, raw_payload, payload_encoding) of a rejected message, by the reference."""

    def eval(self, source: str, reason: str, payload: bytes | None):
        payload = payload or b""  # a message without a value (a tombstone) is empty
        try:
            check(source, payload)
        except ContractError as error:
            detail = error.detail
            if error.reason != reason:  # the JVM port and the reference disagree: say so
                detail = f"{detail} (the reference gives {error.reason})"
        else:
            detail = f"the reference accepts this message (the JVM check gave {reason})"
        return Row(detail, *raw_payload(payload, source in BINARY_SOURCES))


explain_rejection = udf(
    ExplainRejection(),
    input_types=[DataTypes.STRING(), DataTypes.STRING(), DataTypes.BYTES()],
    result_type=DataTypes.ROW(
        [
            DataTypes.FIELD("detail", DataTypes.STRING()),
            DataTypes.FIELD("raw_payload", DataTypes.STRING()),
            DataTypes.FIELD("payload_encoding", DataTypes.STRING()),
        ]
    ),
)


def register(env: TableEnvironment, campaigns: CampaignSource) -> None:
    """The JVM functions (their jar must be in pipeline.jars), their job parameter, and the
    dead letters' Python UDF."""
    config = env.get_config()
    parameters = config.get("pipeline.global-job-parameters", "")
    entries = [
        f"{CAMPAIGNS_PARAMETER}:{campaigns.job_parameter()}",
        f"{CRAWLER_PATTERNS_PARAMETER}:{crawler_patterns_parameter()}",
    ]
    if parameters:
        entries.insert(0, parameters)
    config.set("pipeline.global-job-parameters", ",".join(entries))
    for name, class_name in JAVA_FUNCTIONS.items():
        env.create_java_temporary_system_function(name, class_name)
    env.create_temporary_system_function("explain_rejection", explain_rejection)
