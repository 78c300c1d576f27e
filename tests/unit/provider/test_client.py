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


# --- the key is read on each call, and read again past the cache when the provider refuses it ----

OLD_KEY = "hw-live-OLD-KEY-1b2c3d-ROTATED-AWAY"
NEW_KEY = "hw-live-NEW-KEY-9e8f7a-ROTATED-IN"


class KeyStore:
    """The secret seen through a cache: ``cached`` is what a cached read returns, ``current`` what
    Secrets Manager holds now (what a forced read returns, and then caches)."""

    def __init__(self, key: str) -> None:
        self.cached = self.current = key
        self.reads = 0
        self.forced_reads = 0

    def read(self) -> str:
        self.reads += 1
        return self.cached

    def reread(self) -> str:
        self.forced_reads += 1
        self.cached = self.current
        return self.current


def accepts_only(store: KeyStore, Reply, reply):
    """A provider that accepts only the key the store holds now; ``reply`` is sent when it does."""

    def answer(request):
        if request.headers["Authorization"] != f"Bearer {store.current}":
            return Reply.json(403, {"code": 403, "reason": "INVALID_API_KEY", "message": "invalid api key"})
        return reply

    return answer


@pytest.fixture
def keyed(fakes):
    """keyed(store, *replies) -> (client, transport) for a client that reads its key from ``store``."""

    def build(store: KeyStore, *replies):
        transport = fakes.Transport(*replies)
        client = HighwayClient(BASE, store.read, reread_key=store.reread,
                               session=fakes.session_with(transport, BASE))
        return client, transport

    return build


def _keys(transport) -> list[str]:
    return [s.headers["Authorization"].removeprefix("Bearer ") for s in transport.sent]


def test_the_key_is_read_on_each_call_so_a_rotated_key_is_picked_up(keyed, Reply):
    store = KeyStore(OLD_KEY)
    client, transport = keyed(store, Reply.json(200, {"task_id": "t1"}), Reply.json(200, {"task_id": "t2"}))
    assert client.submit(REQUEST) == "t1"
    store.cached = store.current = NEW_KEY  # rotated, and the cache has expired
    assert client.submit(REQUEST) == "t2"
    assert _keys(transport) == [OLD_KEY, NEW_KEY]
    assert (store.reads, store.forced_reads) == (2, 0)


@pytest.mark.parametrize("call", ["submit", "get_result"])
def test_a_refused_key_is_read_once_past_the_cache_and_the_call_sent_once_more(keyed, Reply, call):
    store = KeyStore(OLD_KEY)
    store.current = NEW_KEY  # put after this environment cached the old key
    ok = Reply.json(200, {"task_id": "t1"}) if call == "submit" else Reply.json(
        200, {"task": {"task_id": "t1", "status": "TASK_STATUS_QUEUED"}})
    client, transport = keyed(store, accepts_only(store, Reply, None), accepts_only(store, Reply, ok))
    result = client.submit(REQUEST) if call == "submit" else client.get_result("t1")
    assert (result if call == "submit" else result.task_id) == "t1"
    assert _keys(transport) == [OLD_KEY, NEW_KEY]
    assert store.forced_reads == 1
    assert store.reads == 1


@pytest.mark.parametrize("status, reason", [(403, "INVALID_API_KEY"), (401, ""), (403, ""), (400, "MISSING_API_KEY")])
def test_every_refusal_of_the_key_reads_it_again(keyed, Reply, status, reason):
    store = KeyStore(OLD_KEY)
    store.current = NEW_KEY
    client, transport = keyed(store, Reply.json(status, {"reason": reason} if reason else {}),
                              Reply.json(200, {"task_id": "t1"}))
    assert client.submit(REQUEST) == "t1"
    assert _keys(transport) == [OLD_KEY, NEW_KEY]
    assert store.forced_reads == 1


def test_an_unchanged_key_is_not_sent_again(keyed, Reply):
    store = KeyStore(OLD_KEY)  # the key really is wrong: Secrets Manager holds the same one
    client, transport = keyed(store, Reply.json(403, {"reason": "INVALID_API_KEY", "message": "bad key"}))
    with pytest.raises(ProviderAccountError) as info:
        client.submit(REQUEST)
    assert info.value.reason == "INVALID_API_KEY"
    assert _keys(transport) == [OLD_KEY]
    assert store.forced_reads == 1


def test_a_new_key_that_is_refused_too_is_not_retried_again(keyed, Reply):
    store = KeyStore(OLD_KEY)
    store.current = NEW_KEY
    refused = Reply.json(403, {"reason": "INVALID_API_KEY", "message": "bad key"})
    client, transport = keyed(store, refused, Reply.json(403, {"reason": "INVALID_API_KEY"}))
    with pytest.raises(ProviderAccountError):
        client.submit(REQUEST)
    assert _keys(transport) == [OLD_KEY, NEW_KEY]  # exactly one re-read and one retry, no loop
    assert store.forced_reads == 1


