"""Which video URLs the store step may fetch (i2v.safe_url), with a resolver instead of DNS."""

from __future__ import annotations

import pytest

from i2v.safe_url import UnsafeUrl, UrlPolicy

DNS = {
    "cdn.example.com": ["93.184.216.34"],
    "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example.com": ["10.1.2.3"],
    "rebind.example.com": ["93.184.216.34", "192.168.1.10"],
    "metadata.example.com": ["169.254.169.254"],
    "empty.example.com": [],
}


class Resolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return DNS[host]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
def public(resolver) -> UrlPolicy:
    return UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=resolver)


@pytest.fixture
def local(resolver) -> UrlPolicy:
    return UrlPolicy("loopback-http", "http://127.0.0.1:8765", resolver=resolver)


def refused(policy: UrlPolicy, url: str) -> UnsafeUrl:
    with pytest.raises(UnsafeUrl) as info:
        policy.check(url)
    err = info.value
    assert err.code == "UNSAFE_VIDEO_URL" and err.stage == "store"
    assert err.message
    return err


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/videos/v.mp4?sig=abc",
        "https://CDN.example.com:443/v.mp4",
        "https://v6.example.com/v.mp4",
        "https://93.184.216.34/v.mp4",
    ],
)
def test_public_https_is_allowed(public, url):
    public.check(url)


def test_http_is_refused(public):
    assert "expected https" in refused(public, "http://cdn.example.com/v.mp4").message


@pytest.mark.parametrize(
    "url", ["ftp://cdn.example.com/v.mp4", "file:///etc/passwd", "cdn.example.com/v.mp4"]
)
def test_other_schemes_are_refused(public, url):
    refused(public, url)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.7",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "0.0.0.0",
        "[fe80::1]",
        "[fc00::1]",
        "224.0.0.1",
        "100.64.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(public, resolver, address):
    err = refused(public, f"https://{address}/v.mp4")
    assert "non-public" in err.message
    assert resolver.asked == []  # literal addresses need no lookup


@pytest.mark.parametrize("host", ["internal.example.com", "rebind.example.com", "metadata.example.com"])
def test_hostnames_resolving_to_private_addresses_are_refused(public, host):
    err = refused(public, f"https://{host}/v.mp4")
    assert host in err.message and "non-public" in err.message


def test_a_host_with_no_address_is_refused(public):
    assert "no address" in refused(public, "https://empty.example.com/v.mp4").message


@pytest.mark.parametrize(
    "url", ["https://user:pass@cdn.example.com/v.mp4", "https://user@cdn.example.com/v.mp4"]
)
def test_credentials_in_the_url_are_refused(public, url):
    assert "credentials" in refused(public, url).message


@pytest.mark.parametrize("url", ["https:///v.mp4", "https://", "", "https://:443/v.mp4"])
def test_a_url_without_a_host_is_refused(public, url):
    assert "host" in refused(public, url).message


def test_a_malformed_port_is_refused(public):
    assert "malformed" in refused(public, "https://cdn.example.com:99999/v.mp4").message


def test_unknown_policies_are_a_configuration_error():
    with pytest.raises(ValueError):
        UrlPolicy("anything-goes", "https://api.highwayapi.ai")


# --- loopback-http (local runs) -----------------------------------------------------------------


def test_local_policy_allows_exactly_the_providers_host_and_port(local, resolver):
    local.check("http://127.0.0.1:8765/videos/t1.mp4")
    assert resolver.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8766/v.mp4",  # another port
        "http://127.0.0.1/v.mp4",  # default port 80
        "http://127.0.0.2:8765/v.mp4",  # another loopback host
        "http://localhost:8765/v.mp4",  # same machine, other name
        "http://[::1]:8765/v.mp4",
        "http://10.0.0.1:8765/v.mp4",  # private
        "http://192.168.1.1:8765/v.mp4",
        "http://cdn.example.com:8765/v.mp4",  # public but plain http
        "https://127.0.0.1:8765/v.mp4",  # https to loopback is still loopback
        "https://internal.example.com/v.mp4",
    ],
)
def test_local_policy_allows_nothing_else(local, url):
    refused(local, url)


def test_local_policy_still_allows_public_https(local):
    local.check("https://cdn.example.com/v.mp4")


def test_local_policy_never_opens_http_to_a_non_loopback_provider(resolver):
    policy = UrlPolicy("loopback-http", "http://10.0.0.5:8000", resolver=resolver)
    refused(policy, "http://10.0.0.5:8000/v.mp4")


