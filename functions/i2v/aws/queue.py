"""Attributes of an upload event message on the submit queue.

`i2v jobs retry` puts an operator's deliberate retry on the queue with a redrive number, which
gives the attempt a new idempotency key and a new workflow name.
"""

from __future__ import annotations

REDRIVE_ATTRIBUTE = "i2v-redrive"


def message_attributes(redrive: int = 0) -> dict[str, dict[str, str]]:
    return {REDRIVE_ATTRIBUTE: {"DataType": "Number", "StringValue": str(redrive)}}
