"""One contract suite, run against the in-memory adapters (i2v_local.memory) and the real ones
(i2v.aws, on moto's in-process AWS): same answers, same conditional rules, and the same number of
AWS requests, so simulations and unit tests built on the fakes say true things about the real code."""

from __future__ import annotations

import importlib
import io
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from i2v import runtime
from i2v.aws.backlog import DynamoBacklog
from i2v.aws.control_table import DynamoLeaseStore
from i2v.aws.jobs_table import JobsTable
from i2v.aws.outputs import DynamoOutputNames
from i2v.aws.s3 import S3Bucket
from i2v.aws.waker import Waker
from i2v.aws.workflow import Workflow
from i2v.capacity import Capacity
from i2v.contracts.errors import ObjectChanged
from i2v.contracts.job import Pin
from i2v.contracts.status import JobStatus, Priority
from i2v_local import memory
from i2v_local.provision import create_tables

REGION = "us-east-1"
ASL = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'


@dataclass
class Adapters:
    kind: str
    bucket: Any
    jobs: Any
    backlog: Any
    leases: Any
    workflow: Any
    waker: Any
    names: Any
    counts: Counter[str]

    def put(self, key: str, data: bytes, versioned: bool = True) -> str | None:
        if self.kind == "memory":
            self.bucket.versioned = versioned
            return self.bucket.put(key, data)
        s3 = boto3.client("s3", region_name=REGION)
        if not versioned:
            s3.put_bucket_versioning(Bucket="media", VersioningConfiguration={"Status": "Suspended"})
        reply = s3.put_object(Bucket="media", Key=key, Body=data)
        version = reply.get("VersionId")
        return None if version in (None, "null") else version


