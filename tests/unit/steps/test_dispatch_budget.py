"""Spend budgets (issue 13, item 2): each submission reserves its price in today's and this month's
spend with one conditional write before the provider is called; a job that would pass a budget waits
for the next period or a raised budget (or fails with BUDGET_EXCEEDED when the stack says so); a
submission the provider certainly refused gives its reservation back; reused videos cost nothing.
Intake, dispatch and store are the real steps on the in-memory adapters (the ``pipeline`` fixture)."""

from __future__ import annotations

import dataclasses

import pytest

from i2v.contracts.errors import ErrorCode
from i2v.contracts.status import JobStatus
from i2v.provider.errors import ProviderAccountError, ProviderRejected, ProviderUnavailable, SubmitReplyLost
from i2v.spend import Budget, Periods
from i2v.steps import dispatch as dispatch_step
from i2v.steps.dispatch import BUDGET_RECHECK_SECONDS

DAY = 86400.0


def _spent(p) -> tuple[float, float]:
    return p.spend.totals(Periods.at(p.clock()))


def _images(image_data, n: int) -> list[bytes]:
    return [image_data(640 + 2 * i, 480) for i in range(n)]  # n different contents


# --- a job that would pass the budget waits ----------------------------------------------------------


def test_a_job_that_would_pass_the_daily_budget_waits_and_nothing_is_sent(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=0.26))
    ids = [p.upload(f"uploads/{i}.png", data) for i, data in enumerate(_images(image_data, 4))]
    done = p.dispatch()
    assert done.started == 2 and done.stopped == "stopped: budget"
    assert p.paid() == 2 and len(p.provider.submitted) == 2 and _spent(p) == (0.26, 0.26)
    waiting = p.jobs.items[ids[2]]
    assert waiting["status"] == JobStatus.QUEUED and p.jobs.items[ids[3]]["status"] == JobStatus.QUEUED
    now = p.clock()
    assert waiting["not_before"] == pytest.approx(now + BUDGET_RECHECK_SECONDS)  # a raised budget is seen soon
    assert p.waker.later[-1] == pytest.approx(BUDGET_RECHECK_SECONDS)
    assert p.capacity.in_flight() == 2  # the waiting job gave its slot back
    assert p.backlog.size() == 2


def test_the_waiting_jobs_start_the_next_day(pipeline, image_data, clock):
    p = pipeline(budget=Budget(daily_usd=0.26))
    for i, data in enumerate(_images(image_data, 4)):
        p.upload(f"uploads/{i}.png", data)
    p.dispatch()
    p.finish()
    for _ in range(3):  # every recheck in the same day finds the budget spent
        clock.advance(BUDGET_RECHECK_SECONDS)
        assert p.dispatch().started == 0
    assert p.paid() == 2
    clock.now = Periods.at(clock()).next_day + 1
    assert p.dispatch().started == 2 and p.paid() == 4
    assert _spent(p) == (0.26, 0.52)  # a new day; the same month


def test_a_raised_budget_is_seen_at_the_next_recheck(pipeline, image_data, clock):
    p = pipeline(budget=Budget(daily_usd=0.13))
    p.upload("uploads/a.png", image_data(640, 480))
    late = p.upload("uploads/b.png", image_data(642, 480))
    p.dispatch()
    assert p.paid() == 1 and p.jobs.items[late]["status"] == JobStatus.QUEUED
    p.settings = dataclasses.replace(p.settings, budget=Budget(daily_usd=1.0))  # a new deployment's setting
    clock.advance(60)
    assert p.dispatch().started == 0  # the job's recheck time has not come yet
    clock.advance(BUDGET_RECHECK_SECONDS)
    assert p.dispatch().started == 1 and p.jobs.items[late]["status"] == JobStatus.GENERATING


def test_the_monthly_budget_holds_across_days(pipeline, image_data, clock):
    p = pipeline(budget=Budget(daily_usd=10.0, monthly_usd=0.39))
    for day in range(5):
        p.upload(f"uploads/{day}.png", image_data(640 + 2 * day, 480))
        p.dispatch()
        p.finish()
        clock.now = Periods.at(clock()).next_day + 1
    assert p.paid() == 3 and _spent(p) == (0.0, 0.39)  # now 2026-01-06: the month's 0.39 went in 3 days
    assert p.spend.usd["month#2026-01"] == 0.39
    waiting = [j for j, item in p.jobs.items.items() if item["status"] == JobStatus.QUEUED]
    assert len(waiting) == 2
    clock.now = Periods.at(clock()).next_month + 1
    assert p.dispatch().started == 2 and p.paid() == 5


