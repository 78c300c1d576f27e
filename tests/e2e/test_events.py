"""The notification also goes to EventBridge: through the whole local pipeline, an event put by the store
function reaches a queue through a rule on `{"source": ["i2v"]}`, as a user's rule would route it."""

from __future__ import annotations

import time

import pytest

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e


def wait_for_events(p: Pipeline, count: int, timeout: float = 60.0, settle: float = 2.0) -> list[dict]:
    events: list[dict] = []
    end = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < end:
        events.extend(p.cloud.drain_events(wait_seconds=1))
    time.sleep(settle)
    return events + p.cloud.drain_events(wait_seconds=0)


def by_key(notes: list[dict]) -> dict[str, dict]:
    return {n["notification"]["source"]["key"]: n["notification"] for n in notes}


def test_a_video_and_a_failure_each_reach_a_rule_once_with_the_sns_document(notification_validator):
    with Pipeline() as p:
        p.put("uploads/shoe.png", image_bytes())
        p.put("uploads/tiny.png", image_bytes(200, 150))
        notes = by_key(p.wait_for(2, timeout=90, settle=2))
        events = wait_for_events(p, 2)
    assert len(notes) == 2 and len(events) == 2  # one of each per job, on both channels
    assert {e["source"] for e in events} == {"i2v"}
    events_by_key = {e["detail"]["source"]["key"]: e for e in events}
    shoe, tiny = events_by_key["uploads/shoe.png"], events_by_key["uploads/tiny.png"]
    assert shoe["detail-type"] == "Video Succeeded"
    assert shoe["detail"] == notes["uploads/shoe.png"]
    assert tiny["detail-type"] == "Video Failed"
    assert tiny["detail"] == notes["uploads/tiny.png"]
    assert tiny["detail"]["error"]["code"] == "IMAGE_TOO_SMALL"
    for event in events:
        notification_validator.validate(event["detail"])
        # (moto leaves `account` out of what it delivers to a queue; AWS sends it too)
        assert event["region"] == "us-east-1" and event["id"] and event["time"] and event["version"] == "0"


def test_a_named_bus_carries_a_batch_rows_and_its_summary():
    rows = "image,prompt,duration\n_inputs/red.png,turntable,5\n_inputs/red.png,zoom,7\n"
    with Pipeline(cloud_knobs={"event_bus": "catalogue"}) as p:
        assert p.cloud.function_environment("store")["I2V_EVENT_BUS"] == "catalogue"
        p.put("uploads/shop/_inputs/red.png", image_bytes())
        p.put("uploads/shop/items.csv", rows.encode())
        notes = p.wait_for(3, timeout=120, settle=2)
        events = wait_for_events(p, 3)
    assert len(notes) == 3, [n["notification"].get("status") for n in notes]
    assert sorted(e["detail-type"] for e in events) == ["Batch Completed", "Video Failed", "Video Succeeded"]
    (summary,) = [e["detail"] for e in events if e["detail-type"] == "Batch Completed"]
    assert summary["schema"] == "i2v.batch/v1"
    assert summary["counts"] == {"total": 2, "succeeded": 1, "failed": 1}
    assert summary in [n["notification"] for n in notes]  # the same document SNS carried