@pytest.mark.parametrize(
    "reply",
    [
        lambda R: R.json(400, {"reason": "BILLING_BALANCE_NOT_ENOUGH"}),
        lambda R: R.json(400, {"reason": "ILLEGAL_PROMPT"}),
        lambda R: R.json(429, {"reason": "RATE_LIMIT_EXCEEDED"}),
        lambda R: R.json(500, {"reason": "CREATE_TASK_FAILED"}),
    ],
)
def test_other_errors_do_not_read_the_key_again(keyed, Reply, reply):
    store = KeyStore(OLD_KEY)
    store.current = NEW_KEY
    client, transport = keyed(store, reply(Reply))
    with pytest.raises(ProviderError):
        client.submit(REQUEST)
    assert store.forced_reads == 0 and len(transport.sent) == 1


def test_a_failed_re_read_reports_the_providers_refusal(fakes, Reply):
    def unreachable() -> str:
        raise ConnectionError("secretsmanager.eu-west-1.amazonaws.com unreachable")

    transport = fakes.Transport(Reply.json(403, {"reason": "INVALID_API_KEY"}))
    client = HighwayClient(BASE, lambda: OLD_KEY, reread_key=unreachable, session=fakes.session_with(transport, BASE))
    with pytest.raises(ProviderAccountError) as info:
        client.submit(REQUEST)
    assert info.value.reason == "INVALID_API_KEY"
    assert len(transport.sent) == 1


def test_a_key_that_cannot_be_read_sends_nothing_and_is_worth_a_retry(fakes):
    def unreachable() -> str:
        raise TimeoutError("Secrets Manager did not answer")

    transport = fakes.Transport()
    client = HighwayClient(BASE, unreachable, session=fakes.session_with(transport, BASE))
    with pytest.raises(ProviderUnavailable) as info:
        client.submit(REQUEST)
    assert info.value.retryable and info.value.reason == "API_KEY_UNAVAILABLE"
    assert transport.sent == []  # so the submit step knows the provider created nothing


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_key_from_the_getter_sends_nothing_and_alerts_operators(fakes, value):
    transport = fakes.Transport()
    client = HighwayClient(BASE, lambda: value, session=fakes.session_with(transport, BASE))
    with pytest.raises(ProviderAccountError) as info:
        client.get_result("t")
    assert info.value.reason == "MISSING_API_KEY" and info.value.alert_operators
    assert transport.sent == []


def test_a_missing_key_setting_is_an_account_error_naming_the_variable(fakes):
    from i2v.settings import SettingsError

    def missing() -> str:
        raise SettingsError("no provider API key: set HIGHWAY_API_KEY (local) or I2V_API_KEY_SECRET (AWS)")

    client = HighwayClient(BASE, missing, session=fakes.session_with(fakes.Transport(), BASE))
    with pytest.raises(ProviderAccountError, match="HIGHWAY_API_KEY"):
        client.submit(REQUEST)


@pytest.mark.parametrize("call", ["submit", "get_result"])
@pytest.mark.parametrize("second", ["refused", "echoed", "lost"])
def test_neither_the_old_nor_the_new_key_appears_in_an_exception_or_the_repr(keyed, Reply, call, second):
    store = KeyStore(OLD_KEY)
    store.current = NEW_KEY
    echo = {"reason": "INVALID_API_KEY", "message": f"key {OLD_KEY} / {NEW_KEY} is not valid"}
    replies = {"refused": Reply.json(403, echo), "echoed": Reply.json(400, {"reason": "ILLEGAL_PROMPT",
               "message": f"echo {NEW_KEY}"}), "lost": read_timeout}
    client, _ = keyed(store, Reply.json(403, echo), replies[second])
    with pytest.raises(ProviderError) as info:
        client.submit(REQUEST) if call == "submit" else client.get_result("t")
    for text in [*_texts(info.value), repr(client), str(client), repr(vars(client))]:
        for key in (OLD_KEY, NEW_KEY):
            assert key not in text
            assert key[8:20] not in text


def test_a_key_echoed_at_the_end_of_a_long_message_leaves_no_prefix_behind(make, Reply):
    client, _ = make(Reply.json(400, {"reason": "ILLEGAL_PROMPT", "message": "x" * 490 + API_KEY}))
    with pytest.raises(ProviderRejected) as info:
        client.submit(REQUEST)
    assert API_KEY[:10] not in info.value.message


def test_every_provider_call_is_bounded_by_the_one_time_budget():
    """A provider call (connect + read) always ends inside the function that makes it (i2v.constants)."""
    from i2v import constants as c
    from i2v.provider.client import HighwayClient

    client = HighwayClient("https://api.example.com", "k")
    assert client.timeout == (c.HTTP_CONNECT_SECONDS, c.PROVIDER_READ_SECONDS)
    assert sum(client.timeout) == c.PROVIDER_CALL_SECONDS
    assert c.PROVIDER_CALL_SECONDS < c.FUNCTION_TIMEOUT_SECONDS[c.FN_STATUS]
    assert c.PROVIDER_CALL_SECONDS < c.DISPATCH_JOB_BUDGET_SECONDS < c.FUNCTION_TIMEOUT_SECONDS[c.FN_DISPATCH]