class _Requests:
    """Counts the AWS requests botocore makes (every client, every session)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.paused = False

    def __enter__(self) -> _Requests:
        self._original = original = BaseClient._make_api_call
        counter = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not counter.paused:
                counter.counts[f"{client.meta.service_model.service_name}.{operation}"] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = _make_api_call
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self._original


@pytest.fixture(params=["memory", "aws"])
def adapters(request, monkeypatch) -> Iterator[Adapters]:
    if request.param == "memory":
        meter = memory.Meter()
        jobs = memory.MemoryJobs(meter)
        yield Adapters("memory", memory.MemoryBucket("media", meter), jobs, memory.MemoryBacklog(jobs),
                       memory.MeteredLeaseStore(meter), memory.MemoryWorkflow(meter), memory.MemoryWaker(meter),
                       memory.MemoryOutputNames(meter), meter.counts)
        return
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    runtime.reset()
    with mock_aws(), _Requests() as requests:
        requests.paused = True
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="media")
        s3.put_bucket_versioning(Bucket="media", VersioningConfiguration={"Status": "Enabled"})
        tables = create_tables(boto3.client("dynamodb", region_name=REGION))
        queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="wake")["QueueUrl"]
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="m", definition=ASL, roleArn=role)["stateMachineArn"]
        requests.paused = False
        yield Adapters("aws", S3Bucket("media"), JobsTable(tables["jobs"]),
                       DynamoBacklog(tables["jobs"], tables["control"]), DynamoLeaseStore(tables["control"]),
                       Workflow(machine), Waker(queue), DynamoOutputNames(tables["control"]), requests.counts)
    runtime.reset()


def test_jobs_conditions(adapters):
    jobs = adapters.jobs
    assert jobs.create("j1", source={"key": "k"}) is True
    assert jobs.create("j1") is False
    assert jobs.transition("j1", JobStatus.QUEUED, JobStatus.SUBMITTING) is False
    assert jobs.transition("j1", JobStatus.RECEIVED, JobStatus.QUEUED, note="x") is True
    assert jobs.get("j1")["status"] == "QUEUED" and jobs.get("j1")["note"] == "x"
    assert jobs.mark_submit_started("j1", "t") is True and jobs.mark_submit_started("j1", "t") is False
    jobs.clear_submit_started("j1")
    assert jobs.mark_submit_started("j1", "t") is True
    assert jobs.claim_notification("j1", "t") is True and jobs.claim_notification("j1", "t") is False
    jobs.unclaim_notification("j1")
    assert jobs.claim_notification("j1", "t") is True
    assert jobs.dead_letter("j1", dead_letter_reason="r") is False  # it got further than RECEIVED
    assert jobs.dead_letter("j2", dead_letter_reason="r") is True
    assert jobs.get("j2")["status"] == "DEAD_LETTER"
    assert jobs.get("nope") is None
    jobs.update("j1", timings={"a": 1.5, "b": None}, size_bytes=10)
    assert jobs.get("j1")["timings"] == {"a": 1.5, "b": None} and jobs.get("j1")["size_bytes"] == 10


def _park(adapters: Adapters, job_id: str, order: str, lane: Priority = Priority.NORMAL) -> bool:
    adapters.jobs.create(job_id)
    return adapters.backlog.park(job_id, lane, order, {"uploaded_at": order.split("#")[0]})


def test_backlog_order_claims_and_size(adapters):
    backlog = adapters.backlog
    assert _park(adapters, "b", "2026-01-01T00:00:02.000Z#b")
    assert _park(adapters, "a", "2026-01-01T00:00:01.000Z#a")
    assert _park(adapters, "h", "2026-01-01T00:00:09.000Z#h", Priority.HIGH)
    assert backlog.park("a", Priority.NORMAL, "x", {}) is False  # no longer RECEIVED: a duplicate
    assert [w.job_id for w in backlog.head(10)] == ["h", "a", "b"]
    assert [w.job_id for w in backlog.head(1)] == ["h", "a"]  # up to `limit` per lane
    assert backlog.size() == 3
    record = backlog.claim("a", until=100.0, now=0.0)
    assert record["status"] == "SUBMITTING" and record["uploaded_at"] == "2026-01-01T00:00:01.000Z"
    assert backlog.claim("a", until=100.0, now=50.0) is None  # a live claim
    assert backlog.claim("a", until=300.0, now=150.0) is not None  # an expired one is taken over
    backlog.unclaim("a", not_before=500.0, attempts=2)
    assert backlog.claim("a", until=600.0, now=400.0) is None  # not before 500
    head = {w.job_id: w for w in backlog.head(10)}
    assert head["a"].status == JobStatus.QUEUED and head["a"].not_before == 500.0
    assert backlog.claim("a", until=600.0, now=500.0)["attempts"] == 2
    assert backlog.leave("a") is True and backlog.leave("a") is False
    assert backlog.claim("a", until=900.0, now=800.0) is None  # off the backlog
    assert backlog.size() == 2 and [w.job_id for w in backlog.head(10)] == ["h", "b"]


def test_leases(adapters):
    leases = adapters.leases
    assert leases.read(["slot#0", "slot#1"]) == {}
    assert leases.try_take("slot#0", "j1", until=100.0, now=0.0) is True
    assert leases.try_take("slot#0", "j2", until=100.0, now=50.0) is False
    assert leases.try_take("slot#0", "j2", until=200.0, now=150.0) is True  # expired
    assert leases.give_back("slot#0", "j1") is False and leases.give_back("slot#0", "j2") is True
    assert leases.read(["slot#0"])["slot#0"].holder is None


class Interleaved:
    """A lease store through which, between one taker's read and its writes, other takers run in full:
    the interleaving real concurrency can produce, made deterministic (moto itself does not make
    conditional writes atomic across threads, DynamoDB does; the rule under test is the condition)."""

    def __init__(self, store: Any, others: list[Any]) -> None:
        self.store, self.others = store, others

    def read(self, items: list[str]) -> Any:
        seen = self.store.read(items)
        while self.others:
            self.others.pop(0)()
        return seen

    def try_take(self, *args: Any) -> bool:
        return bool(self.store.try_take(*args))

    def give_back(self, *args: Any) -> bool:
        return bool(self.store.give_back(*args))


def test_concurrent_takers_never_pass_the_cap(adapters):
    from i2v.errors import AtCapacity

    taken: list[str] = []

    def taker(i: int, store: Any) -> Any:
        def take() -> None:
            try:
                Capacity(store, 3, 100, 60.0).acquire(f"job-{i}", lease_seconds=600)
                taken.append(f"job-{i}")
            except AtCapacity:
                pass
        return take

    # taker 0 reads, then takers 1..5 each read-and-write in full, then taker 0 writes what it read as free
    first = Interleaved(adapters.leases, [taker(i, adapters.leases) for i in range(1, 6)])
    taker(0, first)()
    assert len(taken) == 3 == Capacity(adapters.leases, 3, 100, 60.0).in_flight()


def test_threads_taking_capacity_at_once_on_the_in_memory_store():
    """Real threads against the fake (the simulations' store); moto cannot take this test, see above."""
    capacity = Capacity(memory.MeteredLeaseStore(), 3, 100, 60.0)
    taken: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def take(i: int) -> None:
        barrier.wait()
        try:
            capacity.acquire(f"job-{i}", lease_seconds=600)
            with lock:
                taken.append(f"job-{i}")
        except Exception:  # AtCapacity
            pass

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) <= 3


