"""Pay once per content: the origin record of a content key (i2v.contents)."""

from __future__ import annotations

import json

from i2v.contents import DONE, PENDING, Origin


def test_an_origin_survives_json_as_the_workflow_carries_it():
    origin = Origin(content_key="c" * 64, job_id="0" * 32, state=DONE, until=123.5, bucket="media",
                    key="outputs/a.mp4", version_id="v1", size_bytes=1000, price_usd=0.13)
    assert Origin.from_dict(json.loads(json.dumps(origin.to_dict()))) == origin


def test_a_pending_origin_has_no_video_yet():
    origin = Origin.from_dict({"content_key": "c", "job_id": "j", "state": PENDING, "until": None})
    assert origin.until == 0.0 and origin.key is None and origin.version_id is None
    assert origin.to_dict() == {"content_key": "c", "job_id": "j", "state": PENDING, "until": 0.0, "bucket": None,
                                "key": None, "version_id": None, "size_bytes": None, "price_usd": None}


def test_a_record_read_from_the_table_ignores_its_other_attributes():
    item = {"pk": "content#c", "expires_at": 1, "content_key": "c", "job_id": "j", "state": DONE, "key": "k",
            "version_id": "v"}
    assert Origin.from_dict(item) == Origin(content_key="c", job_id="j", state=DONE, key="k", version_id="v")
