"""The unit suite itself: no test may reach the network."""

from __future__ import annotations

import socket

import pytest
import requests
from pytest_socket import SocketBlockedError

pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")


def test_an_internet_socket_cannot_be_opened():
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_a_real_http_request_is_blocked():
    with pytest.raises(SocketBlockedError):
        requests.get("https://example.com/", timeout=1)