def test_a_job_dearer_than_the_whole_budget_waits_without_a_write(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=0.5))
    job = p.upload("uploads/pro.png", image_data(), {"mode": "Professional", "duration": "10"})  # $0.95
    before = p.meter.counts["dynamodb.TransactWriteItems"]
    assert p.dispatch().started == 0
    assert p.meter.counts["dynamodb.TransactWriteItems"] == before and _spent(p) == (0.0, 0.0)
    assert p.jobs.items[job]["status"] == JobStatus.QUEUED and p.paid() == 0


def test_budget_waits_are_counted(pipeline, image_data, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(dispatch_step.metrics, "add_metric", lambda name, unit, value: seen.append(name))
    p = pipeline(budget=Budget(daily_usd=0.13))
    for i, data in enumerate(_images(image_data, 2)):
        p.upload(f"uploads/{i}.png", data)
    p.dispatch()
    assert seen.count("BudgetWaits") == 1


def test_the_scheduled_run_reports_spend_so_far(pipeline, image_data, monkeypatch):
    seen: dict[str, float] = {}
    monkeypatch.setattr(dispatch_step.metrics, "add_metric",
                        lambda name, unit, value: seen.__setitem__(name, value))
    p = pipeline()
    p.upload("uploads/a.png", image_data(), {"mode": "Professional"})
    p.dispatch(report=True)
    p.dispatch(report=True)
    assert seen["SpendTodayUsd"] == 0.475 and seen["SpendMonthUsd"] == 0.475


# --- ... or fails, if the stack says so -------------------------------------------------------------------


def test_budget_action_fail_fails_the_job_with_budget_exceeded(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=0.13, action="fail"))
    first = p.upload("uploads/a.png", image_data(640, 480))
    second = p.upload("uploads/b.png", image_data(642, 480))
    done = p.dispatch()
    assert done.started == 1 and done.failed == 1
    notes = {n["job_id"]: n for n in p.finish()}
    assert notes[first]["status"] == "SUCCEEDED" and notes[first]["cost"] == {"estimated_usd": 0.13}
    failed = notes[second]
    assert failed["status"] == "FAILED" and failed["cost"] == {"estimated_usd": 0.0}
    assert failed["error"]["code"] == ErrorCode.BUDGET_EXCEEDED and failed["error"]["stage"] == "submit"
    assert "daily budget of $0.13" in failed["error"]["message"] and "budgetAction=fail" in failed["error"]["message"]
    assert p.paid() == 1 and p.capacity.in_flight() == 0 and p.backlog.size() == 0
    assert p.jobs.items[second].get("content_key") not in p.contents.items  # its content is free for the next job


# --- refunds: the provider certainly created nothing ----------------------------------------------------


@pytest.mark.parametrize("refusal", [ProviderRejected("ILLEGAL_IMAGE", "no", 400),
                                     ProviderAccountError("ACCOUNT_BALANCE_NOT_ENOUGH", "pay", 402),
                                     ProviderUnavailable("CREATE_TASK_FAILED", "boom", 500)])
def test_a_refusal_gives_the_reservation_back(pipeline, image_data, refusal):
    p = pipeline(budget=Budget(daily_usd=0.13))
    p.upload("uploads/a.png", image_data())
    p.provider.replies = [refusal]
    p.dispatch()
    assert p.paid() == 0 and len(p.provider.submitted) == 1
    assert _spent(p) == (0.0, 0.0)
    p.clock.advance(1000)  # a retryable refusal waits out its backoff
    p.upload("uploads/b.png", image_data(700, 480))
    p.run()
    assert p.paid() >= 1 and _spent(p)[0] == 0.13  # the refunded budget is there for the next job


def test_a_lost_reply_keeps_its_reservation_it_may_be_paid(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=0.13))
    job = p.upload("uploads/a.png", image_data())
    p.provider.replies = [SubmitReplyLost("SUBMIT_OUTCOME_UNKNOWN", "read timeout")]
    p.dispatch()
    [note] = p.finish()
    assert note["job_id"] == job and note["error"]["code"] == ErrorCode.SUBMIT_OUTCOME_UNKNOWN
    assert _spent(p) == (0.13, 0.13)


def test_a_replayed_submission_whose_outcome_is_unknown_reserves_nothing_more(pipeline, image_data):
    """A dispatcher died after sending the job (its reservation stands); the next one finds the intent
    record, sends nothing and must not count the price a second time."""
    p = pipeline(budget=Budget(daily_usd=1.0))
    job = p.upload("uploads/a.png", image_data())
    p.spend.usd = {"day#2026-01-01": 0.13, "month#2026-01": 0.13}  # the dead dispatcher's reservation
    p.jobs.items[job]["submit_started_at"] = "2026-01-01T00:00:00.000Z"
    p.dispatch()
    assert p.provider.submitted == [] and _spent(p) == (0.13, 0.13)
    assert p.workflow.executions[f"job-{job}"]["error"]["code"] == ErrorCode.SUBMIT_OUTCOME_UNKNOWN


