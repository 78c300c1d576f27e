"""AppConfig: every knob's default, parsing of command-line strings, and errors that name the knob."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from i2v import constants as c
from i2v_infra.config import MAX_DEADLINE_SECONDS, AppConfig, ConfigError

pytestmark = pytest.mark.infra

ASL = json.loads((Path(__file__).resolve().parents[2] / "infra/i2v_infra/workflow/pipeline.asl.json").read_text())


def config(**context: Any) -> AppConfig:
    return AppConfig.from_context(context.get)


def test_defaults_when_no_context_is_given() -> None:
    cfg = config()
    assert cfg == AppConfig()
    assert cfg.stack_name == "I2VPipeline"
    assert cfg.bucket_name is None and cfg.api_key_secret_name is None
    assert (cfg.uploads_prefix, cfg.outputs_prefix) == ("uploads/", "outputs/")
    assert dict(cfg.defaults) == {"prompt": c.DEFAULT_PROMPT, "mode": "Standard", "duration": 5,
                                  "guidance_scale": 0.5, "priority": "normal", "reuse": True}
    assert (cfg.max_in_flight, cfg.submits_per_minute) == (10, 20)
    assert (cfg.deadline_standard_seconds, cfg.deadline_professional_seconds) == (900, 1800)
    assert cfg.alarm_email is None and cfg.notification_email is None
    assert cfg.log_retention_days == 30
    assert cfg.removal_policy == "retain" and not cfg.destroy_on_delete
    assert cfg.provider_url == "https://api.highwayapi.ai"
    assert dict(cfg.lambda_memory_mb) == {"intake": 512, "dispatch": 512, "status": 256, "store": 1024}
    assert cfg.max_video_bytes == c.DEFAULT_MAX_VIDEO_BYTES
    assert cfg.queue_age_alarm_seconds == 3600


def test_command_line_strings_are_parsed() -> None:
    cfg = config(maxInFlight="4", submitsPerMinute="12", deadlineStandardSeconds="600",
                 defaults='{"mode": "Professional", "duration": "10", "prompt": "a cat"}',
                 lambdaMemoryMb='{"store": "2048"}', removalPolicy="DESTROY", uploadsPrefix="in",
                 outputsPrefix="out/videos", providerUrl="https://sim.example.com/")
    assert (cfg.max_in_flight, cfg.submits_per_minute, cfg.deadline_standard_seconds) == (4, 12, 600)
    assert cfg.defaults["mode"] == "Professional" and cfg.defaults["duration"] == 10
    assert cfg.defaults["prompt"] == "a cat" and cfg.defaults["guidance_scale"] == 0.5
    assert dict(cfg.lambda_memory_mb) == {"intake": 512, "dispatch": 512, "status": 256, "store": 2048}
    assert cfg.destroy_on_delete
    assert (cfg.uploads_prefix, cfg.outputs_prefix) == ("in/", "out/videos/")
    assert cfg.provider_url == "https://sim.example.com"


def test_existing_bucket_and_secret_and_emails() -> None:
    cfg = config(bucketName="my-bucket.example", apiKeySecretName="prod/highway", alarmEmail="ops@example.com",
                 notificationEmail="me@example.org")
    assert cfg.bucket_name == "my-bucket.example" and cfg.api_key_secret_name == "prod/highway"
    assert cfg.alarm_email == "ops@example.com" and cfg.notification_email == "me@example.org"


def test_empty_strings_mean_absent() -> None:
    assert config(bucketName="", apiKeySecretName=" ", alarmEmail="") == AppConfig()


@pytest.mark.parametrize(("knob", "value"), [
    ("bucketName", "Not_A_Bucket"),
    ("bucketName", "ab"),
    ("uploadsPrefix", "/uploads/"),
    ("outputsPrefix", "out put/"),
    ("defaults", "{not json"),
    ("defaults", '["a"]'),
    ("defaults", {"colour": "red"}),
    ("defaults", {"mode": "Fast"}),
    ("defaults", {"duration": 7}),
    ("defaults", {"duration": True}),
    ("defaults", {"guidance_scale": 1.5}),
    ("defaults", {"guidance_scale": "x"}),
    ("defaults", {"prompt": ""}),
    ("defaults", {"prompt": "x" * 2001}),
    ("defaults", {"negative_prompt": "x" * 2001}),
    ("maxInFlight", "ten"),
    ("maxInFlight", 0),
    ("maxInFlight", True),
    ("submitsPerMinute", -1),
    ("deadlineStandardSeconds", 10),
    ("deadlineProfessionalSeconds", MAX_DEADLINE_SECONDS + 1),
    ("alarmEmail", "not-an-email"),
    ("notificationEmail", "a@b"),
    ("logRetentionDays", 31),
    ("removalPolicy", "snapshot"),
    ("apiKeySecretName", "bad name!"),
    ("providerUrl", "http://api.highwayapi.ai"),
    ("providerUrl", "ftp://x"),
    ("lambdaMemoryMb", {"intake": 64}),
    ("lambdaMemoryMb", {"submit": 512}),
    ("lambdaMemoryMb", {"poller": 512}),
    ("lambdaMemoryMb", "512"),
    ("maxVideoBytes", 10),
    ("queueAgeAlarmSeconds", 1),
    ("stackName", "1-starts-with-a-digit"),
    ("prices", "{not json"),
    ("prices", '["Standard"]'),
    ("prices", {"Fast": {"5": 1}}),
    ("prices", {"Standard": {"7": 0.2}}),
    ("prices", {"Standard": {"5": -1}}),
    ("prices", {"Standard": {"5": "0.13"}}),
    ("budgetDailyUsd", "ten"),
    ("budgetDailyUsd", -1),
    ("budgetDailyUsd", True),
    ("budgetDailyUsd", "nan"),
    ("budgetMonthlyUsd", "inf"),
    ("budgetMonthlyUsd", [5]),
    ("budgetAction", "pause"),
])
def test_bad_values_fail_with_the_knob_name(knob: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=knob):
        config(**{knob: value})


def test_prefixes_must_not_contain_each_other() -> None:
    with pytest.raises(ConfigError, match="uploadsPrefix"):
        config(uploadsPrefix="media/", outputsPrefix="media/out/")
    with pytest.raises(ConfigError, match="outputsPrefix"):
        config(uploadsPrefix="data/in/", outputsPrefix="data/")


def test_deadline_bound_leaves_the_workflow_room_to_store_and_notify() -> None:
    store_timeout = 300
    assert MAX_DEADLINE_SECONDS + 2 * store_timeout < ASL["TimeoutSeconds"]


# --- one set of parameter rules: the stack config and the functions accept and refuse alike ----------

PARITY = [  # (stack defaults, accepted?)
    ({}, True),
    ({"prompt": "   "}, False),  # only spaces: every job without a prompt of its own would fail
    ({"prompt": ""}, False),
    ({"prompt": " a cat "}, True),
    ({"prompt": "x" * c.PROMPT_MAX}, True),
    ({"prompt": "x" * (c.PROMPT_MAX + 1)}, False),
    ({"prompt": 7}, False),
    ({"duration": 10.0}, True),  # a whole float is the integer it spells
    ({"duration": 10.5}, False),
    ({"duration": "10"}, True),
    ({"duration": 7}, False),
    ({"duration": True}, False),
    ({"negative_prompt": None}, True),  # null: no negative prompt
    ({"negative_prompt": ""}, True),
    ({"negative_prompt": "x" * (c.PROMPT_MAX + 1)}, False),
    ({"mode": "professional"}, True),  # any case
    ({"mode": " PROFESSIONAL "}, True),
    ({"mode": "Fast"}, False),
    ({"guidance_scale": 1.5}, False),
    ({"guidance_scale": "0.25"}, True),
    ({"guidance_scale": float("nan")}, False),
    ({"guidance_scale": 0}, True),
    ({"priority": "HIGH"}, True),
    ({"priority": "urgent"}, False),
    ({"colour": "red"}, False),  # unknown key
    ({"end_image": "uploads/end.png"}, False),  # a per-job parameter, not a stack default
]


def _functions_accept(defaults: dict) -> bool:
    """What the functions do with I2V_DEFAULTS (i2v.settings), and a job without parameters of its own."""
    from i2v.contracts.errors import InvalidParameters
    from i2v.contracts.params import STACK_DEFAULTS, merge_layers, stack_defaults, validate_params

    try:
        stack_defaults(defaults)
    except InvalidParameters:
        return False
    validate_params(merge_layers(defaults, STACK_DEFAULTS))  # accepted defaults make a valid job
    return True


def _config_accepts(defaults: dict) -> bool:
    try:
        config(defaults=defaults)
    except ConfigError as exc:
        assert "defaults" in str(exc)
        return False
    return True


@pytest.mark.parametrize(("defaults", "accepted"), PARITY, ids=[json.dumps(d)[:40] for d, _ in PARITY])
def test_stack_config_and_functions_accept_and_refuse_the_same_defaults(defaults: dict, accepted: bool) -> None:
    assert _config_accepts(defaults) is accepted
    assert _functions_accept(defaults) is accepted


@pytest.mark.parametrize("defaults", [d for d, ok in PARITY if ok], ids=[json.dumps(d)[:40] for d, ok in PARITY if ok])
def test_defaults_written_at_synth_read_back_the_same_in_every_function(defaults: dict) -> None:
    """The stack writes the canonical defaults into I2V_DEFAULTS; each function reads back the same."""
    from i2v.settings import intake_settings

    cfg = config(defaults=json.dumps(defaults))  # as text, the way `-c defaults=...` arrives
    written = json.dumps(dict(cfg.defaults), separators=(",", ":"))
    environ = {c.ENV_DEFAULTS: written, c.ENV_BUCKET: "b", c.ENV_JOBS_TABLE: "j", c.ENV_CONTROL_TABLE: "k",
               c.ENV_STATE_MACHINE_ARN: "arn", c.ENV_WAKE_QUEUE_URL: "u", c.ENV_UPLOADS_QUEUE_URL: "q"}
    assert intake_settings(environ).defaults == dict(cfg.defaults)


def test_the_config_has_no_parameter_rules_of_its_own() -> None:
    """The drift of two rule sets cannot come back: config.py calls the functions' rules, spells none."""
    import inspect

    from i2v_infra import config as config_module

    source = inspect.getsource(config_module)
    assert "stack_defaults(" in source
    for rule in ("PROMPT_MAX", "MODES", "DURATIONS", "guidance_scale", "negative_prompt"):
        assert rule not in source, rule


