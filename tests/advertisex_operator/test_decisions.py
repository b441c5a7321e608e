"""The operator's decisions: given spec, status and Flink's answer, the one next step."""

from __future__ import annotations

import pytest
from advertisex_operator.decisions import (
    GiveUp,
    Nothing,
    Observation,
    SavepointEntry,
    Status,
    Stop,
    Submit,
    Wait,
    applied_key,
    condition,
    decide,
    decide_delete,
    restore_point,
    savepoint_history,
    status_from_dict,
)
from advertisex_operator.spec import FlinkSqlJobSpec, validate_spec

NOW = 1_800_000_000.0
SP = SavepointEntry("file:///sp/savepoint-1", "2026-11-29T12:00:00Z", "Upgrading")


def spec(**job) -> FlinkSqlJobSpec:
    extra = {
        k: job.pop(k) for k in list(job) if k in ("restartNonce", "restartPolicy", "deletionPolicy")
    }
    return FlinkSqlJobSpec.model_validate(
        {
            "job": {"pipeline": "advertisex-pipeline", **job},
            "flink": {"restUrl": "http://127.0.0.1:8081"},
            "kafka": {"bootstrapServers": "127.0.0.1:9092"},
            "savepoints": {"directory": "file:///sp"},
            **extra,
        }
    )


def running(s: FlinkSqlJobSpec, **changes) -> Status:
    base = dict(
        lifecycle="STABLE",
        job_id="j1",
        last_applied=applied_key(s),
        submitted_at=NOW - 60,
    )
    return Status(**{**base, **changes})


def seen(state: str | None, **kw) -> Observation:
    return Observation(reachable=True, job_state=state, **kw)


def test_a_new_resource_is_submitted_without_state():
    action = decide(spec(), Status(), seen(None), NOW)
    assert action == Submit(None, "Created", "submitting the job without state")


def test_a_new_resource_starts_from_its_initial_savepoint():
    action = decide(spec(initialSavepointPath="file:///init"), Status(), seen(None), NOW)
    assert isinstance(action, Submit) and action.from_path == "file:///init"


def test_unreachable_flink_waits_and_says_so():
    action = decide(spec(), running(spec()), Observation(False, error="no answer at :8081"), NOW)
    assert action == Wait("FlinkUnreachable", "no answer at :8081", 10)


def test_running_without_a_checkpoint_since_submission_is_deployed_not_stable():
    s = spec()
    assert decide(s, running(s), seen("RUNNING"), NOW) == Nothing("DEPLOYED")
    old = seen("RUNNING", checkpoint_at=NOW - 120)  # before this submission
    assert decide(s, running(s), old, NOW) == Nothing("DEPLOYED")
    assert decide(s, running(s), seen("RUNNING", checkpoint_at=NOW - 5), NOW) == Nothing("STABLE")


@pytest.mark.parametrize(
    ("mode", "with_savepoint"), [("savepoint", True), ("last-state", False), ("stateless", False)]
)
def test_a_parallelism_change_restarts_by_the_upgrade_mode(mode, with_savepoint):
    before = spec(upgradeMode=mode, parallelism=1)
    after = spec(upgradeMode=mode, parallelism=2)
    action = decide(after, running(before), seen("RUNNING"), NOW)
    assert isinstance(action, Stop)
    assert (action.savepoint, action.then, action.reason) == (
        with_savepoint,
        "resubmit",
        "Upgrading",
    )


def test_state_and_lag_settings_do_not_count_as_an_upgrade():
    before = spec()
    after = FlinkSqlJobSpec.model_validate(
        {**before.model_dump(by_alias=True), "lagAlert": {"maxLagRecords": 5}}
    )
    assert decide(after, running(before), seen("RUNNING"), NOW) == Nothing("DEPLOYED")


def test_after_an_upgrade_stop_the_job_is_resubmitted_from_the_savepoint():
    s = spec(parallelism=2)
    status = Status(lifecycle="UPGRADING", job_id=None, savepoints=(SP,), last_applied="{}")
    action = decide(s, status, seen(None), NOW)
    assert action == Submit(SP.path, "Upgraded", f"resubmitting the job from {SP.path}")


