"""The popularity refresh's public fetchers against a real HTTP server on 127.0.0.1
that fails the way public endpoints do: a 503, a connection closed without an answer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chainwarden._internal.http import RetryPolicy
from chainwarden.analyzers.popularity import npm_from_public, pypi_from_public
from chainwarden.errors import NetworkError
from integration.flaky_http import Server

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def test_pypi_ranking_survives_a_503_and_a_hang_up(server: Server) -> None:
    server.json("/top.json", {"rows": [{"project": "Requests"}, {"project": "urllib3"}]})
    server.failures["/top.json"] = [503, 0]
    with httpx.Client() as client:
        ranked = pypi_from_public(client, f"{server.url}/top.json", FAST)
    assert ranked == [(1, "requests"), (2, "urllib3")]
    assert server.requests.count("/top.json") == 3


def test_npm_downloads_survive_a_503_per_request(server: Server) -> None:
    server.json("/point/left-pad,lodash", {"left-pad": {"downloads": 10}, "lodash": {"downloads": 99}})
    server.json("/point/@babel/core", {"downloads": 50})
    server.failures["/point/left-pad,lodash"] = [503]
    server.failures["/point/@babel/core"] = [0]
    with httpx.Client() as client:
        counted = npm_from_public(client, ["left-pad", "lodash", "@babel/core"], f"{server.url}/point/", FAST)
    assert counted == [(99, "lodash"), (50, "@babel/core"), (10, "left-pad")]


def test_a_source_that_keeps_failing_is_one_network_error(server: Server) -> None:
    server.failures["/top.json"] = [502, 502, 502]
    with httpx.Client() as client, pytest.raises(NetworkError, match=r"/top\.json: .*502"):
        pypi_from_public(client, f"{server.url}/top.json", FAST)
    assert server.requests.count("/top.json") == 3  # the policy's attempts, not more
