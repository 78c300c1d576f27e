import http.client
import io
import logging
import threading
import time
from urllib.parse import urlsplit

import av
import pytest
import requests

from highway_sim.config import SimConfig
from highway_sim.server import RESULT_PATH, SUBMIT_PATH, SimulatorServer
from highway_sim.stats import FAULTS
from highway_sim.validation import IMAGE_MAX_BYTES


def assert_error(reply, status, reason):
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"code", "reason", "message"}
    assert body["code"] == status and body["reason"] == reason
    assert isinstance(body["message"], str) and body["message"]
    return body


def video_info(data):
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return (stream.width, stream.height), float(stream.duration * stream.time_base), frames


# --- authentication ---------------------------------------------------------------------------
@pytest.mark.parametrize("headers, status, reason", [
    ({}, 400, "MISSING_API_KEY"),
    ({"Authorization": ""}, 400, "MISSING_API_KEY"),
    ({"Authorization": "Bearer "}, 400, "MISSING_API_KEY"),
    ({"Authorization": "Basic dXNlcjpwdw=="}, 403, "INVALID_API_KEY"),
])
def test_auth_errors_on_submit_and_result(client, headers, status, reason):
    assert_error(client.submit({"not": "checked yet"}, headers=headers), status, reason)
    assert_error(client.result("abc", headers=headers), status, reason)
    assert client.sim.stats()["tasks_created"] == 0


def test_only_configured_keys_are_valid(start_sim, make_client, image_url):
    sim = start_sim(api_keys={"good-key"})
    assert_error(make_client(sim, "bad-key").submit({"image_url": image_url, "prompt": "p"}),
                 403, "INVALID_API_KEY")
    assert make_client(sim, "good-key").submit({"image_url": image_url, "prompt": "p"}).status_code == 200


def test_auth_failures_do_not_use_the_rate_limit(start_sim, make_client):
    sim = start_sim(rate_limit_per_minute=1, speed=1.0)
    api = make_client(sim)
    for _ in range(3):
        assert_error(api.submit({}, headers={}), 400, "MISSING_API_KEY")
    assert_error(api.submit({}), 400, "INVALID_REQUEST_BODY")
    assert_error(api.submit({}), 429, "RATE_LIMIT_EXCEEDED")


# --- request validation -----------------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    ({"prompt": "p"}, "image_url"),
    ({"image_url": "IMG", "prompt": "p", "seed": 3}, "'seed'"),
    ({"image_url": "IMG", "prompt": "p", "negative_prompt": None}, "null"),
    ({"image_url": "IMG", "prompt": "p", "duration": 6}, "duration"),
    ({"image_url": "IMG", "prompt": "p", "guidance_scale": 2}, "guidance_scale"),
    ({"image_url": "IMG", "prompt": "p", "end_image_url": "IMG"}, "Professional"),
    ({"image_url": "IMG", "prompt": "p", "mode": "Turbo"}, "mode"),
    ({"image_url": "IMG", "prompt": ""}, "prompt"),
    ({"image_url": "IMG", "prompt": "p" * 2001}, "prompt"),
    (["IMG"], "object"),
])
def test_invalid_bodies_are_rejected_without_a_task(client, image_url, body, words):
    if isinstance(body, dict):
        body = {k: image_url if v == "IMG" else v for k, v in body.items()}
    error = assert_error(client.submit(body), 400, "INVALID_REQUEST_BODY")
    assert words in error["message"]
    assert client.sim.stats()["tasks_created"] == 0


def test_non_json_body_is_invalid_request_body(client):
    reply = client.session.post(client.sim.url + SUBMIT_PATH, data=b"{nope", headers=client.headers)
    assert_error(reply, 400, "INVALID_REQUEST_BODY")


def test_forbidden_prompt_is_illegal_prompt(client, image_url):
    reply = client.submit({"image_url": image_url, "prompt": "show a forbidden thing"})
    assert_error(reply, 400, "ILLEGAL_PROMPT")


