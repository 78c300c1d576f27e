"""Wires each function's step to its real adapters, once per Lambda execution environment (lazily).

Handlers call these factories; tests build the steps with fakes instead. ``reset`` forgets every
cached factory, settings and client at once (the local cloud calls it when it points the
functions at a new endpoint). Each factory imports what its function uses when it is first
called, so a handler's cold start loads only its own function's code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from i2v import constants as c
from i2v.aws import clients
from i2v.errors import SubmissionInProgress

if TYPE_CHECKING:
    from i2v.aws.batches import DynamoLedger
    from i2v.aws.notifier import Notifier
    from i2v.aws.s3 import S3Bucket
    from i2v.aws.waker import Waker
    from i2v.capacity import Capacity
    from i2v.provider.client import HighwayClient
    from i2v.settings import Capacity as CapacitySettings
    from i2v.steps.check_status import StatusDeps
    from i2v.steps.dispatch import Dispatcher
    from i2v.steps.intake import IntakeDeps
    from i2v.steps.store import StoreDeps
    from i2v.video_transfer import Readable

IDEMPOTENCY_DAYS = 7


def _provider_client(provider_url: str, secret: str | None) -> HighwayClient:
    """One client per environment, but not one key: the key is read on each call through the
    secret's cache, and re-read past the cache once when the provider refuses it (rotated)."""
    from i2v.aws.secrets import api_key
    from i2v.provider.client import HighwayClient

    return HighwayClient(provider_url, lambda: api_key(secret), reread_key=lambda: api_key(secret, force_fetch=True),
                         connect_timeout=c.HTTP_CONNECT_SECONDS, read_timeout=c.PROVIDER_READ_SECONDS)


def _capacity(table: str, settings: CapacitySettings) -> Capacity:
    from i2v.aws.control_table import DynamoLeaseStore
    from i2v.capacity import Capacity

    return Capacity(DynamoLeaseStore(table), settings.max_in_flight, settings.submits_per_minute,
                    settings.rate_window_seconds)


@cache
def intake_deps() -> IntakeDeps:
    from i2v.aws.backlog import DynamoBacklog
    from i2v.aws.batches import DynamoLedger
    from i2v.aws.claims import DynamoClaims
    from i2v.aws.faults import is_transient
    from i2v.aws.jobs_table import JobsTable
    from i2v.aws.s3 import S3Bucket
    from i2v.aws.workflow import Workflow
    from i2v.settings import intake_settings
    from i2v.steps.batch import take_batch
    from i2v.steps.intake import IntakeDeps

    s = intake_settings()
    deps = IntakeDeps(settings=s, bucket=S3Bucket(s.bucket), jobs=JobsTable(s.jobs_table),
                      backlog=DynamoBacklog(s.jobs_table, s.control_table), workflow=Workflow(s.state_machine_arn),
                      claims=DynamoClaims(s.control_table), is_transient=is_transient)
    ledger = DynamoLedger(s.control_table)
    deps.on_batch = lambda job, redrive: take_batch(job, redrive, deps, ledger, intake_requeue())
    return deps


@cache
def intake_requeue() -> Callable[[dict[str, Any]], None]:
    """Put a message (a batch's chunk of rows, or its fan-out to resume) back on the intake's own queue."""
    from i2v.aws.waker import RowSender
    from i2v.settings import intake_settings

    return RowSender(intake_settings().uploads_queue_url).send


@cache
def intake_waker() -> Waker:
    from i2v.aws.waker import Waker
    from i2v.settings import intake_settings

    return Waker(intake_settings().wake_queue_url)


