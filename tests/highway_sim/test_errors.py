from highway_sim.errors import ApiError, bad_request


def test_body_is_the_provider_error_shape():
    error = ApiError(404, "TASK_NOT_FOUND", "task x not found")
    assert error.body() == {"code": 404, "reason": "TASK_NOT_FOUND", "message": "task x not found"}
    assert "TASK_NOT_FOUND" in str(error)


def test_bad_request_defaults_to_invalid_request_body():
    assert bad_request("nope").body() == {"code": 400, "reason": "INVALID_REQUEST_BODY", "message": "nope"}
    assert bad_request("x", "ILLEGAL_PROMPT").reason == "ILLEGAL_PROMPT"
