"""Settings from the environment, read at first use; errors name the variable (i2v.settings)."""

from __future__ import annotations

import pytest

from i2v import constants as c
from i2v.settings import Settings, SettingsError, load_settings

REQUIRED = {
    c.ENV_BUCKET: "media",
    c.ENV_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:i2v",
    c.ENV_STATE_MACHINE_ARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:i2v",
    c.ENV_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/i2v",
    c.ENV_JOBS_TABLE: "i2v-jobs",
    c.ENV_IDEMPOTENCY_TABLE: "i2v-idempotency",
    c.ENV_CONTROL_TABLE: "i2v-control",
}


@pytest.fixture
def env(monkeypatch):
    """A clean environment with only the required variables set; returns monkeypatch to add more."""
    import os

    for name in list(os.environ):
        if name.startswith(("I2V_", "HIGHWAY_")):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults(env):
    s = load_settings()
    assert s.bucket == "media"
    assert (s.uploads_prefix, s.outputs_prefix) == ("uploads/", "outputs/")
    assert s.provider_url == "https://api.highwayapi.ai"
    assert s.api_key_secret is None
    assert s.defaults == {}
    assert (s.max_in_flight, s.submits_per_minute) == (10, 20)
    assert (s.deadline_standard, s.deadline_professional) == (900, 1800)
    assert s.time_scale == 1.0
    assert s.url_policy == "public-https"
    assert s.submit_max_attempts == c.DEFAULT_SUBMIT_MAX_ATTEMPTS
    assert s.rate_window_seconds == 60.0
    assert s.deadline_for("Standard") == 900 and s.deadline_for("Professional") == 1800


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_variable_is_named(env, name):
    env.delenv(name)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_an_empty_required_variable_counts_as_missing(env):
    env.setenv(c.ENV_BUCKET, "")
    with pytest.raises(SettingsError, match=c.ENV_BUCKET):
        load_settings()


@pytest.mark.parametrize(
    "name",
    [
        c.ENV_MAX_IN_FLIGHT,
        c.ENV_SUBMITS_PER_MINUTE,
        c.ENV_DEADLINE_STANDARD,
        c.ENV_MAX_VIDEO_BYTES,
        c.ENV_SUBMIT_MAX_ATTEMPTS,
        c.ENV_IMAGE_URL_TTL,
    ],
)
def test_a_bad_integer_is_named(env, name):
    env.setenv(name, "ten")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert name in str(info.value) and "'ten'" in str(info.value)


@pytest.mark.parametrize("raw", ["fast", "0", "-2"])
def test_a_bad_time_scale_is_named(env, raw):
    env.setenv(c.ENV_TIME_SCALE, raw)
    with pytest.raises(SettingsError, match=c.ENV_TIME_SCALE):
        load_settings()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
def test_bad_stack_defaults_are_named(env, raw):
    env.setenv(c.ENV_DEFAULTS, raw)
    with pytest.raises(SettingsError, match=c.ENV_DEFAULTS):
        load_settings()


def test_a_bad_url_policy_is_named(env):
    env.setenv(c.ENV_URL_POLICY, "open")
    with pytest.raises(SettingsError, match=c.ENV_URL_POLICY):
        load_settings()


def test_values_from_the_environment(env):
    env.setenv(c.ENV_UPLOADS_PREFIX, "in")
    env.setenv(c.ENV_OUTPUTS_PREFIX, "out/")
    env.setenv(c.ENV_PROVIDER_URL, "http://127.0.0.1:8765/")
    env.setenv(c.ENV_URL_POLICY, "loopback-http")
    env.setenv(c.ENV_DEFAULTS, '{"prompt": "house style", "duration": 10}')
    env.setenv(c.ENV_MAX_IN_FLIGHT, "3")
    env.setenv(c.ENV_TIME_SCALE, "10")
    env.setenv(c.ENV_API_KEY_SECRET, "prod/highway")
    s = load_settings()
    assert (s.uploads_prefix, s.outputs_prefix) == ("in/", "out/")
    assert s.provider_url == "http://127.0.0.1:8765"
    assert s.url_policy == "loopback-http"
    assert s.defaults == {"prompt": "house style", "duration": 10}
    assert s.max_in_flight == 3
    assert s.api_key_secret == "prod/highway"
    assert s.deadline_for("Standard") == 90
    assert s.rate_window_seconds == 6.0


def test_scaled_deadline_is_at_least_one_second():
    s = Settings(
        bucket="b",
        uploads_prefix="u/",
        outputs_prefix="o/",
        topic_arn="t",
        state_machine_arn="s",
        queue_url="q",
        jobs_table="j",
        idempotency_table="i",
        control_table="c",
        provider_url="p",
        api_key_secret=None,
        deadline_standard=5,
        time_scale=100.0,
    )
    assert s.deadline_for("Standard") == 1


@pytest.mark.parametrize("name", [c.ENV_MAX_IN_FLIGHT, c.ENV_SUBMITS_PER_MINUTE])
def test_a_zero_limit_is_named(env, name):
    env.setenv(name, "0")
    with pytest.raises(SettingsError, match=name):
        load_settings()
