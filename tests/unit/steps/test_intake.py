"""The intake step: every upload ends parked in the backlog, failed at once, skipped or a duplicate."""

from __future__ import annotations

import json

import pytest

from i2v import constants as c
from i2v.contracts.errors import ErrorCode
from i2v.contracts.status import JobStatus, PollState, Stage
from i2v.settings import IntakeSettings
from i2v.steps.intake import IntakeDeps, Outcome, Upload, take

BUCKET = "media"


def settings(**kw) -> IntakeSettings:
    return IntakeSettings(bucket=BUCKET, jobs_table="jobs", control_table="control", state_machine_arn="sm",
                          wake_queue_url="wake", **{"image_grace_seconds": 0, **kw})


@pytest.fixture
def deps(bucket, jobs_table, backlog, workflow, claims, clock) -> IntakeDeps:
    return IntakeDeps(settings=settings(), bucket=bucket, jobs=jobs_table, backlog=backlog, workflow=workflow,
                      claims=claims, clock=clock)


def upload(bucket, key: str, data: bytes, metadata: dict | None = None, **kw) -> Upload:
    version = bucket.put(key, data, metadata)
    head = bucket.head(key)
    return Upload(event_name="ObjectCreated:Put", bucket=BUCKET, key=key, version_id=version, etag=head.etag,
                  event_time=kw.pop("event_time", "2026-01-01T00:00:00.000Z"), **kw)


def failure(workflow) -> dict:
    (state,) = workflow.executions.values()
    assert state["poll"]["state"] == PollState.FAILED
    return state["error"]


def test_a_valid_image_is_parked_once_with_its_request_and_never_reaches_the_provider(deps, bucket, image_data,
                                                                                        backlog, workflow, jobs_table):
    event = upload(bucket, "uploads/shoes/red.png", image_data(640, 480), {"prompt": "turntable", "priority": "HIGH"})
    assert take(event, deps) == Outcome.PARKED
    (waiting,) = [w for w in backlog.head(10)]
    record = jobs_table.items[waiting.job_id]
    assert record["status"] == JobStatus.QUEUED
    assert record["request"]["prompt"] == "turntable" and record["request"]["priority"] == "high"
    assert waiting.lane.value == "high" and waiting.order.startswith("2026-01-01T00:00:00.000Z#")
    assert record["image_pin"] == {"version_id": event.version_id}
    assert backlog.size() == 1
    assert workflow.executions == {}  # nothing started: it waits for capacity


def test_a_duplicate_delivery_is_not_parked_twice(deps, bucket, image_data, backlog):
    event = upload(bucket, "uploads/a.png", image_data())
    assert take(event, deps) == Outcome.PARKED
    assert take(event, deps) == Outcome.DUPLICATE
    assert backlog.size() == 1


def test_a_bad_image_fails_at_once_with_one_failure_report(deps, bucket, workflow, jobs_table, backlog):
    event = upload(bucket, "uploads/tiny.png", b"GIF89a" + b"\0" * 100)
    assert take(event, deps) == Outcome.FAILED
    error = failure(workflow)
    assert error["code"] == ErrorCode.IMAGE_FORMAT_UNSUPPORTED and error["stage"] == Stage.VALIDATE
    (record,) = jobs_table.items.values()
    assert record["status"] == JobStatus.FAILING
    assert backlog.size() == 0
    assert take(event, deps) == Outcome.DUPLICATE  # a second delivery starts nothing more
    assert len(workflow.executions) == 1


def test_objects_that_are_not_jobs_are_skipped(deps, bucket, image_data, jobs_table):
    for key in ("uploads/_frames/end.png", "uploads/notes.txt", "outputs/a.mp4", "elsewhere/a.png",
                "uploads/_defaults.json"):
        assert take(upload(bucket, key, image_data()), deps) == Outcome.SKIPPED
    assert jobs_table.items == {}


def test_events_other_than_uploads_are_skipped(deps, bucket, image_data):
    event = upload(bucket, "uploads/a.png", image_data())
    removed = Upload(**{**event.__dict__, "event_name": "ObjectRemoved:Delete"})
    assert take(removed, deps) == Outcome.SKIPPED