def test_bucket_pins(adapters):
    bucket = adapters.bucket
    first = adapters.put("uploads/a.png", b"first-bytes")
    second = adapters.put("uploads/a.png", b"second")
    assert bucket.read_all("uploads/a.png", 100, Pin(version_id=first)) == b"first-bytes"
    assert bucket.read_range("uploads/a.png", 0, 4, Pin(version_id=second)) == b"secon"
    assert bucket.head("uploads/a.png", Pin(version_id=first)).size == 11
    assert bucket.head("uploads/missing.png") is None
    adapters.put("uploads/empty.json", b"")
    assert bucket.read_all("uploads/empty.json", 100) == b""
    assert bucket.read_range("uploads/a.png", 100, 200) == b""
    etag = bucket.head("uploads/b.png") or None
    assert etag is None
    adapters.put("uploads/b.png", b"one", versioned=False)
    pin = bucket.head("uploads/b.png").pin
    adapters.put("uploads/b.png", b"two", versioned=False)
    with pytest.raises(ObjectChanged):
        bucket.read_all("uploads/b.png", 10, Pin(etag=pin.etag if pin.etag else bucket.head("uploads/b.png").etag + "x"))


def test_workflow_and_wake(adapters):
    assert adapters.workflow.start("job-1", {"a": 1}) is True
    # A second start by the same name starts nothing: AWS answers a running execution's start with
    # that execution (True), an ended one with ExecutionAlreadyExists (False).
    adapters.workflow.start("job-1", {"a": 1})
    if adapters.kind == "aws":
        sfn = boto3.client("stepfunctions", region_name=REGION)
        assert len(sfn.list_executions(stateMachineArn=adapters.workflow.arn)["executions"]) == 1
    else:
        assert list(adapters.workflow.executions) == ["job-1"]
    adapters.waker.wake()
    adapters.waker.wake_later(30)


def _scripted(adapters: Adapters) -> Counter[str]:
    """The same sequence of calls on either kind; returns the AWS requests it made."""
    before = Counter(adapters.counts)
    version = adapters.put("uploads/c.png", b"\x89PNG" + b"0" * 100)
    after_put = Counter(adapters.counts)
    adapters.bucket.head("uploads/c.png", Pin(version_id=version))
    adapters.bucket.read_range("uploads/c.png", 0, 63, Pin(version_id=version))
    adapters.bucket.head("uploads/_defaults.json")
    _park(adapters, "r1", "2026-01-01T00:00:00.000Z#r1")
    adapters.backlog.head(5)
    adapters.backlog.claim("r1", until=10.0, now=0.0)
    adapters.jobs.mark_submit_started("r1", "t")
    adapters.jobs.transition("r1", JobStatus.SUBMITTING, JobStatus.GENERATING)
    adapters.backlog.leave("r1")
    adapters.backlog.size()
    Capacity(adapters.leases, 10, 20, 60.0).acquire("r1", 100.0)
    Capacity(adapters.leases, 10, 20, 60.0).release("r1")
    adapters.workflow.start("job-r1", {})
    adapters.waker.wake()
    adapters.jobs.update("r1", status="SUCCEEDED")
    adapters.jobs.get("r1")
    made = Counter(adapters.counts)
    made.subtract(before)
    made.subtract(after_put - before)  # the scene's own upload is not the adapters' doing
    return +made


def test_the_fakes_count_the_requests_the_real_adapters_make(adapters):
    made = _scripted(adapters)
    expected = {"s3.HeadObject": 2, "s3.GetObject": 1, "dynamodb.UpdateItem": 8, "dynamodb.TransactWriteItems": 2,
                "dynamodb.Query": 3, "dynamodb.GetItem": 2, "dynamodb.BatchGetItem": 2,
                "stepfunctions.StartExecution": 1, "sqs.SendMessage": 1}
    assert dict(made) == expected, (adapters.kind, dict(made))


