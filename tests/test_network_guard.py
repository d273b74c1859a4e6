"""The guard in conftest.py must stop any non-loopback connection."""

import socket

import pytest


def test_public_address_is_refused() -> None:
    with pytest.raises(AssertionError, match="only loopback"):
        socket.create_connection(("20.190.160.1", 443), timeout=1)


def test_name_lookup_of_microsoft_is_refused() -> None:
    with pytest.raises(AssertionError, match="only loopback"):
        socket.getaddrinfo("graph.microsoft.com", 443)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    client.close()
    server.close()