@pytest.mark.parametrize("body, code", [
    (b"", ErrorCode.INVALID_JOB_FILE),  # 0 bytes: a ranged GET of it would answer 416
    (b"[" * 100_000, ErrorCode.INVALID_JOB_FILE),  # RecursionError inside the JSON parser
    (b'{"image": "a.png", "duration": ' + b"9" * 5000 + b"}", ErrorCode.INVALID_JOB_FILE),  # over 4300 digits
    (b'{"image": "a.png", "duration": "\xc2\xb2"}', ErrorCode.INVALID_DURATION),  # "²".isdigit() is True
    (b'{"image": "a.png", "guidance_scale": ' + b"9" * 400 + b"}", ErrorCode.INVALID_GUIDANCE_SCALE),
    (b'{"image": "a.png", "prompt": "\\ud800 lone"}', ErrorCode.INVALID_PROMPT),  # a lone surrogate
    (b'{"image": "a.png", "colour": "red"}', ErrorCode.JOB_FILE_UNKNOWN_KEYS),
])
def test_hostile_job_files_end_in_one_failure_notification_never_a_crash(deps, bucket, image_data, workflow, body,
                                                                         code):
    bucket.put("uploads/a.png", image_data())
    event = upload(bucket, "uploads/job.json", body)
    assert take(event, deps) == Outcome.FAILED
    error = failure(workflow)
    assert error["code"] == code, error
    json.dumps(workflow.executions)  # the failure report is valid JSON for Step Functions
    json.dumps(workflow.executions, ensure_ascii=False).encode("utf-8")


def test_an_empty_defaults_file_fails_the_jobs_below_it_with_its_own_code(deps, bucket, image_data, workflow):
    bucket.put("uploads/cat/_defaults.json", b"")
    assert take(upload(bucket, "uploads/cat/a.png", image_data()), deps) == Outcome.FAILED
    assert failure(workflow)["code"] == ErrorCode.INVALID_DEFAULTS_FILE


@pytest.mark.parametrize("key", ["uploads/a/./b.png", "uploads/a/../c.png", "uploads/a//b.png", "uploads/tab\there.png"])
def test_keys_a_url_client_would_rewrite_fail_in_validation(deps, bucket, image_data, workflow, key):
    assert take(upload(bucket, key, image_data()), deps) == Outcome.FAILED
    assert failure(workflow)["code"] == ErrorCode.INVALID_KEY


