"""Tables: keys, the backlog index, TTL attributes (the idempotency one in Powertools' layout), billing,
PITR, encryption."""

from __future__ import annotations

import pytest
from infra_synth import Synth

from i2v import constants as c

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(("name", "key", "ttl"), [
    ("Jobs", "job_id", "expires_at"),
    ("Idempotency", "id", "expiration"),
    ("Control", "pk", "expires_at"),
])
def test_table(default_synth: Synth, name: str, key: str, ttl: str) -> None:
    table = default_synth.resource("Tables", name)
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert {"AttributeName": key, "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_jobs_table_has_the_sparse_backlog_index(default_synth: Synth) -> None:
    props = default_synth.resource("Tables", "Jobs")["Properties"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": c.BACKLOG_LANE, "AttributeType": "S"},
        {"AttributeName": c.BACKLOG_ORDER, "AttributeType": "S"},
        {"AttributeName": c.JOBS_TABLE_KEY, "AttributeType": "S"},
    ]
    assert props["GlobalSecondaryIndexes"] == [{
        "IndexName": "backlog",
        "KeySchema": [{"AttributeName": "backlog_lane", "KeyType": "HASH"},
                      {"AttributeName": "backlog_order", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "INCLUDE",
                       "NonKeyAttributes": ["status", "claimed_until", "not_before", "uploaded_at"]},
    }]
    for other in ("Idempotency", "Control"):
        assert "GlobalSecondaryIndexes" not in default_synth.resource("Tables", other)["Properties"]


def test_destroy_deletes_the_tables(destroy_synth: Synth) -> None:
    for table in destroy_synth.resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