def test_output_names_go_to_the_newest_upload(adapters):
    names, name = adapters.names, "outputs/a/cat.mp4"
    assert names.claim(name, "2026-01-01T00:00:01.000Z#b", "b") is True
    assert names.claim(name, "2026-01-01T00:00:00.000Z#a", "a") is False  # an older upload
    assert names.claim(name, "2026-01-01T00:00:01.000Z#b", "b") is True  # the same job again (a retried store)
    assert names.confirm(name, "2026-01-01T00:00:01.000Z#b", "v1") is True
    assert names.claim(name, "2026-01-01T00:00:02.000Z#c", "c") is True
    assert names.confirm(name, "2026-01-01T00:00:01.000Z#b", "v1") is False  # a newer upload claimed it since
    assert names.confirm(name, "2026-01-01T00:00:02.000Z#c", None) is True
    assert names.confirm("outputs/never-claimed.mp4", "2026-01-01T00:00:02.000Z#c", None) is False
    assert names.claim("outputs/a/dog.mp4", "2026-01-01T00:00:00.000Z#a", "a") is True  # names are independent


@pytest.mark.parametrize("size", [3, 9 * 1024 * 1024])  # one PutObject; a multipart upload
def test_bucket_writes_answer_the_version_they_made(adapters, size):
    bucket = adapters.bucket
    first = bucket.upload_stream("outputs/v.mp4", io.BytesIO(b"1" * size))
    second = bucket.upload_stream("outputs/v.mp4", io.BytesIO(b"2" * size))
    assert first and second and first != second
    assert bucket.read_range("outputs/v.mp4", 0, 2, Pin(version_id=first)) == b"111"
    assert bucket.read_range("outputs/v.mp4", 0, 2) == b"222"
    copied = bucket.copy_version("outputs/v.mp4", first, "outputs/v.own.mp4")
    assert copied and bucket.read_range("outputs/v.own.mp4", 0, 2, Pin(version_id=copied)) == b"111"
    bucket.delete_version("outputs/v.mp4", second)
    assert bucket.read_range("outputs/v.mp4", 0, 2) == b"111"  # the latest is the first again
    manifest = bucket.put_json("outputs/v.json", {"a": 1})
    assert manifest and bucket.read_all("outputs/v.json", 100, Pin(version_id=manifest)).startswith(b"{")


def test_bucket_writes_without_versions_answer_none(adapters):
    adapters.put("uploads/x.png", b"x", versioned=False)  # suspends versioning
    assert adapters.bucket.upload_stream("outputs/n.mp4", io.BytesIO(b"abc")) is None
    assert adapters.bucket.put_json("outputs/n.json", {}) is None
    assert adapters.bucket.read_range("outputs/n.mp4", 0, 2) == b"abc"


def test_the_fakes_count_the_output_requests_the_real_adapters_make(adapters):
    before = Counter(adapters.counts)
    version = adapters.bucket.upload_stream("outputs/c.mp4", io.BytesIO(b"video"))
    adapters.bucket.put_json("outputs/c.json", {"a": 1})
    adapters.names.claim("outputs/c.mp4", "o#1", "j")
    adapters.names.confirm("outputs/c.mp4", "o#1", version)
    adapters.bucket.copy_version("outputs/c.mp4", version, "outputs/c.own.mp4")
    adapters.bucket.delete_version("outputs/c.mp4", version)
    made = Counter(adapters.counts)
    made.subtract(before)
    assert dict(+made) == {"s3.PutObject": 2, "dynamodb.UpdateItem": 2, "s3.HeadObject": 1, "s3.CopyObject": 1,
                           "s3.DeleteObject": 1}, (adapters.kind, dict(+made))


def test_held_jobs_withdrawn_images_and_claims(adapters):
    backlog, jobs = adapters.backlog, adapters.jobs
    adapters.jobs.create("held")
    assert backlog.park("held", Priority.NORMAL, "2026-01-01T00:00:01.000Z#held", {"held_error": {"code": "X"}},
                        status=JobStatus.HELD)
    assert backlog.claim("held", until=10.0, now=0.0) is not None  # a HELD job is taken once its grace is over
    backlog.unclaim("held")
    adapters.jobs.create("file")
    assert backlog.park("file", Priority.NORMAL, "2026-01-01T00:00:02.000Z#file", {"not_before": 99.0},
                        status=JobStatus.HELD)
    assert backlog.release_held("file", {"request": {"prompt": "p"}}) is True
    record = jobs.get("file")
    assert record["status"] == "QUEUED" and "not_before" not in record and record["request"] == {"prompt": "p"}
    assert backlog.release_held("file", {}) is False  # no longer HELD
    adapters.jobs.create("image")
    assert backlog.park("image", Priority.NORMAL, "2026-01-01T00:00:03.000Z#image", {})
    assert backlog.withdraw("image") is True and backlog.withdraw("image") is False
    assert jobs.get("image")["status"] == "CLAIMED" and backlog.size() == 2


