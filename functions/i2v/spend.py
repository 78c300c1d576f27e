"""Spend budgets: what the provider's videos cost today and this month, against the stack's limits.

A submission first reserves its price in both periods with one conditional write (the same discipline
as the capacity leases): it goes through only if neither budget would be passed, so concurrent
dispatchers can never overspend. A submission the provider certainly refused gives its reservation
back. Periods are UTC days and months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from i2v import constants as c

WAIT, FAIL, BUDGET_ACTIONS = c.BUDGET_WAIT, c.BUDGET_FAIL, c.BUDGET_ACTIONS


@dataclass(frozen=True)
class Periods:
    day: str  # 2026-12-02
    month: str  # 2026-12
    next_day: float  # when the day's budget starts again
    next_month: float

    @classmethod
    def at(cls, now: float) -> Periods:
        moment = datetime.fromtimestamp(now, tz=UTC)
        start_of_day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start_of_month = start_of_day.replace(day=1)
        next_month = (start_of_month + timedelta(days=32)).replace(day=1)
        return cls(day=moment.strftime("%Y-%m-%d"), month=moment.strftime("%Y-%m"),
                   next_day=(start_of_day + timedelta(days=1)).timestamp(), next_month=next_month.timestamp())


@dataclass(frozen=True)
class Budget:
    daily_usd: float | None = None  # None: no limit
    monthly_usd: float | None = None
    action: str = WAIT


class BudgetReached(Exception):
    """Reserving this price would pass a budget; ``retry_at``: when the period that is full starts again."""

    def __init__(self, message: str, retry_at: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at


class SpendLedger(Protocol):
    def reserve(self, usd: float, periods: Periods, budget: Budget) -> str | None:
        """Add ``usd`` to both periods if neither budget is passed; else the name of the full one ("day"/"month")."""
        ...

    def refund(self, usd: float, periods: Periods) -> None: ...

    def totals(self, periods: Periods) -> tuple[float, float]:
        """Spent so far (day, month)."""
        ...


def reserve(ledger: SpendLedger, usd: float, budget: Budget, now: float) -> None:
    """Reserve a submission's price or raise BudgetReached saying which budget and until when."""
    periods = Periods.at(now)
    full = ledger.reserve(usd, periods, budget)
    if full is None:
        return
    limit = budget.daily_usd if full == "day" else budget.monthly_usd
    until = periods.next_day if full == "day" else periods.next_month
    raise BudgetReached(f"the {'daily' if full == 'day' else 'monthly'} budget of ${limit:.2f} would be passed by a "
                        f"${usd:.2f} video", retry_at=until)
