"""Wires the steps to their real adapters, once per Lambda execution environment (lazily).

Handlers call these factories; tests build the steps with fakes instead.
"""

from __future__ import annotations

from functools import lru_cache

import requests

from i2v.aws.control_table import DynamoLeaseStore
from i2v.aws.jobs_table import JobsTable
from i2v.aws.notifier import Notifier
from i2v.aws.queue import SubmitQueue
from i2v.aws.s3 import S3Bucket
from i2v.aws.secrets import api_key
from i2v.aws.workflow import Workflow
from i2v.capacity import Capacity
from i2v.provider.client import HighwayClient
from i2v.safe_url import UrlPolicy
from i2v.settings import get_settings
from i2v.steps.check_status import StatusDeps
from i2v.steps.store import StoreDeps
from i2v.steps.submit import SubmitDeps, Submitter
from i2v.video_transfer import copy_video

IDEMPOTENCY_DAYS = 7


@lru_cache(maxsize=1)
def provider_client() -> HighwayClient:
    """One client per environment, but not one key: the key is read on each call through the
    secret's cache, and re-read past the cache once when the provider refuses it (rotated)."""
    s = get_settings()
    secret = s.api_key_secret
    return HighwayClient(s.provider_url, lambda: api_key(secret),
                         reread_key=lambda: api_key(secret, force_fetch=True))


@lru_cache(maxsize=1)
def capacity() -> Capacity:
    s = get_settings()
    return Capacity(DynamoLeaseStore(s.control_table), s.max_in_flight, s.submits_per_minute, s.rate_window_seconds)


@lru_cache(maxsize=1)
def jobs_table() -> JobsTable:
    return JobsTable(get_settings().jobs_table)


@lru_cache(maxsize=1)
def idempotency():
    """Powertools idempotency keyed by job id: one provider submission per object version."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )

    config = IdempotencyConfig(event_key_jmespath="[job_id, redrive]", raise_on_no_idempotency_key=True,
                               expires_after_seconds=IDEMPOTENCY_DAYS * 24 * 3600)
    return config, DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


@lru_cache(maxsize=1)
def submitter() -> Submitter:
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    s = get_settings()
    config, layer = idempotency()
    queue = SubmitQueue(s.queue_url)
    holder: dict = {}

    @idempotent_function(data_keyword_argument="payload", persistence_store=layer, config=config,
                         key_prefix="i2v-submit")
    def submit_once(payload: dict) -> dict:
        return holder["fn"](payload)

    def once(fn, payload):
        holder["fn"] = fn
        return submit_once(payload=payload)

    deps = SubmitDeps(settings=s, bucket=S3Bucket(s.bucket), jobs=jobs_table(), workflow=Workflow(s.state_machine_arn),
                      capacity=capacity(), client=provider_client, send_later=queue.send_later, once=once)
    return Submitter(deps)


@lru_cache(maxsize=1)
def status_deps() -> StatusDeps:
    return StatusDeps(client=provider_client(), jobs=jobs_table(), time_scale=get_settings().time_scale)


@lru_cache(maxsize=1)
def store_deps() -> StoreDeps:
    s = get_settings()
    policy = UrlPolicy(s.url_policy, s.provider_url)
    from i2v.video_transfer import pinned_session  # connects only to the addresses the policy checked

    session: requests.Session = pinned_session()

    def copy(url, upload):
        return copy_video(url, policy, upload, s.max_video_bytes, session)

    return StoreDeps(bucket=S3Bucket(s.bucket), notifier=Notifier(s.topic_arn), jobs=jobs_table(),
                     release_slot=capacity().release, copy_video=copy, download_url_ttl=s.download_url_ttl)
