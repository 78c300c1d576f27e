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
