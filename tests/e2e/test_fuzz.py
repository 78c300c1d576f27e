"""The end-to-end fuzz, small: generated uploads (good and hostile) through the embedded cloud with raw
S3 puts, overwrites and deletes; every upload that is a job ends in exactly one schema-valid
notification with a documented code, nothing invalid is paid for, nothing is left behind.
`make soak` runs it with a few hundred uploads (i2v_local.fuzz)."""

from __future__ import annotations

import pytest

from support import template_roles

pytestmark = pytest.mark.e2e


def test_generated_uploads_each_end_in_one_notification_and_nothing_invalid_is_paid_for():
    from i2v_local.fuzz import run_fuzz

    report = run_fuzz(uploads=45, seed=3, speed=60, timeout=240, iam_policies=template_roles())  # roles enforced
    print(f"\nfuzz: {report.uploads} uploads, {report.job_uploads} jobs, {report.deletes} deletes, "
          f"{report.overwrites} overwrites, {report.succeeded} succeeded, {report.failed} failed "
          f"{report.failure_codes}, {report.claimed} claimed, {report.provider_tasks_created} paid")
    assert report.jobs_without_outcome == []
    assert report.jobs_with_several_notifications == []
    assert report.schema_errors == [] and report.undocumented_codes == []
    assert report.provider_refusals == 0 and report.tasks_without_notification == 0
    assert report.invalid_input_paid == [] and report.valid_images_refused == []
    assert report.urls_not_serving == []
    assert report.stuck_jobs == [] and report.dlq_depth == 0
    assert report.iam_enforced and report.iam_denied == []
    assert report.job_uploads >= 20 and report.succeeded > 0 and report.failed > 0 and report.overwrites > 0
    assert report.passed, report.problems