def test_an_unexpected_error_fails_the_job_with_internal_error_naming_the_input(deps, bucket, image_data, workflow,
                                                                              monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("i2v.steps.intake.prepare", broken)
    assert take(upload(bucket, "uploads/a.png", image_data()), deps) == Outcome.FAILED
    error = failure(workflow)
    assert error["code"] == ErrorCode.INTERNAL_ERROR and "uploads/a.png" in error["message"]
    assert "ZeroDivisionError" in error["message"]


def test_an_infrastructure_fault_goes_back_to_the_queue(deps, bucket, image_data, workflow, monkeypatch):
    class Throttled(Exception):
        pass

    def throttled(*args, **kwargs):
        raise Throttled("slow down")

    monkeypatch.setattr("i2v.steps.intake.prepare", throttled)
    deps.is_transient = lambda exc: isinstance(exc, Throttled)
    event = upload(bucket, "uploads/a.png", image_data())
    with pytest.raises(Throttled):
        take(event, deps)
    assert workflow.executions == {}
    monkeypatch.undo()
    assert take(event, deps) == Outcome.PARKED  # the redelivery builds it


def test_an_overwrite_right_after_the_upload_does_not_change_what_the_first_job_reads(deps, bucket, image_data,
                                                                                     jobs_table):
    first = upload(bucket, "uploads/a.png", image_data(640, 480), {"prompt": "first"})
    second = upload(bucket, "uploads/a.png", image_data(800, 600), {"prompt": "second"})
    assert take(first, deps) == Outcome.PARKED and take(second, deps) == Outcome.PARKED
    requests = sorted(r["request"]["prompt"] for r in jobs_table.items.values())
    assert requests == ["first", "second"]
    pins = sorted(r["image_pin"]["version_id"] for r in jobs_table.items.values())
    assert pins == sorted([first.version_id, second.version_id])


def test_without_versions_an_overwrite_fails_the_first_job_and_the_second_is_its_own(bucket, deps, image_data,
                                                                                   workflow, jobs_table):
    bucket.versioned = False
    first = upload(bucket, "uploads/a.png", image_data(640, 480), {"prompt": "first"}, sequencer="01")
    second = upload(bucket, "uploads/a.png", image_data(800, 600), {"prompt": "second"}, sequencer="02")
    assert take(first, deps) == Outcome.FAILED
    assert failure(workflow)["code"] == ErrorCode.OBJECT_CHANGED
    assert take(second, deps) == Outcome.PARKED


def test_the_same_bytes_uploaded_again_with_new_metadata_is_a_new_job(bucket, deps, image_data, jobs_table):
    bucket.versioned = False
    data = image_data()
    first = upload(bucket, "uploads/a.png", data, {"prompt": "first"}, sequencer="01")
    assert take(first, deps) == Outcome.PARKED
    second = upload(bucket, "uploads/a.png", data, {"prompt": "second"}, sequencer="02")
    assert first.etag == second.etag
    assert take(second, deps) == Outcome.PARKED
    assert sorted(r["request"]["prompt"] for r in jobs_table.items.values()) == ["first", "second"]


def test_a_stale_event_from_before_an_operators_retry_is_ignored(deps, bucket, image_data, jobs_table):
    event = upload(bucket, "uploads/a.png", image_data())
    assert take(event, deps) == Outcome.PARKED
    (job_id,) = jobs_table.items
    jobs_table.items[job_id]["redrive"] = 1
    assert take(event, deps) == Outcome.DUPLICATE


def test_a_job_redriven_from_the_dead_letter_queue_is_built_again(deps, bucket, image_data, jobs_table, backlog):
    event = upload(bucket, "uploads/a.png", image_data())
    jobs_table.create("x")  # unrelated
    from i2v.jobs.build import identify

    job = identify(event.source, c.DEFAULT_UPLOADS_PREFIX, c.DEFAULT_OUTPUTS_PREFIX)
    jobs_table.dead_letter(job.job_id, dead_letter_reason="earlier crash")
    assert take(event, deps) == Outcome.PARKED
    assert jobs_table.items[job.job_id]["status"] == JobStatus.QUEUED
    assert backlog.size() == 1


def test_requests_per_valid_upload(deps, bucket, image_data, meter):
    event = upload(bucket, "uploads/a/b/c.png", image_data())
    before = dict(meter.counts)
    take(event, deps)
    made = {k: v - before.get(k, 0) for k, v in meter.counts.items() if v - before.get(k, 0)}
    # one HEAD of the image, three _defaults.json probes, header + trailer reads, one read of the whole image
    # for its content key (pay once per content); the record and the park
    assert made["s3.HeadObject"] == 4 and made["s3.GetObject"] == 3
    assert made["dynamodb.GetItem"] == 2 and made["dynamodb.TransactWriteItems"] == 1  # the record, the claim check


# --- job files name their images: one upload of intent, one payment -----------------------------------------

class Scene:
    """Intake with a grace period, plus the real dispatcher on the same fakes, in simulated time."""

    def __init__(self, fakes, clock, grace: float = 10.0, trigger: str = c.TRIGGER_IMAGES) -> None:
        import random

        from i2v.capacity import Capacity
        from i2v.settings import DispatchSettings
        from i2v.steps.dispatch import DispatchDeps, Dispatcher

        self.clock, self.meter = clock, fakes.Meter()
        self.bucket = fakes.Bucket(BUCKET, self.meter)
        self.jobs = fakes.JobsTable(self.meter)
        self.backlog = fakes.Backlog(self.jobs)
        self.workflow = fakes.Workflow(self.meter)
        self.provider = fakes.Client(submit=[f"task-{i}" for i in range(20)])
        self.intake = IntakeDeps(settings=settings(image_grace_seconds=grace, trigger=trigger), bucket=self.bucket,
                                 jobs=self.jobs, backlog=self.backlog, workflow=self.workflow,
                                 claims=fakes.Claims(self.meter), clock=clock)
        self.dispatcher = Dispatcher(DispatchDeps(
            settings=DispatchSettings(bucket=BUCKET, jobs_table="j", control_table="c", idempotency_table="i",
                                      state_machine_arn="sm", wake_queue_url="w"),
            backlog=self.backlog, jobs=self.jobs, capacity=Capacity(fakes.LeaseStore(self.meter), 10, 20, 60.0,
                                                                    clock=clock),
            client=lambda: self.provider, bucket=self.bucket, workflow=self.workflow,
            wake_later=lambda seconds: None, clock=clock, rng=random.Random(1)))

    def upload(self, key: str, data: bytes, metadata: dict | None = None) -> Outcome:
        from i2v.clock import iso

        return take(upload(self.bucket, key, data, metadata, event_time=iso(self.clock())), self.intake)

    def dispatch(self) -> None:
        self.dispatcher.run(lambda: 900.0)

    def statuses(self) -> dict[str, str]:
        return {r["source"]["key"]: r["status"] for r in self.jobs.items.values() if "source" in r}

    def failures(self) -> list[str]:
        return [s["error"]["code"] for s in self.workflow.executions.values() if s["error"]]


@pytest.fixture
def scene(fakes, clock) -> Scene:
    return Scene(fakes, clock)


def job_file(image: str = "cat.png", **more) -> bytes:
    return json.dumps({"image": image, "prompt": "the cat turns", **more}).encode()


def test_an_image_waits_out_the_grace_period_then_starts(scene, image_data):
    assert scene.upload("uploads/a.png", image_data()) == Outcome.HELD
    scene.dispatch()
    assert scene.provider.submitted == []  # a job file may still name it
    scene.clock.advance(11)
    scene.dispatch()
    assert len(scene.provider.submitted) == 1 and scene.statuses()["uploads/a.png"] == JobStatus.GENERATING


def test_a_job_file_arriving_within_the_grace_period_takes_its_images(scene, image_data):
    assert scene.upload("uploads/cat.png", image_data()) == Outcome.HELD
    assert scene.upload("uploads/cat-end.png", image_data()) == Outcome.HELD
    scene.clock.advance(3)
    body = job_file(end_image="cat-end.png", mode="Professional")
    assert scene.upload("uploads/cat.json", body) == Outcome.PARKED
    scene.clock.advance(20)
    scene.dispatch()
    assert len(scene.provider.submitted) == 1  # one upload of intent, one payment
    assert scene.provider.submitted[0].end_image_url is not None
    statuses = scene.statuses()
    assert statuses["uploads/cat.png"] == statuses["uploads/cat-end.png"] == JobStatus.CLAIMED
    assert statuses["uploads/cat.json"] == JobStatus.GENERATING
    assert scene.failures() == []


def test_a_job_file_waits_for_images_uploaded_after_it(scene, image_data):
    assert scene.upload("uploads/cat.json", job_file()) == Outcome.HELD  # its image is not there yet
    scene.clock.advance(2)
    assert scene.upload("uploads/cat.png", image_data()) == Outcome.CLAIMED
    assert scene.statuses()["uploads/cat.json"] == JobStatus.QUEUED
    scene.dispatch()
    assert len(scene.provider.submitted) == 1 and scene.failures() == []
    assert "uploads/cat.png" not in scene.statuses()  # never a job of its own


def test_a_job_files_missing_image_fails_once_the_grace_period_is_over(scene):
    assert scene.upload("uploads/cat.json", job_file()) == Outcome.HELD
    scene.dispatch()
    assert scene.failures() == []
    scene.clock.advance(11)
    scene.dispatch()
    assert scene.failures() == [ErrorCode.IMAGE_NOT_FOUND] and scene.provider.submitted == []


def test_a_bad_image_no_job_file_names_fails_after_the_grace_period(scene, image_data):
    assert scene.upload("uploads/tiny.png", image_data(100, 100)) == Outcome.HELD
    scene.dispatch()
    assert scene.failures() == []
    scene.clock.advance(11)
    scene.dispatch()
    assert scene.failures() == [ErrorCode.IMAGE_TOO_SMALL] and scene.provider.submitted == []


def test_an_image_uploaded_long_before_its_job_file_is_already_a_job(scene, image_data):
    scene.upload("uploads/cat.png", image_data())
    scene.clock.advance(60)
    scene.dispatch()
    assert scene.upload("uploads/cat.json", job_file()) == Outcome.PARKED
    scene.dispatch()
    assert len(scene.provider.submitted) == 2  # documented: the grace period had passed


def test_with_the_job_files_trigger_images_never_start_jobs(fakes, clock, image_data):
    scene = Scene(fakes, clock, grace=0, trigger=c.TRIGGER_JOB_FILES)
    assert scene.upload("uploads/cat.png", image_data()) == Outcome.SKIPPED
    assert scene.upload("uploads/cat.json", job_file()) == Outcome.PARKED
    scene.dispatch()
    assert len(scene.provider.submitted) == 1
