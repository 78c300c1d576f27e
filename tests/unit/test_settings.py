"""Each function's settings, read from its own environment only; errors name the variable (i2v.settings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from i2v import constants as c
from i2v.contracts.params import stack_defaults
from i2v.settings import (
    Capacity,
    DispatchSettings,
    Env,
    SettingsError,
    dispatch_settings,
    intake_settings,
    status_settings,
    store_settings,
)

LOADERS = {c.FN_INTAKE: intake_settings, c.FN_DISPATCH: dispatch_settings, c.FN_STATUS: status_settings,
           c.FN_STORE: store_settings}
VALUES = {
    c.ENV_BUCKET: "media",
    c.ENV_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:i2v",
    c.ENV_STATE_MACHINE_ARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:i2v",
    c.ENV_WAKE_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/i2v-wake",
    c.ENV_UPLOADS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/i2v-uploads",
    c.ENV_JOBS_TABLE: "i2v-jobs",
    c.ENV_IDEMPOTENCY_TABLE: "i2v-idempotency",
    c.ENV_CONTROL_TABLE: "i2v-control",
}
REQUIRED = {
    c.FN_INTAKE: [c.ENV_BUCKET, c.ENV_JOBS_TABLE, c.ENV_CONTROL_TABLE, c.ENV_STATE_MACHINE_ARN, c.ENV_WAKE_QUEUE_URL,
                  c.ENV_UPLOADS_QUEUE_URL],
    c.FN_DISPATCH: [c.ENV_BUCKET, c.ENV_JOBS_TABLE, c.ENV_CONTROL_TABLE, c.ENV_IDEMPOTENCY_TABLE,
                    c.ENV_STATE_MACHINE_ARN, c.ENV_WAKE_QUEUE_URL],
    c.FN_STATUS: [c.ENV_JOBS_TABLE],
    c.FN_STORE: [c.ENV_BUCKET, c.ENV_TOPIC_ARN, c.ENV_JOBS_TABLE, c.ENV_CONTROL_TABLE, c.ENV_WAKE_QUEUE_URL],
}


def env_of(function: str, **extra: str) -> dict[str, str]:
    """Exactly the required variables of one function, plus ``extra`` (by variable name)."""
    return {name: VALUES[name] for name in REQUIRED[function]} | extra


class Recording(Mapping[str, str]):
    """An environment that remembers every variable a loader asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def get(self, name, default=None):
        self.asked.add(name)
        return self.values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


# --- each function reads its own variables, and only those ------------------------------------------


@pytest.mark.parametrize("function", c.FUNCTIONS)
def test_each_loader_reads_only_what_function_env_gives_its_function(function):
    environ = Recording(env_of(function))
    LOADERS[function](environ)
    assert environ.asked <= set(c.FUNCTION_ENV[function]) | set(c.LOCAL_ONLY_ENV)


@pytest.mark.parametrize("function", c.FUNCTIONS)
def test_each_variable_function_env_gives_is_read(function):
    environ = Recording(env_of(function))
    LOADERS[function](environ)
    powertools = {c.ENV_POWERTOOLS_SERVICE, c.ENV_POWERTOOLS_NAMESPACE}  # read by Powertools itself
    assert set(c.FUNCTION_ENV[function]) - powertools <= environ.asked


@pytest.mark.parametrize("function", c.FUNCTIONS)
def test_a_loader_that_reads_a_variable_outside_its_entry_fails(function, monkeypatch):
    read = REQUIRED[function][0]
    monkeypatch.setitem(c.FUNCTION_ENV, function, tuple(n for n in c.FUNCTION_ENV[function] if n != read))
    with pytest.raises(SettingsError) as info:
        LOADERS[function](env_of(function))
    assert read in str(info.value) and "constants.FUNCTION_ENV" in str(info.value)
    assert f"the {function} function" in str(info.value)


def test_asking_for_another_functions_variable_fails_even_when_it_is_set():
    env = Env(c.FN_STATUS, {c.ENV_BUCKET: "media", c.ENV_JOBS_TABLE: "jobs"})
    assert env.text(c.ENV_JOBS_TABLE) == "jobs"
    with pytest.raises(SettingsError, match=c.ENV_BUCKET):
        env.text(c.ENV_BUCKET)