def test_a_ledger_that_fails_gives_the_slot_back_and_sends_nothing(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=1.0))
    job = p.upload("uploads/a.png", image_data())

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB is down")

    p.spend.reserve = broken
    with pytest.raises(RuntimeError):
        p.dispatch()
    assert p.capacity.in_flight() == 0 and p.provider.submitted == []
    assert p.jobs.items[job]["status"] == JobStatus.SUBMITTING  # its claim runs out; the next dispatcher retries


# --- reused videos cost nothing -----------------------------------------------------------------------


def test_reused_videos_cost_nothing_and_go_on_when_the_budget_is_spent(pipeline, image_data):
    p = pipeline(budget=Budget(daily_usd=0.13))
    image = image_data(640, 480)
    first = p.upload("uploads/a.png", image)
    p.upload("uploads/other.png", image_data(700, 480))  # another content: no budget left for it
    for i in range(3):
        p.upload(f"uploads/copies/{i}.png", image)
    notes = p.run(rounds=6)
    assert p.paid() == 1 and _spent(p) == (0.13, 0.13)
    reused = [n for n in notes if n.get("reused_from") == first]
    assert len(reused) == 3 and all(n["cost"] == {"estimated_usd": 0.0} for n in reused)
    assert p.jobs.items[p.job_of("uploads/other.png")]["status"] == JobStatus.QUEUED


def test_the_notification_carries_the_price_of_its_mode_and_duration(pipeline, image_data):
    p = pipeline(prices={"Professional": {"10": 0.9}})
    cases = [({}, 0.13), ({"duration": "10"}, 0.26), ({"mode": "Professional"}, 0.475),
             ({"mode": "Professional", "duration": "10"}, 0.9)]
    for i, (meta, _) in enumerate(cases):
        p.upload(f"uploads/{i}.png", image_data(640 + 2 * i, 480), meta)
    notes = {n["source"]["key"]: n for n in p.run()}
    assert [notes[f"uploads/{i}.png"]["cost"]["estimated_usd"] for i in range(len(cases))] == [c for _, c in cases]
    assert _spent(p) == (pytest.approx(1.765), pytest.approx(1.765))
    assert all(p.jobs.items[p.job_of(f"uploads/{i}.png")]["price_usd"] == c for i, (_, c) in enumerate(cases))


def test_no_ledger_no_budget(pipeline, image_data):
    p = pipeline(spend=False, budget=Budget(daily_usd=0.0))
    for i, data in enumerate(_images(image_data, 3)):
        p.upload(f"uploads/{i}.png", data)
    assert p.dispatch().started == 3


# --- under concurrency the budget is never passed -----------------------------------------------------------


def test_concurrent_dispatchers_never_pass_the_budget(pipeline, image_data):
    """While one dispatcher talks to the provider, other dispatchers run in full (nested three deep): the
    reservations are conditional writes, so the day's spend never passes the budget."""
    p = pipeline(budget=Budget(daily_usd=0.65))  # five Standard 5 s videos
    for i, data in enumerate(_images(image_data, 12)):
        p.upload(f"uploads/{i}.png", data)
    inner = [p.dispatcher() for _ in range(3)]
    p.provider.replies = [lambda request, d=d: d.run(lambda: 900.0) for d in inner]
    p.dispatch()
    for _ in range(3):
        p.finish()
        p.clock.advance(BUDGET_RECHECK_SECONDS + 1)
        p.dispatch()
    assert p.paid() == 5 and _spent(p)[0] == pytest.approx(0.65)
    assert _spent(p)[0] <= 0.65 + 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_interleaved_reservations_never_pass_the_budget(pipeline, image_data, seed):
    """Reservations and refunds of many dispatchers in any order: the spend stays within the budget and
    equals the price of what the provider accepted."""
    import random

    rng = random.Random(seed)
    p = pipeline(budget=Budget(daily_usd=1.0, monthly_usd=1.5))
    for i, data in enumerate(_images(image_data, 10)):
        p.upload(f"uploads/{i}.png", data, {"mode": rng.choice(["Standard", "Professional"]),
                                             "duration": rng.choice(["5", "10"])})
    p.provider.replies = [ProviderRejected("ILLEGAL_IMAGE", "no", 400) if rng.random() < 0.3
                          else (lambda request: None) for _ in range(20)]
    for _ in range(6):
        p.dispatch()
        p.finish()
        p.clock.advance(BUDGET_RECHECK_SECONDS + 1)
    day, month = _spent(p)
    assert day <= 1.0 + 1e-9 and month <= 1.5 + 1e-9
    accepted = sum(p.settings.prices[r.mode][r.duration] for r in p.provider.tasks.values())
    assert day == pytest.approx(accepted)
