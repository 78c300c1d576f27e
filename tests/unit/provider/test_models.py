"""Typed request and tolerant parsing of the provider's replies (i2v.provider.models)."""

from __future__ import annotations

import pytest

from i2v.provider.models import (
    STATUS_FAILED,
    STATUS_PROCESSING,
    STATUS_QUEUED,
    STATUS_SUCCEED,
    STATUS_UNKNOWN,
    SubmitRequest,
    normalise_status,
    parse_task_result,
)


@pytest.mark.parametrize(
    "raw, status",
    [
        ("TASK_STATUS_QUEUED", STATUS_QUEUED),
        ("TASK_STATUS_PROCESSING", STATUS_PROCESSING),
        ("TASK_STATUS_SUCCEED", STATUS_SUCCEED),
        ("TASK_STATUS_FAILED", STATUS_FAILED),
        ("task_status_succeed", STATUS_SUCCEED),
        ("QUEUED", STATUS_QUEUED),
        ("SUCCESS", STATUS_SUCCEED),
        ("SUCCEEDED", STATUS_SUCCEED),
        ("COMPLETED", STATUS_SUCCEED),
        ("DONE", STATUS_SUCCEED),
        ("FAILURE", STATUS_FAILED),
        ("ERROR", STATUS_FAILED),
        ("CANCELLED", STATUS_FAILED),
        ("CANCELED", STATUS_FAILED),
        ("TASK_STATUS_PAUSED", STATUS_UNKNOWN),
        ("", STATUS_UNKNOWN),
        (None, STATUS_UNKNOWN),
    ],
)
def test_normalise_status(raw, status):
    assert normalise_status(raw) == status


def test_submit_body_leaves_unset_fields_out():
    assert SubmitRequest(image_url="https://i/cat.png", prompt="p").body() == {
        "image_url": "https://i/cat.png",
        "prompt": "p",
    }


def test_submit_body_keeps_falsy_but_set_values():
    body = SubmitRequest(image_url="u", prompt="p", guidance_scale=0.0, negative_prompt="").body()
    assert body["guidance_scale"] == 0.0
    assert body["negative_prompt"] == ""


def test_parse_a_full_result():
    doc = {
        "extra": {"seed": "42", "debug_info": {"submit_time_ms": "1"}},
        "task": {
            "task_id": "t-1",
            "task_type": "KLING_V16_I2V_STANDARD",
            "status": "TASK_STATUS_SUCCEED",
            "reason": "",
            "eta": 0,
            "progress_percent": 100,
        },
        "videos": [{"video_url": "https://cdn.example/v.mp4", "video_url_ttl": "3600", "video_type": "mp4"}],
    }
    result = parse_task_result(doc, "t-1")
    assert result.status == STATUS_SUCCEED
    assert result.raw_status == "TASK_STATUS_SUCCEED"
    assert result.reason is None
    assert result.progress_percent == 100
    assert result.extra["seed"] == "42"
    assert [(v.url, v.ttl_seconds, v.video_type) for v in result.videos] == [
        ("https://cdn.example/v.mp4", 3600, "mp4")
    ]


def test_parse_tolerates_extra_fields_and_missing_hints():
    doc = {"task": {"status": "TASK_STATUS_PROCESSING", "new_field": {"x": 1}}, "brand_new": [1, 2]}
    result = parse_task_result(doc, "t-9")
    assert result.task_id == "t-9"
    assert result.status == STATUS_PROCESSING
    assert result.eta is None and result.progress_percent is None
    assert result.videos == []
    assert result.extra == {}


def test_parse_keeps_unknown_statuses_as_unknown():
    result = parse_task_result({"task": {"status": "TASK_STATUS_WARMING_UP"}}, "t")
    assert result.status == STATUS_UNKNOWN
    assert result.raw_status == "TASK_STATUS_WARMING_UP"


def test_parse_an_empty_document():
    result = parse_task_result({}, "t")
    assert (result.task_id, result.status, result.videos) == ("t", STATUS_UNKNOWN, [])


@pytest.mark.parametrize(
    "ttl, seconds",
    [("3600", 3600), (3600, 3600), ("86400.0", 86400), ("soon", None), (None, None), ("-5", None)],
)
def test_video_ttl_may_be_a_string(ttl, seconds):
    doc = {
        "task": {"status": "TASK_STATUS_SUCCEED"},
        "videos": [{"video_url": "https://v", "video_url_ttl": ttl}],
    }
    assert parse_task_result(doc, "t").videos[0].ttl_seconds == seconds


@pytest.mark.parametrize(
    "eta, progress, want_eta, want_progress",
    [("30", "40.5", 30.0, 40.5), (-1, -3, None, None), ("n/a", None, None, None), ("nan", "nan", None, None)],
)
def test_hints_are_numbers_or_nothing(eta, progress, want_eta, want_progress):
    result = parse_task_result(
        {"task": {"status": "TASK_STATUS_PROCESSING", "eta": eta, "progress_percent": progress}}, "t"
    )
    assert (result.eta, result.progress_percent) == (want_eta, want_progress)


def test_videos_without_a_url_are_skipped():
    doc = {
        "task": {"status": "TASK_STATUS_SUCCEED"},
        "videos": [{"video_url": ""}, "junk", {"video_type": "mp4"}, {"video_url": "https://v2"}],
    }
    assert [v.url for v in parse_task_result(doc, "t").videos] == ["https://v2"]
