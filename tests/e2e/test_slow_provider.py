"""A slow provider, in a local run: every limit comes from one time budget (i2v.constants), so a slow
reply ends as a bounded provider error inside the function, never as a function timeout mid-submission."""

from __future__ import annotations

import pytest

from i2v import constants as c
from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e


def test_a_provider_slower_than_usual_still_delivers():
    with Pipeline(sim_knobs={"reply_delay_seconds": 1.0}) as p:
        p.put("uploads/slow.png", image_bytes())
        notes = p.wait_for(1, timeout=120)
        errors = list(p.cloud.lambdas.errors)
    assert notes[0]["notification"]["status"] == "SUCCEEDED", notes[0]["notification"]["error"]
    assert errors == []  # no function failed or timed out


def test_a_reply_slower_than_the_budget_is_a_lost_reply_never_a_second_payment(monkeypatch):
    """The provider answers after the read timeout: the submission is a lost reply (it may be billed), the
    job ends in one SUBMIT_OUTCOME_UNKNOWN notification, and nothing is submitted twice."""
    monkeypatch.setattr(c, "PROVIDER_READ_SECONDS", 1)  # the budget, scaled down for the test
    with Pipeline(sim_knobs={"reply_delay_seconds": 2.5}) as p:
        p.put("uploads/late.png", image_bytes())
        notes = p.wait_for(1, timeout=120, settle=3)
        stats = p.sim.stats()
        errors = list(p.cloud.lambdas.errors)
    assert [n["notification"]["error"]["code"] for n in notes] == ["SUBMIT_OUTCOME_UNKNOWN"]
    assert stats["submit_requests"] == 1 and stats["tasks_created"] == 1
    assert errors == []  # the read timeout ended the call, not the function's timeout
