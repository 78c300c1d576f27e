"""Two uploads, one output name (`x/cat.png` and `x/cat.jpg`, or one key uploaded twice): the later
upload wins the name whatever order the jobs finish in, and every notification's URL serves the
video it describes (README, Jobs)."""

from __future__ import annotations

import time

import pytest
import requests

from support import Pipeline, image_bytes

pytestmark = pytest.mark.e2e

# The simulator takes 300 to 420 provider seconds for Professional, 60 to 180 for Standard: an upload in
# Professional mode finishes after a later one in Standard.
SLOW, FAST = {"mode": "Professional"}, {"mode": "Standard"}


def test_the_later_upload_wins_the_name_and_every_url_serves_its_own_video(notification_validator):
    with Pipeline(speed=60) as p:
        # older finishes last: it gets a name of its own
        p.put("uploads/x/cat.png", image_bytes(640, 480, "PNG", color=(10, 20, 30)), SLOW)
        time.sleep(0.05)
        p.put("uploads/x/cat.jpg", image_bytes(600, 480, "JPEG", color=(200, 20, 30)), FAST)
        # newer finishes last: it takes the name over from the older
        p.put("uploads/x/dog.png", image_bytes(640, 480, "PNG", color=(10, 200, 30)), FAST)
        time.sleep(0.05)
        p.put("uploads/x/dog.jpg", image_bytes(600, 480, "JPEG", color=(10, 20, 200)), SLOW)
        # one key uploaded twice, the first version finishing last
        p.put("uploads/x/bird.png", image_bytes(640, 480, "PNG", color=(90, 90, 90)), SLOW)
        time.sleep(0.05)
        p.put("uploads/x/bird.png", image_bytes(640, 400, "PNG", color=(190, 90, 90)), FAST)
        notes = [m["notification"] for m in p.wait_for(6, timeout=120, settle=2)]
        bodies = {n["job_id"]: requests.get(n["output"]["url"], timeout=10).content
                  for n in notes if n["output"]}
        latest = {key: p.s3.get_object(Bucket=p.bucket, Key=key)["Body"].read()
                  for key in ("outputs/x/cat.mp4", "outputs/x/dog.mp4", "outputs/x/bird.mp4")}
        manifests = {key: p.s3.get_object(Bucket=p.bucket, Key=key)["Body"].read()
                     for key in ("outputs/x/cat.json", "outputs/x/dog.json", "outputs/x/bird.json")}
    assert len(notes) == 6 and all(n["status"] == "SUCCEEDED" for n in notes), notes
    for note in notes:
        notification_validator.validate(note)
        body = bodies[note["job_id"]]
        assert len(body) == note["output"]["size_bytes"] and body[4:8] == b"ftyp"  # the video it describes
    by_upload = sorted(notes, key=lambda n: n["timings"]["uploaded_at"])
    for stem in ("cat", "dog", "bird"):
        older, newer = [n for n in by_upload if n["output"]["key"].startswith(f"outputs/x/{stem}")
                        or n["source"]["key"].startswith(f"uploads/x/{stem}.")]
        shared = f"outputs/x/{stem}.mp4"
        assert newer["output"]["key"] == shared
        assert latest[shared] == bodies[newer["job_id"]]  # the name holds the later upload's video
        assert f'"job_id": "{newer["job_id"]}"'.encode() in manifests[f"outputs/x/{stem}.json"]
        if stem == "dog":  # the older finished first: it had the name until the newer took it
            assert older["output"]["key"] == shared
        else:  # the older finished last: a name of its own, never over the newer's video
            assert older["output"]["key"] == f"outputs/x/{stem}.{older['job_id'][:8]}.mp4"
        assert bodies[older["job_id"]] != bodies[newer["job_id"]]