def test_local_policy_with_a_localhost_provider(resolver):
    policy = UrlPolicy("loopback-http", "http://localhost:9000/", resolver=resolver)
    policy.check("http://localhost:9000/v.mp4")
    refused(policy, "http://127.0.0.1:9000/v.mp4")


def test_public_policy_ignores_the_provider_origin(resolver):
    policy = UrlPolicy("public-https", "http://127.0.0.1:8765", resolver=resolver)
    refused(policy, "http://127.0.0.1:8765/v.mp4")


# --- the real resolver, with the system's DNS replaced at the socket boundary -------------------


def test_a_name_that_does_not_exist_is_refused(monkeypatch):
    import socket

    from i2v.safe_url import system_resolver

    def nxdomain(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        system_resolver("no-such-host.example.com")


def test_the_system_resolver_returns_every_address_once_in_the_systems_order(monkeypatch):
    import socket

    from i2v.safe_url import system_resolver

    def answer(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:220:1::1", 0, 0, 0)),
            (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("93.184.216.34", 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    # the order a plain connect would try them in (getaddrinfo's, RFC 6724), which the pinned fetch keeps
    assert system_resolver("cdn.example.com") == ["93.184.216.34", "2606:2800:220:1::1"]


def test_a_temporary_dns_failure_is_retryable(monkeypatch):
    import socket

    from i2v.errors import VideoTransferError
    from i2v.safe_url import system_resolver

    def try_again(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", try_again)
    policy = UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=system_resolver)
    with pytest.raises(VideoTransferError, match="will retry"):  # the workflow retries the store task
        policy.check("https://cdn.example.com/v.mp4")


# --- check returns what it checked: the fetch connects to these addresses, never to a new lookup --


@pytest.mark.parametrize(
    "url, addresses",
    [
        ("https://cdn.example.com/videos/v.mp4?sig=abc", ["93.184.216.34"]),
        ("https://CDN.example.com:443/v.mp4", ["93.184.216.34"]),
        ("https://v6.example.com/v.mp4", ["2606:2800:220:1:248:1893:25c8:1946"]),
        ("https://93.184.216.34/v.mp4", ["93.184.216.34"]),
        ("https://[2606:2800:220:1::1]/v.mp4", ["2606:2800:220:1::1"]),
    ],
)
def test_check_returns_the_addresses_it_checked(public, url, addresses):
    assert public.check(url) == addresses


def test_every_address_of_a_host_is_returned_in_the_resolvers_order():
    policy = UrlPolicy("public-https", "https://api.highwayapi.ai",
                       resolver=lambda host: ["93.184.216.35", "2606:2800:220:1::1", "93.184.216.34"])
    assert policy.check("https://cdn.example.com/v.mp4") == ["93.184.216.35", "2606:2800:220:1::1", "93.184.216.34"]


class Rebinding:
    """A DNS answer that changes: public for the first lookup, private after (DNS rebinding)."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        self.answers = [first]
        self.then = then
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if self.answers else self.then


def test_each_check_resolves_once_and_returns_that_answer():
    resolver = Rebinding(["93.184.216.34"], ["10.0.0.8"])
    policy = UrlPolicy("public-https", "https://api.highwayapi.ai", resolver=resolver)
    assert policy.check("https://cdn.example.com/v.mp4") == ["93.184.216.34"]
    assert resolver.asked == ["cdn.example.com"]
    # the next check (a redirect hop, a retry) resolves again and sees the private answer
    err = refused(policy, "https://cdn.example.com/v.mp4")
    assert "10.0.0.8" in err.message


def test_local_policy_returns_the_providers_loopback_address(local, resolver):
    assert local.check("http://127.0.0.1:8765/videos/t1.mp4") == ["127.0.0.1"]
    assert resolver.asked == []


def test_a_localhost_provider_is_reached_on_the_loopback_addresses_without_a_lookup(resolver):
    policy = UrlPolicy("loopback-http", "http://localhost:9000/", resolver=resolver)
    assert policy.check("http://localhost:9000/v.mp4") == ["127.0.0.1", "::1"]
    assert resolver.asked == []


def test_a_v6_loopback_provider(resolver):
    policy = UrlPolicy("loopback-http", "http://[::1]:9000", resolver=resolver)
    assert policy.check("http://[::1]:9000/v.mp4") == ["::1"]
