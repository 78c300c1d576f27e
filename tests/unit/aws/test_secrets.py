"""The provider API key from Secrets Manager through Powertools parameters (i2v.aws.secrets).

Secrets Manager is moto's, in process (``mock_aws``): no socket is opened. The point of these
tests: a key put or rotated after an execution environment first read it is used, within the
cache's lifetime, and at once when the provider refuses the old one.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.response import HTTPResponse

from i2v import constants as c
from i2v import runtime  # imported at collection: its tracer opens a UDP socket, blocked in tests
from i2v.aws.secrets import api_key
from i2v.provider.client import HighwayClient
from i2v.provider.errors import ProviderAccountError
from i2v.provider.models import SubmitRequest
from i2v.settings import SettingsError

NAME = "i2v/highway-api-key"
OLD_KEY = "hw-live-OLD-KEY-5d4c3b-BEFORE-ROTATION"
NEW_KEY = "hw-live-NEW-KEY-0a9b8c-AFTER-ROTATION"
BASE = "https://api.highway.test"
REQUEST = SubmitRequest(image_url="https://media.s3.example.com/uploads/cat.png?sig=1", prompt="a cat")


@pytest.fixture
def secrets(monkeypatch):
    """moto's Secrets Manager; Powertools' providers and cache are dropped before and after."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1",
                        "AWS_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    parameters.clear_caches()


class Provider(BaseAdapter):
    """A transport standing in for HighwayAPI: it accepts only the key the secret holds now (as
    the provider does after a rotation) and records the key of every request."""

    def __init__(self, secrets) -> None:
        super().__init__()
        self.secrets = secrets
        self.keys: list[str] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        key = request.headers["Authorization"].removeprefix("Bearer ")
        self.keys.append(key)
        current = self.secrets.get_secret_value(SecretId=NAME)["SecretString"]
        status, body = (200, {"task_id": f"t{len(self.keys)}"}) if key == current else (
            403, {"code": 403, "reason": "INVALID_API_KEY", "message": "invalid api key"})
        raw = HTTPResponse(body=io.BytesIO(json.dumps(body).encode()), status=status, preload_content=False,
                           headers={"Content-Type": "application/json"}, request_url=request.url)
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


def wired_client(provider: Provider) -> HighwayClient:
    """The client as i2v.runtime.provider_client wires it, talking to ``provider``."""
    client = HighwayClient(BASE, lambda: api_key(NAME), reread_key=lambda: api_key(NAME, force_fetch=True))
    client.session.mount(BASE, provider)
    return client


def test_the_secret_is_cached_until_a_forced_fetch(secrets):
    secrets.create_secret(Name=NAME, SecretString=OLD_KEY)
    assert api_key(NAME) == OLD_KEY
    secrets.put_secret_value(SecretId=NAME, SecretString=NEW_KEY)
    assert api_key(NAME) == OLD_KEY  # served from the cache for up to CACHE_SECONDS
    assert api_key(NAME, force_fetch=True) == NEW_KEY
    assert api_key(NAME) == NEW_KEY  # the forced fetch refreshed the cache


def test_the_client_uses_the_new_key_after_put_secret_value(secrets):
    """An environment that read the key, then the operator put a new one: one refused request,
    one forced read of the secret, and the call goes through with the new key."""
    secrets.create_secret(Name=NAME, SecretString=OLD_KEY)
    provider = Provider(secrets)
    client = wired_client(provider)
    assert client.submit(REQUEST) == "t1"
    secrets.put_secret_value(SecretId=NAME, SecretString=NEW_KEY)
    assert client.submit(REQUEST) == "t3"
    assert provider.keys == [OLD_KEY, OLD_KEY, NEW_KEY]
    assert client.submit(REQUEST) == "t4"  # from the refreshed cache, no refusal
    assert provider.keys[-1] == NEW_KEY


@pytest.fixture
def runtime_client(monkeypatch):
    """runtime_client() -> the provider client exactly as i2v.runtime makes it for the functions."""
    from types import SimpleNamespace

    make = getattr(runtime, "_provider_client", None)  # per-function settings (a runtime rewrite under way)
    factory = getattr(runtime, "provider_client", None)
    if factory is not None:
        monkeypatch.setattr(runtime, "get_settings", lambda: SimpleNamespace(provider_url=BASE, api_key_secret=NAME))
        factory.cache_clear()
    yield (lambda: make(BASE, NAME)) if make is not None else factory
    if factory is not None:
        factory.cache_clear()


def test_the_runtime_client_is_not_frozen_on_the_first_key(secrets, runtime_client):
    """The runtime keeps one client per execution environment; the key it uses must not be."""
    secrets.create_secret(Name=NAME, SecretString=OLD_KEY)
    provider = Provider(secrets)
    client = runtime_client()
    client.session.mount(BASE, provider)
    assert client.submit(REQUEST) == "t1"
    secrets.put_secret_value(SecretId=NAME, SecretString=NEW_KEY)
    assert client.submit(REQUEST) == "t3"
    assert provider.keys == [OLD_KEY, OLD_KEY, NEW_KEY]


def test_a_key_that_really_is_wrong_fails_after_one_forced_read(secrets):
    secrets.create_secret(Name=NAME, SecretString=OLD_KEY)
    provider = Provider(_Holding("a key the provider has, nobody else"))
    client = wired_client(provider)
    with pytest.raises(ProviderAccountError) as info:
        client.submit(REQUEST)
    assert info.value.reason == "INVALID_API_KEY"
    assert provider.keys == [OLD_KEY]  # read again past the cache, unchanged: not sent again
    for text in (str(info.value), repr(info.value), repr(client)):
        assert OLD_KEY not in text


class _Holding:
    """What the provider believes the key is (for a provider that disagrees with the secret)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        return {"SecretString": self.key}


@pytest.mark.parametrize(
    "stored, expected",
    [
        (f"  {OLD_KEY}\n", OLD_KEY),
        (json.dumps({"api_key": OLD_KEY, "note": "rotated monthly"}), OLD_KEY),
    ],
)
def test_the_key_is_the_secret_string_or_its_api_key_field(secrets, stored, expected):
    secrets.create_secret(Name=NAME, SecretString=stored)
    assert api_key(NAME) == expected


def test_a_binary_secret_is_decoded(secrets):
    secrets.create_secret(Name=NAME, SecretBinary=OLD_KEY.encode())
    assert api_key(NAME) == OLD_KEY


@pytest.mark.parametrize("stored", ["   ", json.dumps({"other": "x"}), json.dumps({"api_key": 42})])
def test_an_empty_secret_is_a_settings_error_without_the_value(secrets, stored):
    secrets.create_secret(Name=NAME, SecretString=stored)
    with pytest.raises(SettingsError, match=c.ENV_API_KEY_SECRET):
        api_key(NAME)


def test_local_runs_read_the_variable(monkeypatch):
    monkeypatch.setenv(c.ENV_API_KEY, f" {OLD_KEY} ")
    assert api_key(None) == OLD_KEY
    monkeypatch.setenv(c.ENV_API_KEY, NEW_KEY)
    assert api_key(None) == NEW_KEY
    monkeypatch.delenv(c.ENV_API_KEY)
    with pytest.raises(SettingsError, match=c.ENV_API_KEY):
        api_key(None)