def test_claims(adapters):
    from i2v import constants as c
    from i2v_local.memory import MemoryClaims

    if adapters.kind == "memory":
        claims = MemoryClaims(memory.Meter())
    else:
        from i2v.aws.claims import DynamoClaims

        claims = DynamoClaims("i2v-control")
    assert claims.claimant("uploads/cat.png") is None and claims.pending("uploads/cat.png") == set()
    claims.add_pending("uploads/cat.png", "img-1")
    claims.add_pending("uploads/cat.png", "img-2")
    assert claims.pending("uploads/cat.png") == {"img-1", "img-2"}
    job = {"job_id": "f1", "kind": "job_file", "source": {"bucket": "media", "key": "uploads/cat.json"}}
    claims.claim("uploads/cat.png", job, 2, {"image": "cat.png", "prompt": "p"})
    found = claims.claimant("uploads/cat.png")
    assert found["job"]["job_id"] == "f1" and found["redrive"] == 2 and found["row"]["prompt"] == "p"
    assert c.CONTROL_TABLE_KEY == "pk"


def test_the_fake_notifier_makes_the_requests_and_puts_the_entry_the_real_one_does(monkeypatch):
    """The notifier is outside the ``adapters`` fixture (it only sends): the event first, then SNS, in both."""
    from i2v.aws.notifier import Notifier, event_entry

    note = {"schema": "i2v.notification/v1", "status": "FAILED", "job_id": "j1", "request": {"mode": None},
            "error": {"code": "IMAGE_TOO_SMALL", "message": "m", "stage": "validate", "retryable": False}}
    fake = memory.MemoryNotifier(memory.Meter())
    fake.publish(note)
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    runtime.reset()
    with mock_aws(), _Requests() as requests:
        requests.paused = True
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
        requests.paused = False
        Notifier(topic).publish(note)
    runtime.reset()
    assert requests.counts == fake.meter.counts == Counter({"events.PutEvents": 1, "sns.Publish": 1})
    assert fake.events == [{**event_entry(note), "Detail": note}] and fake.published == [note]


# --- pay once per content and spend budgets (issue 13 items 1 and 2) --------------------------------------


def _meter(adapters: Adapters) -> memory.Meter:
    """A meter that counts into the adapters' own counts (the fakes' requests next to the others')."""
    meter = memory.Meter()
    meter.counts = adapters.counts
    return meter


def _on_control_table(adapters: Adapters, fake: Any, real: str) -> Any:
    """An adapter of the control table: the in-memory ``fake``, or ``real`` ("module:Class" in i2v.aws)."""
    if adapters.kind == "memory":
        return fake(_meter(adapters))
    module, name = real.split(":")
    return getattr(importlib.import_module(f"i2v.aws.{module}"), name)("i2v-control")


def _contents(adapters: Adapters) -> Any:
    return _on_control_table(adapters, memory.MemoryContents, "contents:DynamoContents")


def _spend(adapters: Adapters) -> Any:
    return _on_control_table(adapters, memory.MemorySpend, "spend:DynamoSpend")


def _ledger(adapters: Adapters) -> Any:
    return _on_control_table(adapters, memory.MemoryLedger, "batches:DynamoLedger")