@pytest.mark.parametrize("name, make, reason", [
    ("bad.gif", lambda img: img(400, 400, "GIF"), "INVALID_IMAGE_FORMAT"),
    ("bad.webp", lambda img: img(400, 400, "WEBP"), "INVALID_IMAGE_FORMAT"),
    ("trunc.jpg", lambda img: img(800, 600, pattern=True)[:700], "INVALID_IMAGE_FORMAT"),
    ("small.png", lambda img: img(299, 400, "PNG"), "INVALID_IMAGE_SIZE"),
    ("wide.jpg", lambda img: img(1000, 399), "INVALID_IMAGE_SIZE"),
    ("tall.jpg", lambda img: img(399, 1000), "INVALID_IMAGE_SIZE"),
    ("huge.jpg", lambda img: img(400, 400) + b"\0" * IMAGE_MAX_BYTES, "IMAGE_FILE_EXCEEDS_MAX_SIZE"),
])
def test_image_byte_rules_over_http(client, image_host, images, name, make, reason):
    url = image_host.put(f"rules/{name}", make(images))
    error = assert_error(client.submit({"image_url": url, "prompt": "p"}), 400, reason)
    assert "image_url" in error["message"]


def test_end_image_is_checked_too(client, image_host, images, image_url):
    end = image_host.put("rules/end-small.png", images(200, 200, "PNG"))
    body = {"image_url": image_url, "end_image_url": end, "prompt": "p", "mode": "Professional"}
    error = assert_error(client.submit(body), 400, "INVALID_IMAGE_SIZE")
    assert "end_image_url" in error["message"]


def test_unfetchable_image_is_invalid_request_body(client, image_host):
    denied = image_host.put("rules/denied.jpg", b"AccessDenied", status=403)
    assert "403" in assert_error(client.submit({"image_url": denied, "prompt": "p"}), 400,
                                 "INVALID_REQUEST_BODY")["message"]
    missing = image_host.base + "/rules/never-uploaded.jpg"
    assert_error(client.submit({"image_url": missing, "prompt": "p"}), 400, "INVALID_REQUEST_BODY")
    assert client.sim.stats()["tasks_created"] == 0


