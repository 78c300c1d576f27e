"""What a video costs at the provider: the price table and its overrides (i2v.contracts.prices)."""

from __future__ import annotations

import json
import math

import pytest

from i2v import constants as c
from i2v.contracts.prices import DEFAULT_PRICES, PriceTableError, price_for, price_table, to_json


def test_the_defaults_span_the_providers_published_prices():
    assert price_table({}) == price_table(None) == {"Standard": {5: 0.13, 10: 0.26},
                                                    "Professional": {5: 0.475, 10: 0.95}}
    assert set(DEFAULT_PRICES) == set(c.MODES)
    for durations in DEFAULT_PRICES.values():
        assert set(durations) == set(c.DURATIONS)


def test_an_override_changes_only_its_entries():
    table = price_table({"Professional": {"10": 0.9}, "Standard": {5: 0}})
    assert table == {"Standard": {5: 0.0, 10: 0.26}, "Professional": {5: 0.475, 10: 0.9}}
    assert all(isinstance(p, float) for d in table.values() for p in d.values())


def test_a_table_is_a_copy_the_defaults_never_change():
    table = price_table({})
    table["Standard"][5] = 99.0
    assert price_table({})["Standard"][5] == 0.13 and DEFAULT_PRICES["Standard"][5] == 0.13


@pytest.mark.parametrize("overrides, says", [
    ({"Fast": {"5": 1}}, "unknown mode 'Fast'"),
    ({"standard": {"5": 1}}, "unknown mode 'standard'"),  # the canonical spelling, as the functions use it
    ({"Standard": 0.13}, "must map durations"),
    ({"Standard": {"7": 0.2}}, "unknown duration '7'"),
    ({"Standard": {"five": 0.2}}, "unknown duration 'five'"),
    ({"Standard": {"5": -0.01}}, "from 0 to 100"),
    ({"Standard": {"5": 100.5}}, "from 0 to 100"),
    ({"Standard": {"5": math.nan}}, "from 0 to 100"),
    ({"Standard": {"5": math.inf}}, "from 0 to 100"),
    ({"Standard": {"5": "0.13"}}, "from 0 to 100"),
    ({"Standard": {"5": True}}, "from 0 to 100"),
    ({"Standard": {"5": None}}, "from 0 to 100"),
])
def test_a_table_the_pipeline_cannot_use_is_refused_naming_the_entry(overrides, says):
    with pytest.raises(PriceTableError, match=says) as info:
        price_table(overrides)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("prices")


def test_price_for_a_mode_and_duration():
    table = price_table({"Professional": {"5": 0.5}})
    assert price_for(table, "Standard", 5) == 0.13
    assert price_for(table, "Standard", 10) == 0.26
    assert price_for(table, "Professional", 5) == 0.5
    assert price_for(table, "Professional", 10) == 0.95


def test_an_unknown_mode_is_priced_as_standard_and_an_unknown_duration_as_free():
    table = price_table({})
    assert price_for(table, "Turbo", 5) == 0.13
    assert price_for(table, "Standard", 7) == 0.0


def test_the_table_round_trips_through_the_environment_as_json():
    table = price_table({"Professional": {"10": 0.9}})
    text = json.dumps(to_json(table))
    assert json.loads(text) == {"Standard": {"5": 0.13, "10": 0.26}, "Professional": {"5": 0.475, "10": 0.9}}
    assert price_table(json.loads(text)) == table