# --- job retention (issue 11, finding 7) -------------------------------------------------------------

def test_job_retention_defaults_to_the_functions_default_and_parses_strings() -> None:
    assert config().job_retention_days == c.DEFAULT_JOB_RETENTION_DAYS == 90
    assert config(jobRetentionDays="30").job_retention_days == 30
    assert config(jobRetentionDays=3650).job_retention_days == 3650


@pytest.mark.parametrize("value", [0, -1, 3651, "forever", True])
def test_job_retention_refuses_what_dynamodb_ttl_cannot_mean(value: Any) -> None:
    with pytest.raises(ConfigError, match="jobRetentionDays"):
        config(jobRetentionDays=value)


def test_every_knob_is_documented_in_the_module_docstring() -> None:
    import inspect
    import re

    from i2v_infra import config as config_module

    source = inspect.getsource(config_module.AppConfig.from_context)
    knobs = set(re.findall(r'get, "([a-zA-Z]+)"', source)) | {"defaults", "lambdaMemoryMb", "logRetentionDays",
                                                                "providerUrl"}
    doc = config_module.__doc__ or ""
    for knob in knobs:
        assert f"| {knob} " in doc, knob


# --- prices and spend budgets (issue 13, item 2) ---------------------------------------------------------

def test_prices_default_to_the_published_ones_and_budgets_to_none() -> None:
    from i2v.contracts.prices import DEFAULT_PRICES

    cfg = config()
    assert cfg.prices == {mode: dict(d) for mode, d in DEFAULT_PRICES.items()}
    assert (cfg.budget_daily_usd, cfg.budget_monthly_usd, cfg.budget_action) == (None, None, "wait")