# --- lifecycle and video ----------------------------------------------------------------------
def test_lifecycle_queued_processing_succeed_and_the_video(start_sim, make_client, image_url):
    sim = start_sim(hint_probability=1.0, p_no_hints=0.0)
    api = make_client(sim)
    task_id = api.task_id({"image_url": image_url, "prompt": "waves"})
    assert len(task_id) == 32 and int(task_id, 16) >= 0
    seen = api.wait(task_id)
    statuses = [body["task"]["status"] for body in seen]
    order = {"TASK_STATUS_QUEUED": 0, "TASK_STATUS_PROCESSING": 1, "TASK_STATUS_SUCCEED": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert {"TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING"} <= set(statuses)
    assert statuses[-1] == "TASK_STATUS_SUCCEED"
    for body in seen:
        task = body["task"]
        assert task["task_id"] == task_id and task["task_type"] == "KLING_V16_I2V_STANDARD"
        assert set(body) == {"extra", "task", "videos"}
        assert set(body["extra"]["debug_info"]) == {"submit_time_ms", "execute_time_ms", "complete_time_ms"}
        if task["status"] == "TASK_STATUS_PROCESSING":
            assert isinstance(task["eta"], int) and task["eta"] >= 0
            assert 0 <= task["progress_percent"] <= 99
        else:
            assert "eta" not in task and "progress_percent" not in task
    final = seen[-1]
    (video,) = final["videos"]
    assert video["video_type"] == "mp4" and video["video_url_ttl"] == "3600"
    assert video["video_url"].startswith(f"{sim.url}/videos/{task_id}.mp4?expires=")
    assert int(video["video_url"].rsplit("=", 1)[1]) > time.time() + 30  # 3600 s / speed 100
    reply = api.session.get(video["video_url"])
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "video/mp4"
    assert int(reply.headers["Content-Length"]) == len(reply.content)
    size, duration, _frames = video_info(reply.content)
    assert size == (480, 270) and duration == pytest.approx(5, abs=0.2)  # the default preview
    debug = final["extra"]["debug_info"]
    assert int(debug["submit_time_ms"]) <= int(debug["execute_time_ms"]) <= int(debug["complete_time_ms"])


def test_professional_ten_seconds_cross_fades_to_the_end_image(client, image_host, images):
    start = image_host.put("pro/start.png", images(600, 600, "PNG", color=(220, 20, 20)))
    end = image_host.put("pro/end.png", images(600, 600, "PNG", color=(20, 20, 220)))
    task_id = client.task_id({"mode": "Professional", "image_url": start, "end_image_url": end,
                              "prompt": "fade", "duration": 10})
    final = client.wait(task_id)[-1]
    assert final["task"]["task_type"] == "KLING_V16_I2V_PROFESSIONAL"
    size, duration, frames = video_info(client.session.get(final["videos"][0]["video_url"]).content)
    assert size == (480, 480) and duration == pytest.approx(10, abs=0.2)
    first, last = frames[0].reshape(-1, 3).mean(axis=0), frames[-1].reshape(-1, 3).mean(axis=0)
    assert first[0] > 200 and first[2] < 40
    assert last[2] > 200 and last[0] < 40


def test_no_hints_when_disabled(start_sim, make_client, image_url):
    for knobs in ({"hint_probability": 0.0, "p_no_hints": 0.0}, {"hint_probability": 1.0, "p_no_hints": 1.0}):
        api = make_client(start_sim(**knobs))
        for body in api.wait(api.task_id({"image_url": image_url, "prompt": "p"})):
            assert "eta" not in body["task"] and "progress_percent" not in body["task"]


class ManualClock:
    """The simulator's clock, moved by the test: lifecycles and windows without sleeping on margins."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self.auto = True  # follows real time until the test takes over

    def __call__(self) -> float:
        return time.monotonic() if self.auto else self.now

    def freeze(self) -> None:
        self.now, self.auto = time.monotonic(), False

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_video_url_expires_after_ttl_over_speed(start_sim, make_client, image_url):
    clock = ManualClock()
    sim = start_sim(clock=clock, video_url_ttl=40)  # 0.4 simulator seconds at speed 100
    api = make_client(sim)
    final = api.wait(api.task_id({"image_url": image_url, "prompt": "p"}))[-1]
    clock.freeze()
    url = final["videos"][0]["video_url"]
    assert final["videos"][0]["video_url_ttl"] == "40"
    assert api.session.get(url).status_code == 200
    assert_error(api.session.get(url.rsplit("=", 1)[0] + "=1"), 403, "ACCESS_DENIED")
    clock.advance(0.41)
    assert_error(api.session.get(url), 404, "NOT_FOUND")
    assert api.result(final["task"]["task_id"]).json()["videos"][0]["video_url"] == url  # still listed


def test_unknown_task_and_video_are_404(client):
    assert_error(client.result("0" * 32), 404, "TASK_NOT_FOUND")
    assert_error(client.session.get(client.sim.url + RESULT_PATH, headers=client.headers), 400,
                 "INVALID_REQUEST_BODY")
    assert_error(client.session.get(f"{client.sim.url}/videos/{'0' * 32}.mp4?expires=1"), 404, "NOT_FOUND")


def test_video_is_404_until_the_task_succeeds(start_sim, make_client, image_url):
    sim = start_sim(standard_seconds=(1000, 1000))
    api = make_client(sim)
    task_id = api.task_id({"image_url": image_url, "prompt": "p"})
    assert_error(api.session.get(f"{sim.url}/videos/{task_id}.mp4?expires=1"), 404, "NOT_FOUND")


def test_unknown_routes_and_methods(client):
    assert_error(client.session.get(client.sim.url + "/v3/async/other"), 404, "NOT_FOUND")
    assert_error(client.session.get(client.sim.url + SUBMIT_PATH, headers=client.headers), 405,
                 "METHOD_NOT_ALLOWED")


def test_video_url_uses_the_host_the_client_called(client, image_url):
    task_id = client.task_id({"image_url": image_url, "prompt": "p"})
    client.wait(task_id)
    reply = client.result(task_id, headers={**client.headers, "Host": "provider.test:8443"})
    assert reply.json()["videos"][0]["video_url"].startswith("http://provider.test:8443/videos/")


def test_head_on_a_video_gives_its_size(client, image_url):
    url = client.wait(client.task_id({"image_url": image_url, "prompt": "p"}))[-1]["videos"][0]["video_url"]
    head = client.session.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "video/mp4"
    assert int(head.headers["Content-Length"]) == len(client.session.get(url).content)
    missing = client.session.head(url.replace("/videos/", "/videos/0"))
    assert missing.status_code == 404 and missing.content == b""


# --- rate limit -------------------------------------------------------------------------------
def test_rate_limit_at_the_configured_rate(start_sim, make_client):
    sim = start_sim(rate_limit_per_minute=20, speed=1.0)
    api = make_client(sim)
    for _ in range(20):
        assert_error(api.submit({}), 400, "INVALID_REQUEST_BODY")
    assert_error(api.submit({}), 429, "RATE_LIMIT_EXCEEDED")
    stats = sim.stats()
    assert stats["rate_limited"] == 1 and stats["submit_requests"] == 21 and stats["tasks_created"] == 0


def test_rate_limit_window_slides_at_speed(start_sim, make_client, image_url):
    clock = ManualClock()
    clock.freeze()
    sim = start_sim(clock=clock, rate_limit_per_minute=2, speed=60.0)  # window: 1 simulator second
    api = make_client(sim)
    assert api.submit({"image_url": image_url, "prompt": "p"}).status_code == 200
    assert api.submit({"image_url": image_url, "prompt": "p"}).status_code == 200
    assert_error(api.submit({"image_url": image_url, "prompt": "p"}), 429, "RATE_LIMIT_EXCEEDED")
    clock.advance(0.99)
    assert_error(api.submit({"image_url": image_url, "prompt": "p"}), 429, "RATE_LIMIT_EXCEEDED")
    clock.advance(0.02)
    assert api.submit({"image_url": image_url, "prompt": "p"}).status_code == 200
    assert sim.stats()["tasks_created"] == 3


# --- faults -----------------------------------------------------------------------------------
def fault_counts(sim):
    return {name: n for name, n in sim.stats()["faults"].items() if n}


def test_fault_submit_429(start_sim, make_client, image_url):
    sim = start_sim(p_submit_429=1.0)
    assert_error(make_client(sim).submit({"image_url": image_url, "prompt": "p"}), 429, "RATE_LIMIT_EXCEEDED")
    assert fault_counts(sim) == {"submit_429": 1}
    assert sim.stats()["tasks_created"] == 0 and sim.stats()["rate_limited"] == 0


def test_fault_submit_5xx(start_sim, make_client, image_url):
    sim = start_sim(p_submit_5xx=1.0)
    assert_error(make_client(sim).submit({"image_url": image_url, "prompt": "p"}), 500, "CREATE_TASK_FAILED")
    assert fault_counts(sim) == {"submit_5xx": 1} and sim.stats()["tasks_created"] == 0


def test_fault_result_5xx(start_sim, make_client, image_url):
    sim = start_sim(p_result_5xx=1.0)
    api = make_client(sim)
    task_id = api.task_id({"image_url": image_url, "prompt": "p"})
    assert_error(api.result(task_id), 500, "GET_RESULT_FAILED")
    assert fault_counts(sim) == {"result_5xx": 1}


def test_fault_task_failed(start_sim, make_client, image_url):
    sim = start_sim(p_task_failed=1.0)
    api = make_client(sim)
    final = api.wait(api.task_id({"image_url": image_url, "prompt": "p"}))[-1]
    assert final["task"]["status"] == "TASK_STATUS_FAILED"
    assert final["task"]["reason"] and final["videos"] == []
    assert fault_counts(sim) == {"task_failed": 1}
    assert sim.stats()["in_flight_now"] == 0


def test_fault_slow_multiplies_generation_time(start_sim, make_client, image_url):
    for slow, low, high in ((0.0, 20, 32), (1.0, 140, 155)):
        sim = start_sim(p_slow=slow, hint_probability=1.0, p_no_hints=0.0, hint_error=0.0,
                        queue_seconds=(0, 0), standard_seconds=(30, 30))
        api = make_client(sim)
        task_id = api.task_id({"image_url": image_url, "prompt": "p"})
        eta = api.result(task_id).json()["task"]["eta"]  # provider seconds left: 30, or 150 when slow
        assert low <= eta <= high


def test_fault_lost_reply_creates_and_bills_the_task(start_sim, make_client, image_url):
    sim = start_sim(p_lost_reply=1.0)
    api = make_client(sim)
    with pytest.raises(requests.ConnectionError):
        api.submit({"image_url": image_url, "prompt": "p"})
    stats = sim.stats()
    assert stats["tasks_created"] == 1 and fault_counts(sim) == {"lost_reply": 1}
    task_id = stats["submissions"][0]["task_id"]
    assert api.wait(task_id)[-1]["task"]["status"] == "TASK_STATUS_SUCCEED"  # it ran anyway


def test_fault_video_404(start_sim, make_client, image_url):
    sim = start_sim(p_video_404=1.0)
    api = make_client(sim)
    final = api.wait(api.task_id({"image_url": image_url, "prompt": "p"}))[-1]
    assert final["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert_error(api.session.get(final["videos"][0]["video_url"]), 404, "NOT_FOUND")
    assert fault_counts(sim) == {"video_404": 1}


def test_fault_video_truncated(start_sim, make_client, image_url):
    sim = start_sim(p_video_truncated=1.0)
    api = make_client(sim)
    url = api.wait(api.task_id({"image_url": image_url, "prompt": "p"}))[-1]["videos"][0]["video_url"]
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.session.get(url)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", f"{parts.path}?{parts.query}")
    reply = connection.getresponse()
    declared = int(reply.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as info:
        reply.read()
    connection.close()
    assert len(info.value.partial) == declared // 2
    assert fault_counts(sim) == {"video_truncated": 2}
    sim.update_config(p_video_truncated=0.0)
    assert len(api.session.get(url).content) == declared


def test_all_fault_counters_are_reported(sim):
    assert set(sim.stats()["faults"]) == set(FAULTS)


# --- stats and admin --------------------------------------------------------------------------
def test_stats_record_submissions_and_duplicate_identities(client, image_host, images):
    data = images(640, 360)
    url_a1 = image_host.put("bucket/a.jpg", data) + "?X-Amz-Signature=one"
    url_a2 = image_host.put("bucket/a.jpg", data) + "?X-Amz-Signature=two"
    url_v1 = image_host.put("bucket/b.jpg", data) + "?versionId=1&X-Amz-Signature=x"
    url_v2 = image_host.put("bucket/b.jpg", data) + "?versionId=2&X-Amz-Signature=x"
    for url in (url_a1, url_a2, url_v1, url_v2):
        client.task_id({"image_url": url, "prompt": "p", "duration": 10, "negative_prompt": "blur"})
    stats = client.sim.stats()
    assert stats["submit_requests"] == stats["tasks_created"] == 4
    assert stats["duplicate_identities"] == ["/bucket/a.jpg"]
    first = stats["submissions"][0]
    assert set(first) >= {"task_id", "mode", "duration", "prompt", "negative_prompt", "guidance_scale",
                          "image_url", "end_image_url", "image_identity", "received_at"}
    assert (first["mode"], first["duration"], first["negative_prompt"], first["guidance_scale"]) == \
        ("Standard", 10, "blur", 0.5)
    assert first["image_url"] == url_a1 and first["end_image_url"] is None
    assert [s["image_identity"] for s in stats["submissions"][2:]] == ["/bucket/b.jpg?versionId=1",
                                                                     "/bucket/b.jpg?versionId=2"]
    assert abs(first["received_at"] - time.time()) < 60


def test_in_flight_now_and_peak(start_sim, make_client, image_url):
    sim = start_sim(standard_seconds=(1000, 1000))  # 10 real seconds: still running during the test
    api = make_client(sim)
    threads = [threading.Thread(target=api.task_id, args=({"image_url": image_url, "prompt": "p"},))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = sim.stats()
    assert stats["in_flight_now"] == 3 and stats["peak_in_flight"] == 3
    sim.update_config(standard_seconds=(10, 10))
    quick = api.task_id({"image_url": image_url, "prompt": "p"})
    api.wait(quick)
    stats = sim.stats()
    assert stats["in_flight_now"] == 3 and stats["peak_in_flight"] == 4


def test_admin_routes(client, image_url):
    base = client.sim.url
    client.task_id({"image_url": image_url, "prompt": "p"})
    stats = requests.get(base + "/_sim/stats").json()
    assert stats["tasks_created"] == 1 and set(stats) == set(client.sim.stats())
    reply = requests.post(base + "/_sim/config", json={"p_submit_5xx": 1.0, "queue_seconds": [1, 2]})
    assert reply.status_code == 200 and reply.json()["p_submit_5xx"] == 1.0
    assert client.sim.config.queue_seconds == (1.0, 2.0)
    assert requests.get(base + "/_sim/config").json()["p_submit_5xx"] == 1.0
    assert_error(client.submit({"image_url": image_url, "prompt": "p"}), 500, "CREATE_TASK_FAILED")
    assert_error(requests.post(base + "/_sim/config", json={"p_nope": 1}), 400, "INVALID_REQUEST_BODY")
    assert_error(requests.post(base + "/_sim/config", json={"speed": 0}), 400, "INVALID_REQUEST_BODY")
    assert requests.post(base + "/_sim/reset").status_code == 200
    stats = client.sim.stats()
    assert stats["tasks_created"] == stats["submit_requests"] == stats["peak_in_flight"] == 0
    assert client.sim.config.p_submit_5xx == 1.0  # reset keeps the config


def test_reset_forgets_tasks(client, image_url):
    task_id = client.task_id({"image_url": image_url, "prompt": "p"})
    client.sim.reset()
    assert_error(client.result(task_id), 404, "TASK_NOT_FOUND")
    assert client.sim.stats()["result_requests"] == 1


def test_same_seed_same_task_ids(start_sim, make_client, image_url):
    ids = []
    for _ in range(2):
        api = make_client(start_sim(seed=123))
        ids.append([api.task_id({"image_url": image_url, "prompt": "p"}) for _ in range(3)])
    assert ids[0] == ids[1]


def test_requests_counters(client, image_url):
    task_id = client.task_id({"image_url": image_url, "prompt": "p"})
    seen = client.wait(task_id)
    client.session.get(seen[-1]["videos"][0]["video_url"])
    stats = client.sim.stats()
    assert stats["result_requests"] == len(seen) and stats["video_requests"] == 1


# --- server lifecycle -------------------------------------------------------------------------
def test_url_and_context_manager():
    with SimulatorServer(SimConfig(), host="127.0.0.1", port=0) as sim:
        assert sim.url.startswith("http://127.0.0.1:") and not sim.url.endswith("/")
        assert requests.get(sim.url + "/_sim/stats").status_code == 200
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_stop_leaves_no_threads_running(image_host, images):
    image_url = image_host.put("stop/big.png", images(1920, 1080, "PNG"))
    before = set(threading.enumerate())
    sim = SimulatorServer(SimConfig(speed=100, full_size=True, rate_limit_per_minute=1000)).start()
    session = requests.Session()  # keeps an idle keep-alive connection open on the server
    headers = {"Authorization": "Bearer k"}
    for _ in range(3):  # 1080p x 10 s renders: busy workers plus a queued job when stop() comes
        reply = session.post(sim.url + SUBMIT_PATH, headers=headers, json={
            "mode": "Professional", "image_url": image_url, "prompt": "p", "duration": 10})
        assert reply.status_code == 200
    assert session.get(sim.url + "/_sim/stats").status_code == 200
    assert len(set(threading.enumerate()) - before) >= 3  # http loop, connection, render workers
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 5
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []
    session.close()


def test_logs_never_show_the_api_key(client, image_url, caplog):
    with caplog.at_level(logging.DEBUG, logger="highway_sim"):
        client.session.post(client.sim.url + SUBMIT_PATH, json={"image_url": image_url, "prompt": "p"},
                            headers={"Authorization": "Bearer super-secret-key-123"})
        client.session.get(client.sim.url + RESULT_PATH, params={"task_id": "x"},
                           headers={"Authorization": "Bearer super-secret-key-123"})
    assert "POST /v3/async/kling-v1.6-i2v -> 200" in caplog.text
    assert "super-secret-key-123" not in caplog.text
