"""Time helpers (i2v.clock)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from i2v.clock import iso, parse_iso


def test_iso_is_utc_with_milliseconds_and_z():
    assert iso(1_767_225_600.25) == "2026-01-01T00:00:00.250Z"


@given(st.integers(0, 4_000_000_000_000))
def test_parse_iso_undoes_iso_to_the_millisecond(millis):
    assert round(parse_iso(iso(millis / 1000)) * 1000) == millis


def test_parse_iso_accepts_offsets():
    assert parse_iso("2026-01-01T01:00:00+01:00") == parse_iso("2026-01-01T00:00:00Z")
