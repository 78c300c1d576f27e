"""The HighwayAPI client over a fake transport: no sockets (i2v.provider.client)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from i2v.provider.client import RESULT_PATH, SUBMIT_PATH, HighwayClient
from i2v.provider.errors import (
    ProviderAccountError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SubmitReplyLost,
    TaskFailed,
    TaskNotFound,
)
from i2v.provider.models import STATUS_PROCESSING, STATUS_SUCCEED, STATUS_UNKNOWN, SubmitRequest

BASE = "https://api.highway.test"
API_KEY = "hw-live-SECRET-KEY-7f3a9c-DO-NOT-LEAK"
REQUEST = SubmitRequest(image_url="https://media.s3.example.com/uploads/cat.png?sig=1", prompt="a cat")


@pytest.fixture
def make(fakes):
    """make(*replies) -> (client, transport): a client whose HTTP goes to the scripted transport."""

    def build(*replies, base: str = BASE):
        transport = fakes.Transport(*replies)
        session = fakes.session_with(transport, base)  # longer than the client's own mounts
        return HighwayClient(base, API_KEY, session=session, connect_timeout=1.5, read_timeout=9.0), transport

    return build


@pytest.fixture
def Reply(fakes):
    return fakes.Reply


# --- what the transport raises, as requests' own adapter would ----------------------------------


def _conn():
    return HTTPSConnection("api.highway.test", 443)


def refused(request):
    reason = NewConnectionError(
        _conn(), "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    return requests.ConnectionError(MaxRetryError(None, request.path_url, reason), request=request)


def dns_failure(request):
    reason = NameResolutionError("api.highway.test", _conn(), OSError("Name or service not known"))
    return requests.ConnectionError(MaxRetryError(None, request.path_url, reason), request=request)


def connect_timeout(request):
    reason = ConnectTimeoutError(_conn(), "Connection to api.highway.test timed out. (connect timeout=1.5)")
    return requests.ConnectTimeout(MaxRetryError(None, request.path_url, reason), request=request)


def read_timeout(request):
    return requests.ReadTimeout(
        ReadTimeoutError(None, request.path_url, "Read timed out. (read timeout=9.0)"), request=request
    )


def reset_after_send(request):
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
        request=request,
    )


def remote_disconnected(request):
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionAbortedError("closed")), request=request
    )


# --- submit -------------------------------------------------------------------------------------


def test_submit_posts_the_body_with_the_key_in_the_authorization_header(make, Reply):
    client, transport = make(Reply.json(200, {"task_id": "task-123"}))
    assert client.submit(REQUEST) == "task-123"
    [sent] = transport.sent
    assert sent.method == "POST"
    assert sent.url == BASE + SUBMIT_PATH
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"image_url": REQUEST.image_url, "prompt": "a cat"}
    assert sent.timeout == (1.5, 9.0)


def test_submit_body_carries_every_field_a_job_sets(make, Reply):
    client, transport = make(Reply.json(200, {"task_id": "t"}))
    client.submit(
        SubmitRequest(
            image_url="https://i/a.png",
            prompt="p",
            mode="Professional",
            end_image_url="https://i/b.png",
            negative_prompt="blur",
            duration=10,
            guidance_scale=0.0,
        )
    )
    assert json.loads(transport.sent[0].body) == {
        "image_url": "https://i/a.png",
        "prompt": "p",
        "mode": "Professional",
        "end_image_url": "https://i/b.png",
        "negative_prompt": "blur",
        "duration": 10,
        "guidance_scale": 0.0,
    }


def test_a_trailing_slash_on_the_base_url_is_ignored(make, Reply):
    client, transport = make(Reply.json(200, {"task_id": "t"}), base=BASE + "/")
    client.submit(REQUEST)
    assert transport.sent[0].url == BASE + SUBMIT_PATH


def test_submit_tolerates_extra_fields_in_the_reply(make, Reply):
    client, _ = make(Reply.json(200, {"task_id": 987, "queue_position": 4}))
    assert client.submit(REQUEST) == "987"


@pytest.mark.parametrize("document", [{}, {"task_id": ""}, {"task_id": None}, ["task-1"]])
def test_a_200_without_a_task_id_means_the_outcome_is_unknown(make, Reply, document):
    client, _ = make(Reply.json(200, document))
    with pytest.raises(SubmitReplyLost):
        client.submit(REQUEST)


def test_a_200_that_is_not_json_means_the_outcome_is_unknown(make, Reply):
    client, _ = make(Reply(200, b"<html>ok</html>", {"Content-Type": "text/html"}))
    with pytest.raises(SubmitReplyLost):
        client.submit(REQUEST)


ERROR_TABLE = [
    (400, "INVALID_REQUEST_BODY", ProviderRejected, False),
    (400, "INVALID_IMAGE_FORMAT", ProviderRejected, False),
    (400, "IMAGE_FILE_EXCEEDS_MAX_SIZE", ProviderRejected, False),
    (400, "IMAGE_EXCEEDS_MAX_RESOLUTION", ProviderRejected, False),
    (400, "INVALID_IMAGE_SIZE", ProviderRejected, False),
    (400, "ILLEGAL_PROMPT", ProviderRejected, False),
    (400, "ILLEGAL_IMAGE_CONTENT", ProviderRejected, False),
    (400, "BILLING_BALANCE_NOT_ENOUGH", ProviderAccountError, False),
    (400, "MISSING_API_KEY", ProviderAccountError, False),
    (403, "INVALID_API_KEY", ProviderAccountError, False),
    (403, "API_NOT_ALLOWED", ProviderAccountError, False),
    (403, "BILLING_AUTH_FAILED", ProviderAccountError, False),
    (404, "TASK_NOT_FOUND", TaskNotFound, True),
    (429, "RATE_LIMIT_EXCEEDED", ProviderRateLimited, True),
    (500, "CREATE_TASK_FAILED", ProviderUnavailable, True),
    (500, "GET_RESULT_FAILED", ProviderUnavailable, True),
    (500, "BILLING_FAILED", ProviderUnavailable, True),
    (500, "TASK_FAILED", TaskFailed, False),
]


@pytest.mark.parametrize("status, reason, cls, retryable", ERROR_TABLE)
@pytest.mark.parametrize("call", ["submit", "get_result"])
def test_error_replies_map_to_the_error_table(make, Reply, status, reason, cls, retryable, call):
    client, _ = make(
        Reply.json(status, {"code": status, "reason": reason, "message": f"details for {reason}"})
    )
    with pytest.raises(ProviderError) as info:
        client.submit(REQUEST) if call == "submit" else client.get_result("task-1")
    exc = info.value
    assert type(exc) is cls
    assert exc.retryable is retryable
    assert exc.reason == reason
    assert exc.http_status == status
    assert exc.message == f"details for {reason}"


def test_a_gateway_error_page_is_a_retryable_outage(make, Reply):
    client, _ = make(
        Reply(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}, reason="Bad Gateway")
    )
    with pytest.raises(ProviderUnavailable) as info:
        client.submit(REQUEST)
    assert info.value.retryable
    assert info.value.reason == "HTTP_502"
    assert "Bad Gateway" in info.value.message


def test_an_error_body_that_is_json_but_not_an_object(make, Reply):
    client, _ = make(Reply.json(400, ["bad"]))
    with pytest.raises(ProviderRejected) as info:
        client.submit(REQUEST)
    assert info.value.reason == "HTTP_400"


@pytest.mark.parametrize("failure", [refused, dns_failure, connect_timeout])
def test_nothing_sent_is_a_retryable_outage(make, failure):
    client, transport = make(failure)
    with pytest.raises(ProviderUnavailable) as info:
        client.submit(REQUEST)
    assert info.value.retryable
    assert info.value.reason == "CONNECT_FAILED"
    assert len(transport.sent) == 1  # one attempt: retries belong to the caller


@pytest.mark.parametrize("failure", [read_timeout, reset_after_send, remote_disconnected])
def test_a_lost_reply_after_sending_is_not_retried(make, failure):
    client, _ = make(failure)
    with pytest.raises(SubmitReplyLost) as info:
        client.submit(REQUEST)
    assert not info.value.retryable
    assert info.value.reason == "SUBMIT_OUTCOME_UNKNOWN"
    assert "billed" in info.value.message


# --- get_result ---------------------------------------------------------------------------------


def test_get_result_asks_for_the_task_with_the_key(make, Reply):
    client, transport = make(Reply.json(200, {"task": {"task_id": "t 1", "status": "TASK_STATUS_QUEUED"}}))
    result = client.get_result("t 1")
    [sent] = transport.sent
    assert sent.method == "GET"
    assert urlsplit(sent.url).path == RESULT_PATH
    assert parse_qs(urlsplit(sent.url).query) == {"task_id": ["t 1"]}
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert result.task_id == "t 1"


def test_get_result_parses_a_finished_task(make, Reply):
    client, _ = make(
        Reply.json(
            200,
            {
                "extra": {"seed": "1"},
                "task": {
                    "task_id": "t",
                    "status": "TASK_STATUS_SUCCEED",
                    "eta": 0,
                    "progress_percent": 100,
                    "unexpected": True,
                },
                "videos": [
                    {"video_url": "https://cdn.example/v.mp4", "video_url_ttl": "3600", "video_type": "mp4"}
                ],
                "new_top_level": {},
            },
        )
    )
    result = client.get_result("t")
    assert result.status == STATUS_SUCCEED
    assert result.videos[0].url == "https://cdn.example/v.mp4"
    assert result.videos[0].ttl_seconds == 3600


def test_get_result_tolerates_missing_hints_and_unknown_statuses(make, Reply):
    client, _ = make(
        Reply.json(200, {"task": {"status": "TASK_STATUS_PROCESSING"}}),
        Reply.json(200, {"task": {"status": "TASK_STATUS_SOMETHING_NEW", "eta": "soon"}}),
    )
    first, second = client.get_result("t"), client.get_result("t")
    assert (first.status, first.eta, first.progress_percent) == (STATUS_PROCESSING, None, None)
    assert (second.status, second.eta) == (STATUS_UNKNOWN, None)


@pytest.mark.parametrize(
    "reply",
    [
        lambda R: R(200, b"not json", {"Content-Type": "text/plain"}),
        lambda R: R.json(200, ["not", "an", "object"]),
    ],
)
def test_a_result_reply_that_is_not_a_json_object_is_a_retryable_outage(make, Reply, reply):
    client, _ = make(reply(Reply))
    with pytest.raises(ProviderUnavailable) as info:
        client.get_result("t")
    assert info.value.reason == "GET_RESULT_FAILED"


@pytest.mark.parametrize("failure", [refused, connect_timeout, read_timeout, reset_after_send])
def test_any_transport_failure_while_polling_is_retryable(make, failure):
    client, _ = make(failure)
    with pytest.raises(ProviderUnavailable) as info:
        client.get_result("t")
    assert info.value.retryable
    assert info.value.reason == "RESULT_UNREACHABLE"


# --- the key stays secret -----------------------------------------------------------------------

ALL_FAILURES = [refused, dns_failure, connect_timeout, read_timeout, reset_after_send]


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), *map(str, exc.args)]
    out += [str(v) for v in vars(exc).values()]
    return out


@pytest.mark.parametrize("call", ["submit", "get_result"])
@pytest.mark.parametrize(
    "reply",
    ALL_FAILURES
    + [
        lambda R: R.json(400, {"reason": "ILLEGAL_PROMPT", "message": "nope"}),
        lambda R: R.json(403, {"reason": "INVALID_API_KEY", "message": "bad key"}),
        lambda R: R.json(429, {"reason": "RATE_LIMIT_EXCEEDED"}),
        lambda R: R(500, b"oops"),
        lambda R: R(200, b"not json"),
    ],
)
def test_the_api_key_never_appears_in_an_exception(make, Reply, call, reply):
    script = reply if reply in ALL_FAILURES else reply(Reply)
    client, _ = make(script)
    with pytest.raises(ProviderError) as info:
        client.submit(REQUEST) if call == "submit" else client.get_result("t")
    for text in _texts(info.value):
        assert API_KEY not in text
        assert API_KEY[8:20] not in text


def test_the_api_key_is_not_in_the_clients_repr():
    client = HighwayClient(BASE, API_KEY)
    assert API_KEY not in repr(client)
    assert BASE in repr(client)


def test_an_empty_api_key_is_refused_up_front():
    with pytest.raises(ValueError, match="HIGHWAY_API_KEY"):
        HighwayClient(BASE, "")
