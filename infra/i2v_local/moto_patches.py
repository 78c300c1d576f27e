"""The two places where moto is taught to behave like AWS for the local cloud.

* Lambda: moto runs functions in Docker; ``InProcessLambdas.patch_moto`` (lambda_runner) runs our
  handlers in-process instead.
* S3 events: moto's notifications carry neither ``versionId`` nor ``sequencer``; AWS sends both
  (a version id when the bucket keeps versions). With them, local jobs pin their object version
  exactly as deployed ones do.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

_SEQUENCE = itertools.count(1)
_LOCK = threading.Lock()


def patch_s3_events() -> Callable[[], None]:
    """Add versionId and sequencer to moto's S3 event records; returns the function that undoes it."""
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        with _LOCK:
            sequencer = f"{next(_SEQUENCE):016X}"
        for record in event["Records"]:
            obj = record["s3"]["object"]
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = sequencer
        return event

    notifications._get_s3_event = _get_s3_event

    def undo() -> None:
        notifications._get_s3_event = original

    return undo