def test_contents_one_producer_at_a_time_then_its_video(adapters):
    from i2v.contents import DONE, PENDING, Origin

    contents = _contents(adapters)
    assert contents.find("k1") is None
    assert contents.produce("k1", "a", until=100.0, now=0.0) is True
    assert contents.produce("k1", "b", until=200.0, now=50.0) is False  # a's lease holds
    assert contents.produce("k1", "a", until=150.0, now=60.0) is True  # the producer itself, again
    found = contents.find("k1")
    assert (found.job_id, found.state, found.until) == ("a", PENDING, 150.0)
    assert contents.done(Origin("k1", "b", DONE, key="outputs/x.mp4", version_id="v9")) is False  # not the producer
    assert contents.done(Origin("k1", "a", DONE, bucket="media", key="outputs/a.mp4", version_id="v1",
                                size_bytes=1234, price_usd=0.13)) is True
    found = contents.find("k1")
    assert (found.job_id, found.state, found.bucket, found.key, found.version_id, found.size_bytes) == (
        "a", DONE, "media", "outputs/a.mp4", "v1", 1234)
    assert found.price_usd == 0.13
    assert contents.produce("k1", "b", until=999.0, now=500.0) is False  # done: nobody produces it again
    contents.release("k1", "a")  # releases only a PENDING producer: the video stays
    assert contents.find("k1").state == DONE
    contents.forget("k1", "b")  # only the origin's own record is forgotten
    assert contents.find("k1").state == DONE
    contents.forget("k1", "a")
    assert contents.find("k1") is None
    assert contents.produce("k1", "b", until=999.0, now=500.0) is True


def test_contents_a_lapsed_producer_is_replaced_and_a_released_one_frees_the_key(adapters):
    from i2v.contents import DONE, Origin

    contents = _contents(adapters)
    assert contents.produce("k2", "a", until=100.0, now=0.0) is True
    assert contents.produce("k2", "b", until=300.0, now=100.0) is True  # a's lease ran out
    assert contents.done(Origin("k2", "a", DONE, key="outputs/a.mp4", version_id="v1")) is False  # too late
    contents.release("k2", "a")  # not the producer any more: nothing happens
    assert contents.find("k2").job_id == "b"
    contents.release("k2", "b")
    assert contents.find("k2") is None
    assert contents.produce("k2", "c", until=400.0, now=200.0) is True
    assert contents.find("k3") is None and contents.find("k2").job_id == "c"  # keys are independent


def test_spend_reservations_hold_to_the_budgets(adapters):
    from i2v.spend import Budget, Periods

    spend, day = _spend(adapters), Periods.at(1_767_225_600.0)  # 2026-01-01
    budget = Budget(daily_usd=0.39, monthly_usd=0.6)
    assert spend.totals(day) == (0.0, 0.0)
    assert [spend.reserve(0.13, day, budget) for _ in range(4)] == [None, None, None, "day"]
    assert spend.totals(day) == (0.39, 0.39)
    tomorrow = Periods.at(1_767_225_600.0 + 86400)
    assert spend.reserve(0.13, tomorrow, budget) is None  # a new day, the same month
    assert spend.reserve(0.13, tomorrow, budget) == "month"  # 0.65 would pass the month's 0.60
    assert spend.totals(tomorrow) == (0.13, 0.52)
    assert spend.reserve(0.95, tomorrow, budget) == "day"  # dearer than a whole budget: refused without a write
    spend.refund(0.13, day)  # yesterday's reservation given back: to yesterday and to the month
    assert spend.totals(day) == (0.26, 0.39)
    assert spend.reserve(0.21, tomorrow, Budget(daily_usd=1.0, monthly_usd=0.6)) is None  # exactly the month
    assert spend.totals(tomorrow) == (0.34, 0.6)
    assert spend.reserve(1.0, tomorrow, Budget()) is None  # no budget: counted, never refused
    assert spend.totals(tomorrow) == (1.34, 1.6)


def test_spend_sums_are_exact_in_cents(adapters):
    from i2v.spend import Budget, Periods

    spend, day = _spend(adapters), Periods.at(1_767_225_600.0)
    for _ in range(10):
        assert spend.reserve(0.1, day, Budget(daily_usd=1.0)) is None
    assert spend.reserve(0.01, day, Budget(daily_usd=1.0)) == "day"
    assert spend.totals(day) == (1.0, 1.0)


