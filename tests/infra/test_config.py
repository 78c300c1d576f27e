"""AppConfig: every knob's default, parsing of command-line strings, and errors that name the knob."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v import constants as c
from i2v_infra.config import MAX_DEADLINE_SECONDS, AppConfig, ConfigError

pytestmark = pytest.mark.infra

ASL = json.loads((Path(__file__).resolve().parents[2] / "infra/i2v_infra/workflow/pipeline.asl.json").read_text())


def config(**context) -> AppConfig:
    return AppConfig.from_context(context.get)


def test_defaults_when_no_context_is_given():
    cfg = config()
    assert cfg == AppConfig()
    assert cfg.stack_name == "I2VPipeline"
    assert cfg.bucket_name is None and cfg.api_key_secret_name is None
    assert (cfg.uploads_prefix, cfg.outputs_prefix) == ("uploads/", "outputs/")
    assert dict(cfg.defaults) == {"prompt": c.DEFAULT_PROMPT, "negative_prompt": "", "mode": "Standard",
                                  "duration": 5, "guidance_scale": 0.5}
    assert (cfg.max_in_flight, cfg.submits_per_minute) == (10, 20)
    assert (cfg.deadline_standard_seconds, cfg.deadline_professional_seconds) == (900, 1800)
    assert cfg.alarm_email is None and cfg.notification_email is None
    assert cfg.log_retention_days == 30
    assert cfg.removal_policy == "retain" and not cfg.destroy_on_delete
    assert cfg.provider_url == "https://api.highwayapi.ai"
    assert dict(cfg.lambda_memory_mb) == {"submit": 512, "status": 256, "store": 1024}
    assert cfg.max_video_bytes == c.DEFAULT_MAX_VIDEO_BYTES
    assert cfg.queue_age_alarm_seconds == 3600


def test_command_line_strings_are_parsed():
    cfg = config(maxInFlight="4", submitsPerMinute="12", deadlineStandardSeconds="600",
                 defaults='{"mode": "Professional", "duration": "10", "prompt": "a cat"}',
                 lambdaMemoryMb='{"store": "2048"}', removalPolicy="DESTROY", uploadsPrefix="in",
                 outputsPrefix="out/videos", providerUrl="https://sim.example.com/")
    assert (cfg.max_in_flight, cfg.submits_per_minute, cfg.deadline_standard_seconds) == (4, 12, 600)
    assert cfg.defaults["mode"] == "Professional" and cfg.defaults["duration"] == 10
    assert cfg.defaults["prompt"] == "a cat" and cfg.defaults["guidance_scale"] == 0.5
    assert dict(cfg.lambda_memory_mb) == {"submit": 512, "status": 256, "store": 2048}
    assert cfg.destroy_on_delete
    assert (cfg.uploads_prefix, cfg.outputs_prefix) == ("in/", "out/videos/")
    assert cfg.provider_url == "https://sim.example.com"


def test_existing_bucket_and_secret_and_emails():
    cfg = config(bucketName="my-bucket.example", apiKeySecretName="prod/highway", alarmEmail="ops@example.com",
                 notificationEmail="me@example.org")
    assert cfg.bucket_name == "my-bucket.example" and cfg.api_key_secret_name == "prod/highway"
    assert cfg.alarm_email == "ops@example.com" and cfg.notification_email == "me@example.org"


def test_empty_strings_mean_absent():
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
    ("lambdaMemoryMb", {"submit": 64}),
    ("lambdaMemoryMb", {"poller": 512}),
    ("lambdaMemoryMb", "512"),
    ("maxVideoBytes", 10),
    ("queueAgeAlarmSeconds", 1),
    ("stackName", "1-starts-with-a-digit"),
])
def test_bad_values_fail_with_the_knob_name(knob, value):
    with pytest.raises(ConfigError, match=knob):
        config(**{knob: value})


def test_prefixes_must_not_contain_each_other():
    with pytest.raises(ConfigError, match="uploadsPrefix"):
        config(uploadsPrefix="media/", outputsPrefix="media/out/")
    with pytest.raises(ConfigError, match="outputsPrefix"):
        config(uploadsPrefix="data/in/", outputsPrefix="data/")


def test_deadline_bound_leaves_the_workflow_room_to_store_and_notify():
    store_timeout = 300
    assert MAX_DEADLINE_SECONDS + 2 * store_timeout < ASL["TimeoutSeconds"]
