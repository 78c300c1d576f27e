"""Domain errors carry the notification's error fields (i2v.errors)."""

from __future__ import annotations

from i2v.errors import AtCapacity, InvalidImage, JobError, MissingImage, SubmitOutcomeUnknown


def test_job_errors_carry_code_stage_and_retryable():
    assert InvalidImage("too small").to_dict() == {
        "code": "INVALID_IMAGE",
        "message": "too small",
        "stage": "validate",
        "retryable": False,
    }
    assert MissingImage("gone").code == "IMAGE_NOT_FOUND"
    assert SubmitOutcomeUnknown("lost").to_dict()["stage"] == "submit"


def test_a_raise_site_can_be_more_specific():
    err = InvalidImage("x", code="IMAGE_TOO_SMALL", stage="store", retryable=True)
    assert err.to_dict() == {"code": "IMAGE_TOO_SMALL", "message": "x", "stage": "store", "retryable": True}
    assert InvalidImage("y").code == "INVALID_IMAGE"  # the class default is untouched
    assert str(err) == "x" and isinstance(err, JobError)


def test_at_capacity_says_when_to_retry():
    exc = AtCapacity("all in-flight slots are taken", retry_after=42.4)
    assert exc.retry_after == 42.4
    assert str(exc) == "all in-flight slots are taken; retry after 42s"
