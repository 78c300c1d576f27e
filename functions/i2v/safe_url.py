"""Which provider URLs the store function may fetch.

In AWS: https only, and never a private, loopback, link-local (169.254.169.254), multicast or
reserved address, checked on every hop of a redirect. In a local run: additionally plain http to
the one loopback host:port of the provider the run is pointed at, and nothing else.

``UrlPolicy.check`` returns the addresses it checked, and the fetch connects to one of those
(i2v.video_transfer pins them): the name is resolved once per hop, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot send the fetch anywhere unchecked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from i2v import constants as c
from i2v.contracts.errors import ErrorCode, JobError
from i2v.contracts.status import Stage
from i2v.errors import VideoTransferError

Resolver = Callable[[str], list[str]]
"""host -> its addresses, in the order a connection should try them."""

LOCALHOST_ADDRESSES = ["127.0.0.1", "::1"]  # "localhost" is loopback by definition (RFC 6761)


class UnsafeUrl(JobError):
    code = ErrorCode.UNSAFE_VIDEO_URL
    stage = Stage.STORE


def system_resolver(host: str) -> list[str]:
    """Every address of ``host``, once each, in the system's order of preference."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_FAIL", -4)):
            raise VideoTransferError(f"the video host {host!r} could not be resolved right now "
                                     f"({exc.strerror}); will retry") from None
        raise UnsafeUrl(f"the video host {host!r} does not resolve ({exc.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class UrlPolicy:
    def __init__(self, policy: str, provider_url: str, resolver: Resolver = system_resolver) -> None:
        if policy not in (c.URL_POLICY_PUBLIC_HTTPS, c.URL_POLICY_LOOPBACK_HTTP):
            raise ValueError(f"unknown URL policy {policy!r}")
        self.policy = policy
        self.resolver = resolver
        self.local_origin = _origin(provider_url) if policy == c.URL_POLICY_LOOPBACK_HTTP else None

    def check(self, url: str) -> list[str]:
        """Raise UnsafeUrl naming what is wrong, or return the addresses the URL may be fetched
        from (never empty): connect only to one of these, never to a fresh lookup of the name."""
        try:
            parts = urlsplit(url)
            scheme, host, port = _origin(url)
        except ValueError:
            raise UnsafeUrl("the video URL is malformed; expected an https URL") from None
        if parts.username or parts.password:
            raise UnsafeUrl("the video URL carries credentials; expected a plain https URL")
        if not host:
            raise UnsafeUrl("the video URL has no host; expected an https URL")
        if self.local_origin and (scheme, host, port) == self.local_origin and self._loopback(host):
            return list(LOCALHOST_ADDRESSES) if host == "localhost" else [str(ipaddress.ip_address(host))]
        if scheme != "https":
            raise UnsafeUrl(f"the video URL uses {scheme or 'no scheme'}; expected https")
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = self.resolver(host)
        if not addresses:
            raise UnsafeUrl(f"the video host {host!r} has no address")
        for address in addresses:
            if not _is_public(address):
                raise UnsafeUrl(f"the video host {host!r} resolves to the non-public address {address}; "
                                "expected a public https host")
        return addresses

    def _loopback(self, host: str) -> bool:
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
