"""Where operator commands go (i2v_local/ops.py's Target): a local cloud needs no AWS configuration."""

from __future__ import annotations

import os

import pytest

from i2v_local.ops import Target, is_loopback


@pytest.fixture
def no_aws_configuration(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:4566", True), ("http://localhost:4566", True), ("http://[::1]:4566", True),
    ("http://127.3.2.1", True), ("https://s3.amazonaws.com", False), ("http://10.0.0.5:4566", False), (None, False),
])
def test_loopback_endpoints_are_local(url, local):
    assert is_loopback(url) is local


def test_a_local_endpoint_gets_dummy_credentials_and_the_local_region(no_aws_configuration):
    session = Target(endpoint_url="http://127.0.0.1:4566").session()
    assert session.get_credentials().access_key == "local"
    assert session.region_name == "us-east-1"
    client = Target(endpoint_url="http://127.0.0.1:4566").client("sqs")
    assert client.meta.region_name == "us-east-1"
    assert Target(endpoint_url="http://127.0.0.1:4566", region="eu-west-1").session().region_name == "eu-west-1"


def test_aws_itself_keeps_the_standard_chain(no_aws_configuration):
    assert Target().session().get_credentials() is None


# --- `i2v jobs spend` ------------------------------------------------------------------------------------


def test_spend_from_a_local_runs_snapshot_reports_the_runs_day_and_month(tmp_path):
    import json

    from i2v_local.ops import OpsError, spend_so_far

    (tmp_path / ".i2v").mkdir()
    (tmp_path / ".i2v" / "spend.json").write_text(json.dumps({
        "day#2026-11-30": 0.26, "day#2026-12-01": 0.13, "month#2026-11": 1.5, "month#2026-12": 0.13}))
    assert spend_so_far(snapshot_dir=tmp_path) == {"day": "2026-12-01", "month": "2026-12", "today_usd": 0.13,
                                                   "month_usd": 0.13}
    (tmp_path / ".i2v" / "spend.json").write_text("{}")  # a run that paid nothing
    empty = spend_so_far(snapshot_dir=tmp_path, now=1_767_225_600.0)
    assert empty == {"day": "2026-01-01", "month": "2026-01", "today_usd": 0.0, "month_usd": 0.0}
    with pytest.raises(OpsError, match="no spend records"):
        spend_so_far(snapshot_dir=tmp_path / "elsewhere")


def test_spend_of_a_live_table_reads_todays_and_this_months_items():
    from i2v_local.ops import spend_so_far

    class Ddb:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def get_item(self, TableName, Key, ConsistentRead):  # noqa: N803 - boto3's names
            self.asked.append(Key["pk"]["S"])
            return {"Item": {"usd": {"N": "0.26"}}} if "day" in Key["pk"]["S"] else {}

    ddb = Ddb()

    class FakeTarget:
        def outputs(self):
            return {"ControlTableName": "control"}

        def client(self, service):
            return ddb

    spent = spend_so_far(FakeTarget(), now=1_767_225_600.0 + 3600)
    assert spent == {"day": "2026-01-01", "month": "2026-01", "today_usd": 0.26, "month_usd": 0.0}
    assert ddb.asked == ["spend#day#2026-01-01", "spend#month#2026-01"]