def test_local_only_variables_are_readable_by_every_function():
    for function in c.FUNCTIONS:
        env = Env(function, {c.ENV_TIME_SCALE: "10", c.ENV_API_KEY: "k"})
        assert env.time_scale() == 10.0 and env.raw(c.ENV_API_KEY) == "k"


# --- defaults --------------------------------------------------------------------------------------


def test_intake_defaults():
    s = intake_settings(env_of(c.FN_INTAKE))
    assert (s.bucket, s.jobs_table, s.control_table) == ("media", "i2v-jobs", "i2v-control")
    assert (s.uploads_prefix, s.outputs_prefix) == ("uploads/", "outputs/")
    assert s.defaults == stack_defaults({})
    assert s.time_scale == 1.0


def test_dispatch_defaults():
    s = dispatch_settings(env_of(c.FN_DISPATCH))
    assert s.idempotency_table == "i2v-idempotency"
    assert s.provider_url == "https://api.highwayapi.ai"
    assert s.api_key_secret is None
    assert (s.capacity.max_in_flight, s.capacity.submits_per_minute) == (10, 20)
    assert s.capacity.rate_window_seconds == 60.0
    assert (s.deadline_standard, s.deadline_professional) == (900, 1800)
    assert s.deadline_for("Standard") == 900 and s.deadline_for("Professional") == 1800
    assert s.submit_max_attempts == c.DEFAULT_SUBMIT_MAX_ATTEMPTS
    assert s.image_url_ttl == c.DEFAULT_IMAGE_URL_TTL
    assert s.time_scale == 1.0


def test_status_defaults():
    s = status_settings(env_of(c.FN_STATUS))
    assert (s.jobs_table, s.provider_url, s.api_key_secret, s.time_scale) == (
        "i2v-jobs", "https://api.highwayapi.ai", None, 1.0)


def test_store_defaults():
    s = store_settings(env_of(c.FN_STORE))
    assert s.topic_arn == VALUES[c.ENV_TOPIC_ARN] and s.wake_queue_url == VALUES[c.ENV_WAKE_QUEUE_URL]
    assert s.url_policy == "public-https"
    assert s.max_video_bytes == c.DEFAULT_MAX_VIDEO_BYTES and s.download_url_ttl == c.DEFAULT_DOWNLOAD_URL_TTL
    assert s.capacity == Capacity()


# --- missing and malformed variables are named ------------------------------------------------------


@pytest.mark.parametrize("function, name", [(f, n) for f in c.FUNCTIONS for n in REQUIRED[f]])
def test_a_missing_variable_is_named(function, name):
    environ = env_of(function)
    del environ[name]
    with pytest.raises(SettingsError) as info:
        LOADERS[function](environ)
    assert str(info.value) == f"environment variable {name} is required but not set"


@pytest.mark.parametrize("function", c.FUNCTIONS)
def test_an_empty_required_variable_counts_as_missing(function):
    with pytest.raises(SettingsError, match=c.ENV_JOBS_TABLE):
        LOADERS[function](env_of(function, **{c.ENV_JOBS_TABLE: ""}))


@pytest.mark.parametrize("function, name", [
    (c.FN_DISPATCH, c.ENV_MAX_IN_FLIGHT), (c.FN_DISPATCH, c.ENV_SUBMITS_PER_MINUTE),
    (c.FN_DISPATCH, c.ENV_DEADLINE_STANDARD), (c.FN_DISPATCH, c.ENV_DEADLINE_PROFESSIONAL),
    (c.FN_DISPATCH, c.ENV_SUBMIT_MAX_ATTEMPTS), (c.FN_DISPATCH, c.ENV_IMAGE_URL_TTL),
    (c.FN_STORE, c.ENV_MAX_VIDEO_BYTES), (c.FN_STORE, c.ENV_DOWNLOAD_URL_TTL), (c.FN_STORE, c.ENV_MAX_IN_FLIGHT),
])
def test_a_bad_integer_is_named(function, name):
    with pytest.raises(SettingsError) as info:
        LOADERS[function](env_of(function, **{name: "ten"}))
    assert str(info.value) == f"environment variable {name} must be an integer, got 'ten'"


