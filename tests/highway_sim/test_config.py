import dataclasses

import pytest

from highway_sim.config import FAULT_KNOBS, SimConfig


def test_defaults_match_the_published_provider():
    cfg = SimConfig()
    assert cfg.speed == 1.0 and cfg.seed is None and cfg.api_keys is None
    assert cfg.rate_limit_per_minute == 20
    assert cfg.standard_seconds == (60, 180) and cfg.professional_seconds == (300, 420)
    assert cfg.queue_seconds == (2, 15)
    assert (cfg.hint_probability, cfg.hint_error) == (0.7, 0.3)
    assert cfg.full_size is False and cfg.video_url_ttl == 3600 and cfg.fetch_timeout == 10.0
    assert all(getattr(cfg, knob) == 0.0 for knob in FAULT_KNOBS)


def test_every_field_has_a_default_and_help():
    for f in dataclasses.fields(SimConfig):
        assert f.default is not dataclasses.MISSING, f.name
        assert f.metadata.get("help"), f.name


def test_json_style_input_is_normalised():
    cfg = SimConfig(standard_seconds=[1, 2], api_keys=["a", "b"], speed=20)
    assert cfg.standard_seconds == (1.0, 2.0)
    assert cfg.api_keys == frozenset({"a", "b"})
    assert cfg.real(60) == 3.0


@pytest.mark.parametrize("bad", [
    {"speed": 0}, {"speed": -1}, {"speed": float("inf")}, {"speed": "fast"},
    {"p_submit_429": 1.5}, {"hint_probability": -0.1}, {"hint_error": 2},
    {"standard_seconds": (5, 1)}, {"queue_seconds": (1, 2, 3)}, {"queue_seconds": "12"},
    {"api_keys": "key"}, {"api_keys": [""]}, {"rate_limit_per_minute": -1},
    {"rate_limit_per_minute": 2.5}, {"video_url_ttl": 0}, {"fetch_timeout": 0},
    {"full_size": "yes"}, {"seed": 1.5}, {"seed": True},
])
def test_invalid_values_raise_value_error(bad):
    with pytest.raises(ValueError):
        SimConfig(**bad)


def test_replace_changes_knobs_and_rejects_unknown_names():
    cfg = SimConfig().replace(p_slow=0.5, speed=4)
    assert cfg.p_slow == 0.5 and cfg.speed == 4.0
    with pytest.raises(ValueError, match="p_nope"):
        cfg.replace(p_nope=1)
    with pytest.raises(ValueError):
        cfg.replace(p_slow=3)


def test_to_dict_is_json_friendly_and_hides_keys():
    out = SimConfig(api_keys={"secret-1"}).to_dict()
    assert out["standard_seconds"] == [60.0, 180.0]
    assert "secret-1" not in str(out)
    assert out["api_keys"] == "<1 key(s)>"