def test_last_state_resumes_from_the_retained_checkpoint():
    s = spec(upgradeMode="last-state")
    status = Status(lifecycle="UPGRADING", savepoints=(SP,), checkpoint_path="file:///cp/chk-7")
    assert decide(s, status, seen(None), NOW).from_path == "file:///cp/chk-7"


def test_stateless_resubmits_without_state():
    s = spec(upgradeMode="stateless")
    status = Status(lifecycle="UPGRADING", savepoints=(SP,), checkpoint_path="file:///cp/chk-7")
    assert decide(s, status, seen(None), NOW).from_path is None


def test_suspend_stops_with_a_savepoint_and_resume_starts_from_it():
    s = spec(state="suspended")
    action = decide(s, running(spec()), seen("RUNNING"), NOW)
    assert (action.savepoint, action.then) == (True, "suspend")
    suspended = Status(lifecycle="SUSPENDED", savepoints=(SP,), last_applied=applied_key(s))
    assert decide(s, suspended, seen(None), NOW) == Nothing("SUSPENDED")
    resumed = decide(spec(), suspended, seen(None), NOW)
    assert resumed == Submit(SP.path, "Resumed", f"resubmitting the job from {SP.path}")


def test_stateless_suspend_cancels():
    action = decide(
        spec(state="suspended", upgradeMode="stateless"), running(spec()), seen("RUNNING"), NOW
    )
    assert (action.savepoint, action.then) == (False, "suspend")


def test_a_restart_nonce_restarts_once():
    s = spec(restartNonce=3)
    action = decide(s, running(s, nonce=2), seen("RUNNING"), NOW)
    assert isinstance(action, Stop) and action.reason == "Restarting"
    assert decide(s, running(s, nonce=3), seen("RUNNING"), NOW) == Nothing("DEPLOYED")


@pytest.mark.parametrize("lost", ["FAILED", "CANCELED", "MISSING"])
def test_a_lost_job_is_resubmitted_from_its_newest_state(lost):
    s = spec()
    status = running(s, savepoints=(SP,), checkpoint_path="file:///cp/chk-9")
    action = decide(s, status, seen(lost, failure="boom"), NOW)
    assert isinstance(action, Submit) and action.counts_as_restart
    assert action.from_path == "file:///cp/chk-9"
    assert action.reason == "Recovered"
    assert action.message.startswith(f"the Flink job was {lost}: boom; resubmitting it (1 of 5)")


def test_recovery_backs_off_exponentially_then_gives_up():
    s = spec(restartPolicy={"maxRestarts": 3, "backoffSeconds": 10})
    # the second resubmission waits 10 s after the first, the third 20 s after the second
    status = running(s, restart_count=1, last_restart_at=NOW - 5)
    action = decide(s, status, seen("FAILED"), NOW)
    assert isinstance(action, Wait) and action.reason == "BackingOff" and action.retry_in == 5
    assert isinstance(
        decide(s, running(s, restart_count=1, last_restart_at=NOW - 10), seen("FAILED"), NOW),
        Submit,
    )
    waiting = decide(s, running(s, restart_count=2, last_restart_at=NOW - 15), seen("FAILED"), NOW)
    assert isinstance(waiting, Wait) and waiting.retry_in == 5
    gave_up = decide(s, running(s, restart_count=3, last_restart_at=NOW - 999), seen("FAILED"), NOW)
    assert isinstance(gave_up, GiveUp) and gave_up.reason == "RestartLimitReached"
    assert "spec.restartPolicy.maxRestarts: 3" in gave_up.message


def test_a_failed_resource_waits_for_a_change_then_retries():
    s = spec()
    failed = running(s, lifecycle="FAILED", restart_count=5)
    assert decide(s, failed, seen("FAILED"), NOW).lifecycle == "FAILED"
    changed = spec(parallelism=3)
    action = decide(changed, failed, seen("FAILED"), NOW)
    assert isinstance(action, Submit) and action.reason == "Retried"


