"""Every CDK context knob of the app, in one typed model.

Knobs come from `cdk.json`, `cdk.context.json` or `-c name=value` on the command line. Values from the
command line arrive as strings, so numbers and objects are parsed here too (an object may be given
as JSON text). A bad value fails synth with a message that names the knob.

| knob                          | default                     | meaning                                            |
|-------------------------------|-----------------------------|----------------------------------------------------|
| stackName                     | I2VPipeline                 | CloudFormation stack name                          |
| bucketName                    | (absent: create a bucket)   | existing bucket to use for uploads and outputs     |
| uploadsPrefix                 | uploads/                    | where users drop images and job files              |
| outputsPrefix                 | outputs/                    | where videos and manifests go                      |
| defaults                      | i2v.contracts.params        | stack-wide job parameters (lowest precedence)      |
| maxInFlight                   | 10                          | provider tasks running at once                     |
| submitsPerMinute              | 20                          | provider submissions per minute                    |
| deadlineStandardSeconds       | 900                         | a Standard job fails with TIMED_OUT after this     |
| deadlineProfessionalSeconds   | 1800                        | a Professional job fails with TIMED_OUT after this |
| alarmEmail                    | (none)                      | email subscribed to the alarm topic                |
| notificationEmail             | (none)                      | email subscribed to the job notification topic     |
| logRetentionDays              | 30                          | CloudWatch Logs retention (a value Logs accepts)   |
| removalPolicy                 | retain                      | retain or destroy the data (bucket, tables, ...)   |
| apiKeySecretName              | (absent: create a secret)   | existing Secrets Manager secret with the API key   |
| providerUrl                   | https://api.highwayapi.ai   | provider base URL (https only)                     |
| lambdaMemoryMb                | intake 512, dispatch 512,   | memory per function (object; keys may be omitted)  |
|                               | status 256, store 1024      |                                                    |
| maxVideoBytes                 | 536870912 (512 MiB)         | the store function refuses larger videos           |
| queueAgeAlarmSeconds          | 3600                        | alarm when the oldest upload waits longer          |
| trigger                       | images                      | images: images and job files start jobs;           |
|                               |                             | job-files: only job and batch files do             |
| imageGraceSeconds             | 10                          | an image waits this long for a job file naming it  |
| prices                        | Standard 5s 0.13, 10s 0.26; | the provider's price per mode and duration ($)     |
|                               | Professional 0.475 / 0.95   | (object; entries may be omitted)                   |
| budgetDailyUsd                | (none: no limit)            | provider spend allowed per UTC day                 |
| budgetMonthlyUsd              | (none: no limit)            | provider spend allowed per UTC month               |
| budgetAction                  | wait                        | wait: over-budget jobs wait; fail: BUDGET_EXCEEDED |
| jobRetentionDays              | 90                          | a job record expires (DynamoDB TTL) this many days |
|                               |                             | after the job ends (1 to 3650)                     |
| eventBusName                  | default                     | EventBridge bus the notifications also go to (an   |
|                               |                             | existing bus's name; default: the account's own)   |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from i2v import constants as c
from i2v.contracts.errors import InvalidParameters
from i2v.contracts.params import stack_defaults
from i2v.contracts.prices import PriceTableError, price_table
from i2v_infra.resources import FUNCTIONS


class ConfigError(ValueError):
    """A context knob has a value the app cannot use; the message names the knob."""


# The ASL's TimeoutSeconds is 7200: a deadline must leave the workflow time to store and notify.
MAX_DEADLINE_SECONDS = 6000
MIN_DEADLINE_SECONDS = 60

DEFAULT_STACK_NAME = "I2VPipeline"
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_QUEUE_AGE_ALARM_SECONDS = 3600
DEFAULT_LAMBDA_MEMORY_MB: Mapping[str, int] = {name: spec.memory_mb for name, spec in FUNCTIONS.items()}
# The retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
REMOVAL_POLICIES = ("retain", "destroy")

_BUCKET_NAME = re.compile(r"^(?!xn--)(?!sthree-)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")
_EVENT_BUS_NAME = re.compile(r"^(?!aws\.)[A-Za-z0-9._-]{1,256}$")  # a custom bus's name, or "default"


@dataclass(frozen=True)
class AppConfig:
    """The app's settings, parsed and checked. Field docs are in the module docstring."""

    stack_name: str = DEFAULT_STACK_NAME
    bucket_name: str | None = None
    uploads_prefix: str = c.DEFAULT_UPLOADS_PREFIX
    outputs_prefix: str = c.DEFAULT_OUTPUTS_PREFIX
    defaults: Mapping[str, Any] = field(default_factory=lambda: stack_defaults({}))
    max_in_flight: int = c.DEFAULT_MAX_IN_FLIGHT
    submits_per_minute: int = c.DEFAULT_SUBMITS_PER_MINUTE
    deadline_standard_seconds: int = c.DEFAULT_DEADLINE_STANDARD
    deadline_professional_seconds: int = c.DEFAULT_DEADLINE_PROFESSIONAL
    alarm_email: str | None = None
    notification_email: str | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    removal_policy: str = "retain"
    api_key_secret_name: str | None = None
    provider_url: str = c.DEFAULT_PROVIDER_URL
    lambda_memory_mb: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_LAMBDA_MEMORY_MB))
    max_video_bytes: int = c.DEFAULT_MAX_VIDEO_BYTES
    queue_age_alarm_seconds: int = DEFAULT_QUEUE_AGE_ALARM_SECONDS
    trigger: str = c.DEFAULT_TRIGGER
    image_grace_seconds: int = c.DEFAULT_IMAGE_GRACE_SECONDS
    prices: Mapping[str, Mapping[int, float]] = field(default_factory=lambda: price_table({}))
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None
    budget_action: str = c.BUDGET_WAIT
    job_retention_days: int = c.DEFAULT_JOB_RETENTION_DAYS
    event_bus_name: str = c.DEFAULT_EVENT_BUS

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == "destroy"

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> AppConfig:
        """Builds the config from a context getter such as ``app.node.try_get_context``."""
        uploads = _prefix(get, "uploadsPrefix", c.DEFAULT_UPLOADS_PREFIX)
        outputs = _prefix(get, "outputsPrefix", c.DEFAULT_OUTPUTS_PREFIX)
        if uploads.startswith(outputs) or outputs.startswith(uploads):
            raise ConfigError(
                f"context knobs 'uploadsPrefix' ({uploads!r}) and 'outputsPrefix' ({outputs!r}) must not "
                "contain each other: a manifest written under the uploads prefix would start a new job")
        standard = _int(get, "deadlineStandardSeconds", c.DEFAULT_DEADLINE_STANDARD,
                        MIN_DEADLINE_SECONDS, MAX_DEADLINE_SECONDS)
        professional = _int(get, "deadlineProfessionalSeconds", c.DEFAULT_DEADLINE_PROFESSIONAL,
                            MIN_DEADLINE_SECONDS, MAX_DEADLINE_SECONDS)
        return cls(
            stack_name=_matching(get, "stackName", _STACK_NAME, "a CloudFormation stack name") or DEFAULT_STACK_NAME,
            bucket_name=_matching(get, "bucketName", _BUCKET_NAME, "an S3 bucket name"),
            uploads_prefix=uploads,
            outputs_prefix=outputs,
            defaults=_job_defaults(get),
            max_in_flight=_int(get, "maxInFlight", c.DEFAULT_MAX_IN_FLIGHT, 1, 1000),
            submits_per_minute=_int(get, "submitsPerMinute", c.DEFAULT_SUBMITS_PER_MINUTE, 1, 600),
            deadline_standard_seconds=standard,
            deadline_professional_seconds=professional,
            alarm_email=_matching(get, "alarmEmail", _EMAIL, "an email address"),
            notification_email=_matching(get, "notificationEmail", _EMAIL, "an email address"),
            log_retention_days=_log_retention(get),
            removal_policy=_choice(get, "removalPolicy", REMOVAL_POLICIES, "retain"),
            trigger=_choice(get, "trigger", c.TRIGGERS, c.DEFAULT_TRIGGER),
            image_grace_seconds=_int(get, "imageGraceSeconds", c.DEFAULT_IMAGE_GRACE_SECONDS, 0, 900),
            prices=_prices(get),
            budget_daily_usd=_dollars(get, "budgetDailyUsd"),
            budget_monthly_usd=_dollars(get, "budgetMonthlyUsd"),
            budget_action=_choice(get, "budgetAction", c.BUDGET_ACTIONS, c.BUDGET_WAIT),
            job_retention_days=_int(get, "jobRetentionDays", c.DEFAULT_JOB_RETENTION_DAYS, 1, 3650),
            event_bus_name=_matching(get, "eventBusName", _EVENT_BUS_NAME,
                                     "an EventBridge event bus name (letters, digits, '.', '-', '_'; "
                                     "not starting with 'aws.') or 'default'") or c.DEFAULT_EVENT_BUS,
            api_key_secret_name=_matching(get, "apiKeySecretName", _SECRET_NAME, "a Secrets Manager secret name"),
            provider_url=_provider_url(get),
            lambda_memory_mb=_memory(get),
            max_video_bytes=_int(get, "maxVideoBytes", c.DEFAULT_MAX_VIDEO_BYTES, 1024 * 1024, 10 * 1024**3),
            queue_age_alarm_seconds=_int(get, "queueAgeAlarmSeconds", DEFAULT_QUEUE_AGE_ALARM_SECONDS, 60,
                                         14 * 24 * 3600),
        )