def test_the_fakes_count_the_contents_and_spend_requests_the_real_adapters_make(adapters):
    from i2v.contents import DONE, Origin
    from i2v.spend import Budget, Periods

    contents, spend, day = _contents(adapters), _spend(adapters), Periods.at(1_767_225_600.0)
    before = Counter(adapters.counts)
    contents.find("k")
    contents.produce("k", "a", until=100.0, now=0.0)
    contents.produce("k", "b", until=100.0, now=1.0)  # refused: still one request
    contents.done(Origin("k", "a", DONE, key="outputs/a.mp4", version_id="v1"))
    contents.forget("k", "a")
    contents.release("k", "a")
    spend.reserve(0.13, day, Budget(daily_usd=0.13))
    spend.reserve(0.13, day, Budget(daily_usd=0.13))  # cancelled: still one request
    spend.reserve(0.95, day, Budget(daily_usd=0.13))  # dearer than the budget: no request
    spend.refund(0.13, day)
    spend.totals(day)
    made = Counter(adapters.counts)
    made.subtract(before)
    assert dict(+made) == {"dynamodb.GetItem": 3, "dynamodb.UpdateItem": 5, "dynamodb.DeleteItem": 2,
                           "dynamodb.TransactWriteItems": 2}, (adapters.kind, dict(+made))


def test_a_spend_transaction_cancelled_by_another_one_is_tried_again_not_read_as_a_full_budget(monkeypatch):
    """DynamoDB cancels a transaction that meets another one on the same items (TransactionConflict):
    that says nothing about the budget, so the reservation is asked again; a budget's failed condition
    is the answer."""
    from botocore.exceptions import ClientError

    from i2v.aws import spend as spend_module
    from i2v.spend import Budget, Periods

    def cancelled(*codes: str) -> ClientError:
        return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                            "CancellationReasons": [{"Code": code} for code in codes]}, "TransactWriteItems")

    class Ddb:
        def __init__(self, *replies: Any) -> None:
            self.replies, self.calls = list(replies), 0

        def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return {}

    monkeypatch.setattr(spend_module.time, "sleep", lambda seconds: None)
    ledger = spend_module.DynamoSpend.__new__(spend_module.DynamoSpend)
    ledger.table, day, budget = "control", Periods.at(1_767_225_600.0), Budget(daily_usd=1.0, monthly_usd=5.0)
    ledger.ddb = Ddb(cancelled("TransactionConflict", "None"), cancelled("None", "TransactionConflict"), {})
    assert ledger.reserve(0.13, day, budget) is None and ledger.ddb.calls == 3
    ledger.ddb = Ddb(cancelled("TransactionConflict", "None"), cancelled("None", "ConditionalCheckFailed"))
    assert ledger.reserve(0.13, day, budget) == "month"
    ledger.ddb = Ddb(*[cancelled("TransactionConflict", "None")] * spend_module.TRIES)
    with pytest.raises(ClientError):
        ledger.reserve(0.13, day, budget)  # a fault: the dispatcher's invocation fails and is tried again
    assert ledger.ddb.calls == spend_module.TRIES


def test_bucket_digest_of_a_pinned_version_in_one_request(adapters):
    import hashlib

    first = adapters.put("uploads/d.png", b"first" * 100_000)
    adapters.put("uploads/d.png", b"second")
    before = Counter(adapters.counts)
    assert adapters.bucket.digest("uploads/d.png", Pin(version_id=first)) == hashlib.sha256(b"first" * 100_000).hexdigest()
    assert adapters.bucket.digest("uploads/d.png") == hashlib.sha256(b"second").hexdigest()
    made = Counter(adapters.counts)
    made.subtract(before)
    assert dict(+made) == {"s3.GetObject": 2}


def test_a_batch_ledger_keeps_how_far_its_fan_out_got(adapters):
    ledger = _ledger(adapters)
    before = Counter(adapters.counts)
    opening = {"total": 30, "source": {"bucket": "media", "key": "uploads/b.csv"},
               "summary_key": "outputs/b.summary.json", "uploaded_at": "2026-12-02T00:00:00Z"}
    assert ledger.open("b1", **opening) == 0  # new
    ledger.fanned_out("b1", 10)
    assert ledger.open("b1", **opening) == 10  # a redelivered event resumes after the first ten rows
    ledger.fanned_out("b1", 20)
    ledger.fanned_out("b1", 10)  # a slower duplicate never moves it back
    assert ledger.open("b1", **opening) == 20
    ledger.fanned_out("b1", 30)
    assert ledger.open("b1", **opening) == 30  # all out: a duplicate
    assert ledger.open("b2", **opening) == 0  # ledgers are independent
    made = Counter(adapters.counts)
    made.subtract(before)
    assert dict(+made) == {"dynamodb.PutItem": 5, "dynamodb.GetItem": 3, "dynamodb.UpdateItem": 4}, (
        adapters.kind, dict(+made))
