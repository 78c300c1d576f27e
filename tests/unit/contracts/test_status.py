"""Job statuses, poll states, stages and priorities (i2v.contracts.status), held against their readers."""

from __future__ import annotations

import json

from i2v.contracts.status import JobStatus, PollState, Priority, Stage
from support import ROOT, SCHEMA_PATH

ASL = ROOT / "infra" / "i2v_infra" / "workflow" / "pipeline.asl.json"


def test_a_job_moves_through_the_statuses_in_order():
    assert [s.value for s in JobStatus] == ["RECEIVED", "HELD", "QUEUED", "SUBMITTING", "GENERATING", "STORING",
                                            "FAILING", "SUCCEEDED", "FAILED", "DEAD_LETTER", "CLAIMED"]


def test_started_means_it_left_the_backlog_for_good():
    started = {s for s in JobStatus if s.started}
    assert started == {JobStatus.GENERATING, JobStatus.STORING, JobStatus.FAILING, JobStatus.SUCCEEDED,
                       JobStatus.FAILED, JobStatus.CLAIMED}  # CLAIMED: a job file's input, never a job
    assert not JobStatus.SUBMITTING.started  # a dispatcher that died mid-way leaves it to be taken again


def test_only_succeeded_and_failed_are_ends():
    assert {s for s in JobStatus if s.ended} == {JobStatus.SUCCEEDED, JobStatus.FAILED}
    assert all(s.started for s in JobStatus if s.ended)


def test_statuses_are_their_strings():
    assert JobStatus("QUEUED") is JobStatus.QUEUED
    assert JobStatus.QUEUED == "QUEUED" and f"{JobStatus.QUEUED}" == "QUEUED"


def test_the_poll_states_the_workflow_compares_are_poll_states():
    states = json.loads(ASL.read_text())["States"]
    compared = {choice["StringEquals"] for choice in states["IsVideoReady"]["Choices"]
                if choice["Variable"] == "$.poll.state"}
    assert compared == {PollState.SUCCEEDED.value, PollState.FAILED.value}
    assert states["IsVideoReady"]["Default"] == "WaitBeforePolling"  # WAITING is the default branch


def test_stages_are_the_notifications_stages():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert [s.value for s in Stage] == schema["properties"]["error"]["oneOf"][1]["properties"]["stage"]["enum"]


def test_high_goes_before_normal_before_low():
    assert sorted(Priority, key=lambda p: p.rank) == [Priority.HIGH, Priority.NORMAL, Priority.LOW]
    assert len({p.rank for p in Priority}) == len(Priority)


def test_priorities_are_the_lower_case_words_the_job_uses():
    assert [p.value for p in Priority] == ["high", "normal", "low"]