@cache
def idempotency() -> tuple[Any, Any]:
    """Powertools idempotency keyed by job id and redrive: one provider submission per object version."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from i2v.settings import dispatch_settings

    config = IdempotencyConfig(event_key_jmespath="[job_id, redrive]", raise_on_no_idempotency_key=True,
                               expires_after_seconds=IDEMPOTENCY_DAYS * 24 * 3600)
    return config, DynamoDBPersistenceLayer(table_name=dispatch_settings().idempotency_table)


def _idempotent_once() -> Callable[[Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]], dict[str, Any]]:
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    config, layer = idempotency()
    holder: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

    @idempotent_function(data_keyword_argument="payload", persistence_store=layer, config=config,  # type: ignore[untyped-decorator]
                         key_prefix="i2v-submit")
    def submit_once(payload: dict[str, Any]) -> dict[str, Any]:
        return holder["fn"](payload)

    def once(fn: Callable[[dict[str, Any]], dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
        holder["fn"] = fn
        try:
            return dict(submit_once(payload=payload))
        except IdempotencyAlreadyInProgressError as exc:
            raise SubmissionInProgress(str(exc)) from None

    return once


@cache
def dispatcher() -> Dispatcher:
    from i2v.aws.backlog import DynamoBacklog
    from i2v.aws.contents import DynamoContents
    from i2v.aws.jobs_table import JobsTable
    from i2v.aws.s3 import S3Bucket
    from i2v.aws.spend import DynamoSpend
    from i2v.aws.waker import Waker
    from i2v.aws.workflow import Workflow
    from i2v.settings import dispatch_settings
    from i2v.steps.dispatch import DispatchDeps, Dispatcher

    s = dispatch_settings()
    client = cache(lambda: _provider_client(s.provider_url, s.api_key_secret))
    waker = Waker(s.wake_queue_url)
    return Dispatcher(DispatchDeps(
        settings=s, backlog=DynamoBacklog(s.jobs_table, s.control_table), jobs=JobsTable(s.jobs_table),
        capacity=_capacity(s.control_table, s.capacity), client=client, bucket=S3Bucket(s.bucket),
        workflow=Workflow(s.state_machine_arn), wake_later=waker.wake_later, contents=DynamoContents(s.control_table),
        spend=DynamoSpend(s.control_table), once=_idempotent_once()))


@cache
def status_deps() -> StatusDeps:
    from i2v.aws.jobs_table import JobsTable
    from i2v.settings import status_settings
    from i2v.steps.check_status import StatusDeps

    s = status_settings()
    return StatusDeps(client=_provider_client(s.provider_url, s.api_key_secret), jobs=JobsTable(s.jobs_table),
                      time_scale=s.time_scale)


@cache
def store_deps() -> StoreDeps:
    from i2v.aws.batches import DynamoLedger
    from i2v.aws.contents import DynamoContents
    from i2v.aws.jobs_table import JobsTable
    from i2v.aws.notifier import Notifier
    from i2v.aws.outputs import DynamoOutputNames
    from i2v.aws.s3 import S3Bucket
    from i2v.aws.waker import Waker
    from i2v.safe_url import UrlPolicy
    from i2v.settings import store_settings
    from i2v.steps.store import StoreDeps
    from i2v.video_transfer import copy_video, pinned_session

    s = store_settings()
    policy = UrlPolicy(s.url_policy, s.provider_url)
    session = pinned_session()  # connects only to the addresses the policy checked

    def copy(url: str, upload: Callable[[Readable], None]) -> int:
        return copy_video(url, policy, upload, s.max_video_bytes, session)

    waker = Waker(s.wake_queue_url)
    bucket, notifier, ledger = S3Bucket(s.bucket), Notifier(s.topic_arn, s.event_bus), DynamoLedger(s.control_table)
    return StoreDeps(bucket=bucket, notifier=notifier, jobs=JobsTable(s.jobs_table),
                     release_slot=_capacity(s.control_table, s.capacity).release, copy_video=copy,
                     names=DynamoOutputNames(s.control_table), wake_dispatcher=waker.wake,
                     on_published=lambda note: _close_row(note, ledger, bucket, notifier),
                     contents=DynamoContents(s.control_table),
                     download_url_ttl=s.download_url_ttl, job_retention_days=s.job_retention_days)


def _close_row(notification: dict[str, Any], ledger: DynamoLedger, bucket: S3Bucket, notifier: Notifier) -> None:
    from i2v.batch import close_row

    close_row(notification, ledger, bucket, notifier.publish, time.time())


_FACTORIES = (intake_deps, intake_requeue, intake_waker, idempotency, dispatcher, status_deps, store_deps)


def reset() -> None:
    """Forget everything made so far: settings are read again and clients made again on next use."""
    for factory in _FACTORIES:
        factory.cache_clear()
    clients.reset()
