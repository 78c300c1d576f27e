"""The one backoff rule: exponential with a cap, jittered once ("equal jitter": half fixed, half random).

Used wherever something is tried again later: provider rate limits and errors at submission, result
API errors while polling, DynamoDB's unprocessed keys.
"""

from __future__ import annotations

import random


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before try number ``attempt + 1`` (``attempt`` >= 1 tries have failed)."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    draw: float = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2
