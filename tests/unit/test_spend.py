"""Spend budgets' rules: UTC periods, and reserving a price or saying which budget is full (i2v.spend)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from i2v.spend import Budget, BudgetReached, Periods, reserve
from i2v_local.memory import MemorySpend


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_periods_are_utc_days_and_months():
    p = Periods.at(at("2026-12-31T23:59:59"))
    assert (p.day, p.month) == ("2026-12-31", "2026-12")
    assert p.next_day == at("2027-01-01T00:00:00") == p.next_month


@pytest.mark.parametrize("moment, next_month", [("2026-01-31T12:00:00", "2026-02-01T00:00:00"),
                                                ("2026-02-01T00:00:00", "2026-03-01T00:00:00"),
                                                ("2028-02-29T08:00:00", "2028-03-01T00:00:00"),
                                                ("2026-07-15T00:00:01", "2026-08-01T00:00:00")])
def test_the_next_month_starts_on_its_first_day(moment, next_month):
    p = Periods.at(at(moment))
    assert p.next_month == at(next_month)
    assert p.next_day == at(moment[:10] + "T00:00:00") + 86400


def test_reserving_within_the_budgets_adds_to_both_periods():
    ledger, now = MemorySpend(), at("2026-03-10T10:00:00")
    reserve(ledger, 0.13, Budget(daily_usd=1.0, monthly_usd=10.0), now)
    reserve(ledger, 0.95, Budget(), now)  # no limit
    assert ledger.totals(Periods.at(now)) == (1.08, 1.08)


def test_a_full_day_says_so_and_when_it_starts_again():
    ledger, now = MemorySpend(), at("2026-03-10T10:00:00")
    reserve(ledger, 0.26, Budget(daily_usd=0.3), now)
    with pytest.raises(BudgetReached) as info:
        reserve(ledger, 0.13, Budget(daily_usd=0.3), now)
    assert info.value.retry_at == at("2026-03-11T00:00:00")
    assert info.value.message == "the daily budget of $0.30 would be passed by a $0.13 video"
    assert ledger.totals(Periods.at(now)) == (0.26, 0.26)  # nothing added by the refused reservation


def test_a_full_month_says_so_and_when_it_starts_again():
    ledger, now = MemorySpend(), at("2026-03-10T10:00:00")
    reserve(ledger, 0.95, Budget(monthly_usd=1.0), now)
    with pytest.raises(BudgetReached) as info:
        reserve(ledger, 0.13, Budget(daily_usd=5.0, monthly_usd=1.0), now)
    assert info.value.retry_at == at("2026-04-01T00:00:00")
    assert "monthly budget of $1.00" in info.value.message


def test_exactly_the_budget_is_allowed_and_a_cent_more_is_not():
    ledger, now = MemorySpend(), at("2026-03-10T10:00:00")
    for _ in range(3):
        reserve(ledger, 0.13, Budget(daily_usd=0.39), now)
    with pytest.raises(BudgetReached):
        reserve(ledger, 0.01, Budget(daily_usd=0.39), now)
    assert ledger.totals(Periods.at(now))[0] == pytest.approx(0.39)


def test_a_free_video_fits_any_budget():
    ledger, now = MemorySpend(), at("2026-03-10T10:00:00")
    reserve(ledger, 0.0, Budget(daily_usd=0.0), now)


def test_a_refund_goes_back_to_the_periods_it_was_reserved_in():
    ledger, reserved = MemorySpend(), at("2026-03-31T23:59:59")
    reserve(ledger, 0.13, Budget(daily_usd=0.13), reserved)
    ledger.refund(0.13, Periods.at(reserved))
    assert ledger.totals(Periods.at(reserved)) == (0.0, 0.0)
    reserve(ledger, 0.13, Budget(daily_usd=0.13), reserved)  # the budget is free again
