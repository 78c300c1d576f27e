"""What a video costs at the provider: a price per mode and duration, the stack's table over these defaults.

The defaults span the provider's published range ($0.13 for 5 s Standard to $0.95 for 10 s
Professional); a stack overrides any entry with the `prices` knob. Budgets, the notification's
``cost.estimated_usd`` and the savings of reused videos all price a job with ``price_for``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from i2v import constants as c

DEFAULT_PRICES: Mapping[str, Mapping[int, float]] = {
    "Standard": {5: 0.13, 10: 0.26},
    "Professional": {5: 0.475, 10: 0.95},
}


class PriceTableError(ValueError):
    """A price table the pipeline cannot use; the message names the entry."""


def price_table(overrides: Mapping[str, Any] | None) -> dict[str, dict[int, float]]:
    """The defaults with ``overrides`` ({"Professional": {"10": 0.9}, ...}) applied, checked."""
    table = {mode: dict(durations) for mode, durations in DEFAULT_PRICES.items()}
    for mode, durations in (overrides or {}).items():
        if mode not in c.MODES:
            raise PriceTableError(f"prices: unknown mode {mode!r}; expected {', '.join(c.MODES)}")
        if not isinstance(durations, Mapping):
            raise PriceTableError(f"prices.{mode} must map durations (5, 10) to dollars, got {durations!r}")
        for duration, price in durations.items():
            try:
                seconds = int(duration)
            except (TypeError, ValueError):
                seconds = -1
            if seconds not in c.DURATIONS:
                raise PriceTableError(f"prices.{mode}: unknown duration {duration!r}; expected 5 or 10")
            if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) \
                    or not 0 <= price <= 100:
                raise PriceTableError(f"prices.{mode}.{duration} must be a number of dollars from 0 to 100, "
                                      f"got {price!r}")
            table[mode][seconds] = float(price)
    return table


def price_for(table: Mapping[str, Mapping[int, float]], mode: str, duration: int) -> float:
    return float(table.get(mode, table["Standard"]).get(duration, 0.0))


def to_json(table: Mapping[str, Mapping[int, float]]) -> dict[str, dict[str, float]]:
    return {mode: {str(d): p for d, p in durations.items()} for mode, durations in table.items()}