# --- parsers: each names its knob in the error -----------------------------------------------------

def _raw(get: Callable[[str], Any], knob: str) -> Any:
    value = get(knob)
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _int(get: Callable[[str], Any], knob: str, default: int, low: int, high: int) -> int:
    raw = _raw(get, knob)
    if raw is None:
        return default
    if isinstance(raw, bool):
        raise ConfigError(f"context knob {knob!r} must be an integer, got {raw!r}")
    try:
        value = int(raw) if isinstance(raw, int) else int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"context knob {knob!r} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"context knob {knob!r} must be between {low} and {high}, got {value}")
    return value


def _matching(get: Callable[[str], Any], knob: str, pattern: re.Pattern[str], what: str) -> str | None:
    raw = _raw(get, knob)
    if raw is None:
        return None
    if not isinstance(raw, str) or not pattern.match(raw.strip()):
        raise ConfigError(f"context knob {knob!r} must be {what}, got {raw!r}")
    return raw.strip()


def _choice(get: Callable[[str], Any], knob: str, choices: tuple[str, ...], default: str) -> str:
    raw = _raw(get, knob)
    if raw is None:
        return default
    value = str(raw).strip().lower()
    if value not in choices:
        raise ConfigError(f"context knob {knob!r} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def _prefix(get: Callable[[str], Any], knob: str, default: str) -> str:
    raw = _raw(get, knob)
    if raw is None:
        return default
    value = str(raw).strip()
    if value and not value.endswith("/"):
        value += "/"
    if value.startswith("/") or "//" in value or not _PREFIX.match(value):
        raise ConfigError(f"context knob {knob!r} must be a key prefix such as 'uploads/' (letters, digits, "
                          f"'/', '-', '_', '.'; no leading '/'), got {raw!r}")
    return value


def _object(get: Callable[[str], Any], knob: str) -> dict[str, Any] | None:
    raw = _raw(get, knob)
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"context knob {knob!r} must be a JSON object: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"context knob {knob!r} must be an object, got {raw!r}")
    return raw


def _known_object(get: Callable[[str], Any], knob: str, allowed: Iterable[str]) -> dict:
    """An object knob whose keys must all be known; the error names the unknown ones."""
    given = _object(get, knob) or {}
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ConfigError(f"context knob {knob!r} has unknown keys {unknown}; allowed: {sorted(allowed)}")
    return given


def _job_defaults(get: Callable[[str], Any]) -> dict[str, Any]:
    """The stack-wide job defaults, checked by the very rules every job is checked by at run time."""
    try:
        return stack_defaults(_object(get, "defaults") or {})
    except InvalidParameters as exc:
        raise ConfigError(f"context knob 'defaults': {exc.message}") from None


def _prices(get: Callable[[str], Any]) -> dict[str, dict[int, float]]:
    """The provider's price per mode and duration: the defaults with the knob's entries over them."""
    try:
        return price_table(_object(get, "prices") or {})
    except PriceTableError as exc:
        raise ConfigError(f"context knob 'prices': {exc}") from None


def _dollars(get: Callable[[str], Any], knob: str) -> float | None:
    raw = _raw(get, knob)
    if raw is None:
        return None
    try:
        value = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not 0 <= value <= 10_000_000:
        raise ConfigError(f"context knob {knob!r} must be a number of dollars (0 or more), got {raw!r}")
    return value


def _log_retention(get: Callable[[str], Any]) -> int:
    value = _int(get, "logRetentionDays", DEFAULT_LOG_RETENTION_DAYS, 1, 3653)
    if value not in LOG_RETENTION_DAYS:
        raise ConfigError(f"context knob 'logRetentionDays' must be one of {LOG_RETENTION_DAYS}, got {value}")
    return value


def _provider_url(get: Callable[[str], Any]) -> str:
    raw = _raw(get, "providerUrl")
    if raw is None:
        return c.DEFAULT_PROVIDER_URL
    value = str(raw).strip().rstrip("/")
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?$", value):
        raise ConfigError(f"context knob 'providerUrl' must be an https:// URL, got {raw!r}")
    return value


def _memory(get: Callable[[str], Any]) -> dict[str, int]:
    knob = "lambdaMemoryMb"
    given = _known_object(get, knob, DEFAULT_LAMBDA_MEMORY_MB)
    merged = dict(DEFAULT_LAMBDA_MEMORY_MB)
    for name, raw in given.items():
        merged[name] = _int(_constant(raw), f"{knob}.{name}", DEFAULT_LAMBDA_MEMORY_MB[name], 128, 10240)
    return merged


def _constant(value: Any) -> Callable[[str], Any]:
    """A context getter that answers ``value`` for any knob (to parse one member of an object knob)."""
    def get(_knob: str) -> Any:
        return value
    return get