def test_a_finished_job_is_not_restarted():
    s = spec()
    assert decide(s, running(s), seen("FINISHED"), NOW) == Nothing(
        "FINISHED", "the Flink job finished"
    )


def test_delete_follows_the_deletion_policy():
    assert decide_delete(spec(), seen("RUNNING")).savepoint is True
    cancel = spec(deletionPolicy="cancel")
    assert decide_delete(cancel, seen("RUNNING")).savepoint is False
    assert decide_delete(cancel, seen("CANCELED")) == Nothing("DELETING", "no Flink job runs")
    assert isinstance(decide_delete(spec(), Observation(False)), Wait)


def test_restore_point_prefers_the_checkpoint_after_a_failure_only():
    s = spec()
    status = Status(savepoints=(SP,), checkpoint_path="file:///cp/chk-1")
    assert restore_point(s, status, for_failure=False) == SP.path
    assert restore_point(s, status, for_failure=True) == "file:///cp/chk-1"


def test_savepoint_history_is_newest_first_and_bounded():
    entries = tuple(SavepointEntry(f"file:///sp/{i}", "t", "r") for i in range(3))
    kept = savepoint_history(entries, SavepointEntry("file:///sp/new", "t2", "Suspending"), keep=3)
    assert [e["path"] for e in kept] == ["file:///sp/new", "file:///sp/0", "file:///sp/1"]


def test_condition_keeps_its_transition_time_while_the_status_holds():
    first = condition([], "Ready", True, "Stable", "", "T1")
    again = condition(first, "Ready", True, "Stable", "still", "T2")
    flipped = condition(again, "Ready", False, "Failed", "x", "T3")
    assert [c["lastTransitionTime"] for c in (first[0], again[0], flipped[0])] == ["T1", "T1", "T3"]


def test_status_round_trips_from_the_resource():
    status = status_from_dict(
        {
            "lifecycleState": "STABLE",
            "jobStatus": {
                "jobId": "abc",
                "submittedAtEpoch": 5.0,
                "lastCheckpoint": {"path": "file:///cp/chk-2"},
                "savepointHistory": [{"path": "p", "takenAt": "t", "reason": "r"}],
            },
            "restarts": {"count": 2, "lastAtEpoch": 7.0, "nonce": 4},
        }
    )
    assert status == Status(
        "STABLE", "abc", None, (SavepointEntry("p", "t", "r"),), "file:///cp/chk-2", 2, 7.0, 4, 5.0
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"kafka": {"bootstrapServers": "k:9092", "securityProtocol": "SASL_SSL"}},
            "spec.kafka.saslMechanism",
        ),
        (
            {
                "kafka": {
                    "bootstrapServers": "k:9092",
                    "securityProtocol": "SASL_SSL",
                    "saslMechanism": "PLAIN",
                }
            },
            "spec.kafka.credentialsSecretRef",
        ),
        (
            {"kafka": {"bootstrapServers": "k:9092", "credentialsSecretRef": {"name": "s"}}},
            "spec.kafka.credentialsSecretRef",
        ),
        (
            {
                "job": {
                    "pipeline": "advertisex-pipeline",
                    "flinkConfiguration": {"parallelism.default": "4"},
                }
            },
            "spec.job.flinkConfiguration.parallelism.default",
        ),
    ],
)
def test_validate_names_the_field_the_schema_cannot_check(change, field):
    body = {**spec().model_dump(by_alias=True, exclude_none=True), **change}
    message = validate_spec(FlinkSqlJobSpec.model_validate(body), True, True)
    assert message is not None and message.startswith(field)


def test_validate_needs_a_flink_address_from_spec_or_defaults():
    bare = FlinkSqlJobSpec.model_validate({"job": {"pipeline": "advertisex-pipeline"}})
    assert validate_spec(bare, True, False).startswith("spec.flink.restUrl")
    assert validate_spec(bare, False, True).startswith("spec.kafka.bootstrapServers")
    assert validate_spec(bare, True, True) is None