def test_prices_and_budgets_from_context_text_and_numbers() -> None:
    cfg = config(prices='{"Professional": {"10": 0.9}}', budgetDailyUsd="20", budgetMonthlyUsd=400.5,
                 budgetAction="fail")
    assert cfg.prices["Professional"] == {5: 0.475, 10: 0.9} and cfg.prices["Standard"] == {5: 0.13, 10: 0.26}
    assert (cfg.budget_daily_usd, cfg.budget_monthly_usd, cfg.budget_action) == (20.0, 400.5, "fail")
    assert config(budgetDailyUsd=0).budget_daily_usd == 0.0  # nothing may be spent: every job waits
    assert config(budgetDailyUsd="", prices="").budget_daily_usd is None  # empty means absent


def test_prices_and_budgets_written_at_synth_read_back_the_same_in_the_dispatcher() -> None:
    """The stack writes the price table and the budgets into the dispatcher's environment; it reads back
    what the stack was configured with."""
    import json as json_module

    from i2v.contracts.prices import to_json
    from i2v.settings import dispatch_settings

    cfg = config(prices={"Standard": {"5": 0.2}}, budgetDailyUsd="12.5", budgetMonthlyUsd="300", budgetAction="fail")
    environ = {c.ENV_BUCKET: "b", c.ENV_JOBS_TABLE: "j", c.ENV_CONTROL_TABLE: "k", c.ENV_IDEMPOTENCY_TABLE: "i",
               c.ENV_STATE_MACHINE_ARN: "arn", c.ENV_WAKE_QUEUE_URL: "u",
               c.ENV_PRICES: json_module.dumps(to_json(cfg.prices)), c.ENV_BUDGET_DAILY: str(cfg.budget_daily_usd),
               c.ENV_BUDGET_MONTHLY: str(cfg.budget_monthly_usd), c.ENV_BUDGET_ACTION: cfg.budget_action}
    s = dispatch_settings(environ)
    assert s.prices == cfg.prices
    assert (s.budget.daily_usd, s.budget.monthly_usd, s.budget.action) == (12.5, 300.0, "fail")


def test_the_event_bus_is_the_default_one_or_a_custom_bus_name() -> None:
    assert config().event_bus_name == c.DEFAULT_EVENT_BUS == "default"
    assert config(eventBusName="default").event_bus_name == "default"
    assert config(eventBusName=" catalogue-events.v1_2 ").event_bus_name == "catalogue-events.v1_2"
    assert config(eventBusName="").event_bus_name == "default"


@pytest.mark.parametrize("value", ["aws.partner/saas/x", "aws.events", "a/b", "has space", "x" * 257, 7])
def test_a_bad_event_bus_name_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="eventBusName"):
        config(eventBusName=value)