@pytest.mark.parametrize("function", [c.FN_DISPATCH, c.FN_STORE])
@pytest.mark.parametrize("name", [c.ENV_MAX_IN_FLIGHT, c.ENV_SUBMITS_PER_MINUTE])
def test_a_zero_limit_is_named(function, name):
    with pytest.raises(SettingsError) as info:
        LOADERS[function](env_of(function, **{name: "0"}))
    assert name in str(info.value) and "at least 1" in str(info.value)


@pytest.mark.parametrize("function", c.FUNCTIONS)
@pytest.mark.parametrize("raw", ["fast", "0", "-2", "nan"])
def test_a_bad_time_scale_is_named(function, raw):
    with pytest.raises(SettingsError, match=c.ENV_TIME_SCALE):
        LOADERS[function](env_of(function, **{c.ENV_TIME_SCALE: raw}))


@pytest.mark.parametrize("raw, says", [("{not json", "must be a JSON object"), ("[1, 2]", "must be a JSON object"),
                                       ('"text"', "must be a JSON object"),
                                       ('{"prompt": "   "}', "prompt is empty or only spaces"),
                                       ('{"colour": "red"}', "unknown key(s) colour"),
                                       ('{"priority": "urgent"}', "priority is 'urgent'")])
def test_bad_stack_defaults_are_named_with_the_rule(raw, says):
    with pytest.raises(SettingsError) as info:
        intake_settings(env_of(c.FN_INTAKE, **{c.ENV_DEFAULTS: raw}))
    assert str(info.value).startswith(f"environment variable {c.ENV_DEFAULTS}")
    assert says in str(info.value)


def test_a_bad_url_policy_is_named():
    with pytest.raises(SettingsError, match=c.ENV_URL_POLICY):
        store_settings(env_of(c.FN_STORE, **{c.ENV_URL_POLICY: "open"}))


# --- values from the environment ------------------------------------------------------------------------


def test_intake_values_from_the_environment():
    s = intake_settings(env_of(c.FN_INTAKE, **{
        c.ENV_UPLOADS_PREFIX: "in", c.ENV_OUTPUTS_PREFIX: "out/", c.ENV_TIME_SCALE: "10",
        c.ENV_DEFAULTS: '{"prompt": "house style", "duration": 10.0, "mode": "professional", "priority": "HIGH"}'}))
    assert (s.uploads_prefix, s.outputs_prefix, s.time_scale) == ("in/", "out/", 10.0)
    assert s.defaults == {"mode": "Professional", "prompt": "house style", "duration": 10,
                          "guidance_scale": c.DEFAULT_GUIDANCE_SCALE, "priority": "high", "reuse": True}


def test_dispatch_values_from_the_environment():
    s = dispatch_settings(env_of(c.FN_DISPATCH, **{
        c.ENV_PROVIDER_URL: "http://127.0.0.1:8765/", c.ENV_MAX_IN_FLIGHT: "3", c.ENV_SUBMITS_PER_MINUTE: "6",
        c.ENV_TIME_SCALE: "10", c.ENV_API_KEY_SECRET: "prod/highway", c.ENV_SUBMIT_MAX_ATTEMPTS: "2"}))
    assert s.provider_url == "http://127.0.0.1:8765"
    assert (s.capacity.max_in_flight, s.capacity.submits_per_minute) == (3, 6)
    assert s.api_key_secret == "prod/highway"
    assert s.submit_max_attempts == 2
    assert s.deadline_for("Standard") == 90
    assert s.capacity.rate_window_seconds == 6.0


def test_status_values_from_the_environment():
    s = status_settings(env_of(c.FN_STATUS, **{c.ENV_PROVIDER_URL: "http://127.0.0.1:8765/",
                                               c.ENV_API_KEY_SECRET: "prod/highway", c.ENV_TIME_SCALE: "4"}))
    assert (s.provider_url, s.api_key_secret, s.time_scale) == ("http://127.0.0.1:8765", "prod/highway", 4.0)


