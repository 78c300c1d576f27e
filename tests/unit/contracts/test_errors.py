"""Error codes and the one error document every failure carries (i2v.contracts.errors)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2v.contracts.errors import (
    CAUGHT_ERRORS,
    DOCUMENTED_CODES,
    DefaultsFileError,
    EndImageMissing,
    ErrorCode,
    ErrorDetail,
    InvalidImage,
    InvalidJobFile,
    InvalidKey,
    InvalidParameters,
    JobError,
    MissingImage,
    ObjectChanged,
    ProviderReason,
    SubmitOutcomeUnknown,
    error_code,
)
from i2v.contracts.status import Stage
from support import SCHEMA_PATH

CODE_PATTERN = json.loads(SCHEMA_PATH.read_text())["properties"]["error"]["oneOf"][1]["properties"]["code"]["pattern"]

# --- codes ---------------------------------------------------------------------------------------


def test_every_documented_code_fits_the_notification_schema():
    assert all(re.fullmatch(CODE_PATTERN, code) for code in DOCUMENTED_CODES)
    assert {"INVALID_PRIORITY", "INVALID_KEY", "OBJECT_CHANGED", "ILLEGAL_PROMPT"} <= DOCUMENTED_CODES
    assert DOCUMENTED_CODES == frozenset(ErrorCode) | frozenset(ProviderReason)


@pytest.mark.parametrize("reason, code", [
    ("ILLEGAL_PROMPT", "ILLEGAL_PROMPT"),
    ("invalid image url", "INVALID_IMAGE_URL"),
    ("rate-limit.exceeded", "RATE_LIMIT_EXCEEDED"),
    ("  __spaced__  ", "SPACED"),
    ("HTTP 502", "HTTP_502"),
])
def test_a_providers_reason_becomes_an_upper_snake_code(reason, code):
    assert error_code(reason, "FALLBACK") == code


@pytest.mark.parametrize("reason", [None, "", "   ", "502", "é", "--"])
def test_a_reason_that_gives_no_code_uses_the_fallback(reason):
    assert error_code(reason, ErrorCode.TASK_FAILED) == "TASK_FAILED"


def test_a_long_reason_is_cut_to_64_characters():
    assert error_code("x" * 500, "F") == "X" * 64


@given(st.one_of(st.none(), st.text()))
def test_any_reason_gives_a_code_the_schema_accepts(reason):
    assert re.fullmatch(CODE_PATTERN, error_code(reason, ErrorCode.INTERNAL_ERROR))


# --- JobError ------------------------------------------------------------------------------------


@pytest.mark.parametrize("error, code, stage", [
    (InvalidImage, "IMAGE_CORRUPT", "validate"),
    (InvalidParameters, "INVALID_JOB_FILE", "validate"),
    (InvalidJobFile, "INVALID_JOB_FILE", "validate"),
    (DefaultsFileError, "INVALID_DEFAULTS_FILE", "validate"),
    (MissingImage, "IMAGE_NOT_FOUND", "validate"),
    (EndImageMissing, "END_IMAGE_NOT_FOUND", "validate"),
    (InvalidKey, "INVALID_KEY", "validate"),
    (ObjectChanged, "OBJECT_CHANGED", "validate"),
    (SubmitOutcomeUnknown, "SUBMIT_OUTCOME_UNKNOWN", "submit"),
    (JobError, "INTERNAL_ERROR", "validate"),
])
def test_each_job_error_carries_its_code_and_stage(error, code, stage):
    assert error("what went wrong").to_dict() == {"code": code, "message": "what went wrong", "stage": stage,
                                                  "retryable": False}
    assert code in DOCUMENTED_CODES


def test_the_detail_is_the_notifications_error_object():
    detail = MissingImage("the image uploads/cat.png does not exist").detail
    assert detail == ErrorDetail(code="IMAGE_NOT_FOUND", message="the image uploads/cat.png does not exist",
                                 stage=Stage.VALIDATE, retryable=False)


def test_a_raise_site_can_be_more_specific():
    err = InvalidImage("x", code=ErrorCode.IMAGE_TOO_SMALL, stage="store", retryable=True)
    assert err.to_dict() == {"code": "IMAGE_TOO_SMALL", "message": "x", "stage": "store", "retryable": True}
    assert err.detail.stage is Stage.STORE
    assert InvalidImage("y").code == "IMAGE_CORRUPT"  # the class default is untouched
    assert str(err) == "x" and isinstance(err, JobError)


def test_a_long_message_is_cut_in_the_detail_but_kept_on_the_exception():
    err = JobError("m" * 5000)
    assert len(err.message) == 5000
    assert len(err.detail.message) == ErrorDetail.MAX_MESSAGE == 1000


def test_an_unknown_stage_is_refused_at_the_raise_site():
    with pytest.raises(ValueError):
        JobError("x", stage="upload")


def test_the_error_families_nest():
    assert issubclass(DefaultsFileError, InvalidJobFile) and issubclass(EndImageMissing, MissingImage)
    assert all(issubclass(e, JobError) for e in (InvalidImage, InvalidParameters, InvalidKey, ObjectChanged,
                                                 SubmitOutcomeUnknown))


# --- ErrorDetail.from_document: ours ---------------------------------------------------------------


def test_our_own_error_documents_pass_through():
    document = {"code": "TIMED_OUT", "message": "late", "stage": "poll", "retryable": True}
    detail = ErrorDetail.from_document(document, Stage.STORE)
    assert detail == ErrorDetail("TIMED_OUT", "late", Stage.POLL, True)
    assert detail.to_dict() == document


def test_our_documents_get_defaults_for_missing_fields():
    assert ErrorDetail.from_document({"code": "X_Y"}, Stage.STORE).to_dict() == {
        "code": "X_Y", "message": "X_Y", "stage": "store", "retryable": False}
    assert ErrorDetail.from_document({"code": "X", "retryable": 1}, Stage.POLL).retryable is True


def test_our_documents_are_made_to_fit_the_contract():
    detail = ErrorDetail.from_document({"code": "not upper", "message": "m" * 3000, "stage": "elsewhere"},
                                       Stage.SUBMIT)
    assert detail.code == "NOT_UPPER"
    assert len(detail.message) == 1000
    assert detail.stage is Stage.SUBMIT


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("code", [ErrorCode.INVALID_PRIORITY, ErrorCode.VIDEO_TOO_LARGE, ProviderReason.ILLEGAL_PROMPT])
def test_a_detail_survives_its_document(stage, code):
    detail = ErrorDetail(code=code, message="m", stage=stage, retryable=True)
    assert ErrorDetail.from_document(json.loads(json.dumps(detail.to_dict())), Stage.POLL) == detail


# --- ErrorDetail.from_document: Step Functions' {Error, Cause} ---------------------------------------


def test_step_functions_error_with_a_lambda_json_cause():
    cause = json.dumps({"errorMessage": "the video download broke after 10 bytes", "errorType": "VideoTransferError",
                        "stackTrace": ["..."]})
    detail = ErrorDetail.from_document({"Error": "VideoTransferError", "Cause": cause}, Stage.POLL)
    assert detail.to_dict() == {"code": "VIDEO_DOWNLOAD_FAILED",
                                "message": "VideoTransferError: the video download broke after 10 bytes",
                                "stage": "store", "retryable": True}


def test_the_cause_error_type_wins_over_the_outer_name():
    cause = json.dumps({"errorMessage": "down", "errorType": "ProviderUnavailable"})
    detail = ErrorDetail.from_document({"Error": "States.TaskFailed", "Cause": cause}, Stage.STORE)
    assert (detail.code, detail.stage) == ("PROVIDER_UNAVAILABLE", Stage.POLL)


@pytest.mark.parametrize("name, code, stage", [("States.Timeout", "TIMED_OUT", "poll"),
                                               ("States.TaskFailed", "INTERNAL_ERROR", "poll")])
def test_step_functions_errors_with_a_plain_cause(name, code, stage):
    detail = ErrorDetail.from_document({"Error": name, "Cause": "Task timed out after 900 seconds"}, Stage.STORE)
    assert detail.to_dict() == {"code": code, "message": f"{name}: Task timed out after 900 seconds",
                                "stage": stage, "retryable": True}


@pytest.mark.parametrize("cause", ['["a", "b"]', '"just text"', "42", None, "{not json"])
def test_causes_that_are_not_objects_are_kept_as_text(cause):
    detail = ErrorDetail.from_document({"Error": "KeyError", "Cause": cause}, Stage.STORE)
    assert detail.code == "INTERNAL_ERROR"
    assert detail.stage is Stage.STORE  # an unknown error belongs to the stage it surfaced in
    assert detail.retryable is True
    assert detail.message.startswith("KeyError: ")


def test_an_error_document_without_a_name():
    detail = ErrorDetail.from_document({"Cause": "something"}, Stage.POLL)
    assert (detail.code, detail.message) == ("INTERNAL_ERROR", "INTERNAL_ERROR: something")


def test_long_causes_are_cut():
    assert len(ErrorDetail.from_document({"Error": "Boom", "Cause": "x" * 5000}, Stage.POLL).message) == 1000


def test_every_caught_error_maps_to_a_documented_code():
    for name, (code, stage, retryable) in CAUGHT_ERRORS.items():
        detail = ErrorDetail.from_document({"Error": name, "Cause": "c"}, Stage.VALIDATE)
        assert (detail.code, detail.stage, detail.retryable) == (code, stage, retryable)
        assert code in DOCUMENTED_CODES
