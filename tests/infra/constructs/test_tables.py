"""Tables: keys, TTL attributes (the idempotency one in Powertools' layout), billing, PITR, encryption."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(("name", "key", "ttl"), [
    ("Jobs", "job_id", None),
    ("Idempotency", "id", "expiration"),
    ("Control", "pk", "expires_at"),
])
def test_table(default_synth, name, key, ttl):
    _, table = default_synth.one("AWS::DynamoDB::Table", name)
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    if ttl:
        assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert table["DeletionPolicy"] == "Retain"


def test_destroy_deletes_the_tables(destroy_synth):
    for table in destroy_synth.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