def test_store_values_from_the_environment():
    s = store_settings(env_of(c.FN_STORE, **{c.ENV_URL_POLICY: "loopback-http", c.ENV_MAX_VIDEO_BYTES: "1000",
                                             c.ENV_DOWNLOAD_URL_TTL: "60", c.ENV_MAX_IN_FLIGHT: "3",
                                             c.ENV_SUBMITS_PER_MINUTE: "6"}))
    assert (s.url_policy, s.max_video_bytes, s.download_url_ttl) == ("loopback-http", 1000, 60)
    assert (s.capacity.max_in_flight, s.capacity.submits_per_minute) == (3, 6)


def test_the_store_and_the_dispatcher_see_the_same_capacity():
    # the store gives back slots the dispatcher took: both must name the same items
    shared = {c.ENV_MAX_IN_FLIGHT: "4", c.ENV_SUBMITS_PER_MINUTE: "7", c.ENV_TIME_SCALE: "2"}
    assert dispatch_settings(env_of(c.FN_DISPATCH, **shared)).capacity == \
        store_settings(env_of(c.FN_STORE, **shared)).capacity


def test_scaled_deadline_is_at_least_one_second():
    s = DispatchSettings(bucket="b", jobs_table="j", control_table="c", idempotency_table="i",
                         state_machine_arn="s", wake_queue_url="q", capacity=Capacity(time_scale=100.0),
                         deadline_standard=5)
    assert s.deadline_for("Standard") == 1


def test_settings_are_read_from_the_process_environment_by_default(monkeypatch):
    for name, value in env_of(c.FN_STATUS).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(c.ENV_TIME_SCALE, raising=False)
    assert status_settings().jobs_table == "i2v-jobs"


# --- prices and spend budgets (dispatch) --------------------------------------------------------------


def test_dispatch_prices_and_budget_default_to_the_published_prices_and_no_limit():
    from i2v.contracts.prices import DEFAULT_PRICES

    s = dispatch_settings(env_of(c.FN_DISPATCH))
    assert s.prices == {mode: dict(d) for mode, d in DEFAULT_PRICES.items()}
    assert (s.budget.daily_usd, s.budget.monthly_usd, s.budget.action) == (None, None, c.BUDGET_WAIT)


def test_dispatch_prices_and_budget_from_the_environment():
    s = dispatch_settings(env_of(c.FN_DISPATCH, **{
        c.ENV_PRICES: '{"Professional": {"10": 0.9}}', c.ENV_BUDGET_DAILY: "25", c.ENV_BUDGET_MONTHLY: "400.50",
        c.ENV_BUDGET_ACTION: "fail"}))
    assert s.prices["Professional"] == {5: 0.475, 10: 0.9} and s.prices["Standard"] == {5: 0.13, 10: 0.26}
    assert (s.budget.daily_usd, s.budget.monthly_usd, s.budget.action) == (25.0, 400.5, "fail")
    assert dispatch_settings(env_of(c.FN_DISPATCH, **{c.ENV_BUDGET_DAILY: "0"})).budget.daily_usd == 0.0


@pytest.mark.parametrize("name, raw, says", [
    (c.ENV_PRICES, "{not json", c.ENV_PRICES),
    (c.ENV_PRICES, '{"Fast": {"5": 1}}', "unknown mode 'Fast'"),
    (c.ENV_PRICES, '{"Standard": {"5": -1}}', "from 0 to 100"),
    (c.ENV_BUDGET_DAILY, "ten", "must be a number of dollars"),
    (c.ENV_BUDGET_DAILY, "-1", "must be at least 0"),
    (c.ENV_BUDGET_MONTHLY, "nan", "must be at least 0"),
    (c.ENV_BUDGET_ACTION, "pause", "must be one of wait, fail"),
])
def test_bad_prices_and_budgets_are_named(name, raw, says):
    with pytest.raises(SettingsError) as info:
        dispatch_settings(env_of(c.FN_DISPATCH, **{name: raw}))
    assert name in str(info.value) and says in str(info.value)


def test_only_the_dispatcher_reads_prices_and_budgets():
    for name in (c.ENV_PRICES, c.ENV_BUDGET_DAILY, c.ENV_BUDGET_MONTHLY, c.ENV_BUDGET_ACTION):
        assert [f for f, names in c.FUNCTION_ENV.items() if name in names] == [c.FN_DISPATCH]
    assert {c.ENV_BUDGET_DAILY, c.ENV_BUDGET_MONTHLY} <= set(c.OPTIONAL_ENV)  # absent: no limit
