"""How long to wait before asking the provider again.

Uses the provider's ``eta`` and ``progress_percent`` hints when present, and otherwise what is
known about generation times per mode, so a finished video is noticed within seconds without
polling more often than a fixed 30 s timer would. All values are provider seconds (unscaled).
"""

from __future__ import annotations

from dataclasses import dataclass

from i2v.provider.models import STATUS_QUEUED

# Observed generation times (docs/provider.md): Standard about 1 to 3 minutes, Professional 5 to 7.
GENERATION_PRIOR = {"Standard": (60.0, 180.0), "Professional": (300.0, 420.0)}


@dataclass(frozen=True)
class PollingPolicy:
    min_wait: float = 2.0
    max_wait: float = 60.0
    first_poll_fraction: float = 0.9  # first look at 90 % of the shortest usual generation time
    hint_fraction: float = 0.85  # trust a hint's remaining time this much (hints can be wrong)
    close_range: float = 12.0  # below this estimated remaining time, wait it out exactly
    blind_step: float = 8.0  # no hint and inside the usual window: a short steady step (see make bench)
    late_step: float = 15.0  # past the usual window without hints

    def first_wait(self, mode: str) -> float:
        low, _high = GENERATION_PRIOR.get(mode, GENERATION_PRIOR["Standard"])
        return max(self.min_wait, low * self.first_poll_fraction)

    def remaining_hint(self, elapsed: float, eta: float | None, progress: float | None) -> float | None:
        """Seconds left according to the provider, or None when it gave no usable hint."""
        if eta is not None and eta > 0:
            return eta
        if progress is not None and 0 < progress < 100 and elapsed > 0:
            return elapsed * (100.0 - progress) / progress
        return None

    def next_wait(self, mode: str, status: str, elapsed: float, eta: float | None = None,
                  progress: float | None = None) -> float:
        """Seconds to wait, given the status seen after ``elapsed`` seconds since submission."""
        low, high = GENERATION_PRIOR.get(mode, GENERATION_PRIOR["Standard"])
        elapsed = max(0.0, elapsed)  # clock skew between submitter and poller
        remaining = self.remaining_hint(elapsed, eta, progress)
        if remaining is not None:
            if remaining <= self.close_range:
                return self._clamp(remaining)
            return self._clamp(remaining * self.hint_fraction)
        if status == STATUS_QUEUED or elapsed < low * self.first_poll_fraction:
            return max(self.min_wait, low * self.first_poll_fraction - elapsed, self.blind_step)
        return self._clamp(self.blind_step if elapsed < high else self.late_step)

    def _clamp(self, seconds: float) -> float:
        return max(self.min_wait, min(self.max_wait, seconds))


DEFAULT_POLICY = PollingPolicy()


def scaled(seconds: float, time_scale: float) -> int:
    """Wait states take whole seconds; local runs divide by the simulator's speed factor."""
    return max(1, round(seconds / time_scale))
