"""The shared HTTP retry policy, alone and inside the two registry clients.

The helper is driven with real :class:`httpx.Response` objects and a recorded
``sleep``; the clients talk to a real HTTP server on 127.0.0.1 that answers from
a per-path script (503 once, then 200 …).
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainwarden._internal.http import (
    TRANSIENT_STATUSES,
    RetryPolicy,
    is_tls_error,
    is_transient,
    retry_after,
    retry_transport_errors,
    send_with_retries,
)
from chainwarden.analyzers.registry_client import RegistryClient as PackageRegistryClient
from chainwarden.analyzers.registry_client import RegistryClientError
from chainwarden.errors import NetworkError
from chainwarden.models import Digest
from chainwarden.sources.registry import RETRY_POLICY, ImageReference
from chainwarden.sources.registry import RegistryClient as OciRegistryClient

POLICY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0)


class Sleeps:
    """A ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted(*outcomes: httpx.Response | Exception) -> tuple[Callable[[], httpx.Response], list[int]]:
    """A ``send`` returning (or raising) ``outcomes`` in order; the list counts calls."""
    calls: list[int] = []

    def send() -> httpx.Response:
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return send, calls


def tls_failure() -> httpx.ConnectError:
    """A ConnectError wrapping a certificate failure, chained the way httpx chains it."""
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
        except ssl.SSLError as inner:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from inner
    except httpx.ConnectError as outer:
        return outer


# -- the policy ---------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    assert [POLICY.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert RETRY_POLICY.attempts == 3
    assert [RETRY_POLICY.delay(n) for n in (1, 2)] == [0.25, 0.5]  # the OCI client's historical timing


@pytest.mark.parametrize(("attempts", "base", "cap"), [(0, 0.1, 1.0), (-1, 0.1, 1.0), (1, -0.1, 1.0), (1, 0.1, -1.0)])
def test_nonsense_policies_are_refused(attempts: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(attempts=attempts, base_delay=base, max_delay=cap)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
        ("9" * 400, float("inf")),  # absurd, but only the cap decides how long we wait
    ],
)
def test_retry_after_forms(header: str, seconds: float) -> None:
    assert retry_after(httpx.Response(503, headers={"Retry-After": header})) == seconds


@pytest.mark.parametrize(
    "header",
    ["", "soon", "-5", "1.5", "\u0663".encode(), "Mon, 99 Foo 2015 99:99:99 GMT"],  # U+0663: a digit, not ASCII
)
def test_retry_after_garbage_counts_as_absent(header: str | bytes) -> None:
    raw = header if isinstance(header, bytes) else header.encode()
    assert retry_after(httpx.Response(503, headers=[(b"Retry-After", raw)])) is None


def test_retry_after_http_date_in_the_future() -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    waited = retry_after(httpx.Response(503, headers={"Retry-After": email.utils.format_datetime(later, usegmt=True)}))
    assert waited is not None and 100 < waited <= 120


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_retry_after_never_raises_and_is_never_negative(header: str) -> None:
    waited = retry_after(httpx.Response(503, headers={"Retry-After": header}))
    assert waited is None or waited >= 0
    assert 0 <= POLICY.delay(1, httpx.Response(503, headers={"Retry-After": header})) <= POLICY.max_delay


def test_tls_errors_are_recognised_through_the_chain() -> None:
    assert is_tls_error(tls_failure())
    assert not is_transient(tls_failure())
    assert is_transient(httpx.ConnectError("connection refused"))
    assert is_transient(httpx.ReadTimeout("timed out"))
    assert not is_transient(httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."))
    assert not is_tls_error(httpx.ConnectError("connection refused"))


# -- send_with_retries ----------------------------------------------------------------------


def test_transient_status_is_retried_then_succeeds() -> None:
    send, calls = scripted(httpx.Response(503), httpx.Response(429), httpx.Response(200, text="ok"))
    sleeps = Sleeps()
    response = send_with_retries(send, POLICY, sleep=sleeps)
    assert response.status_code == 200 and response.text == "ok"
    assert len(calls) == 3
    assert sleeps.delays == [0.5, 1.0]


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 501])
def test_other_statuses_are_returned_at_once(status: int) -> None:
    send, calls = scripted(httpx.Response(status), httpx.Response(200))
    sleeps = Sleeps()
    assert send_with_retries(send, POLICY, sleep=sleeps).status_code == status
    assert len(calls) == 1 and sleeps.delays == []


def test_retry_statuses_come_from_the_policy() -> None:
    assert 501 not in TRANSIENT_STATUSES
    picky = RetryPolicy(attempts=2, base_delay=0.1, retry_statuses=frozenset({501}))
    send, calls = scripted(httpx.Response(501), httpx.Response(503))
    assert send_with_retries(send, picky, sleep=Sleeps()).status_code == 503
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("2", 2.0),  # longer than the backoff: the server's wish wins
        ("0", 0.5),  # shorter: never retry sooner than our own backoff
        ("3600", 4.0),  # an hour: capped at max_delay
        ("tomorrow", 0.5),  # unparsable: plain backoff
    ],
)
def test_retry_after_is_honoured_and_capped(header: str, delay: float) -> None:
    send, _ = scripted(httpx.Response(503, headers={"Retry-After": header}), httpx.Response(200))
    sleeps = Sleeps()
    assert send_with_retries(send, POLICY, sleep=sleeps).status_code == 200
    assert sleeps.delays == [delay]


def test_exhausted_attempts_give_the_last_response() -> None:
    first, second, last = httpx.Response(503), httpx.Response(502), httpx.Response(503, text="still busy")
    send, calls = scripted(first, second, last)
    sleeps = Sleeps()
    response = send_with_retries(send, POLICY, sleep=sleeps)
    assert response is last and response.text == "still busy"
    assert len(calls) == 3 and sleeps.delays == [0.5, 1.0]  # no pointless wait after the last try
    assert first.is_closed and second.is_closed


def test_transport_error_is_retried() -> None:
    send, calls = scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200))
    sleeps = Sleeps()
    assert send_with_retries(send, POLICY, sleep=sleeps).status_code == 200
    assert len(calls) == 3 and sleeps.delays == [0.5, 1.0]


def test_exhausted_transport_errors_raise_the_last() -> None:
    last = httpx.ConnectError("refused, third time")
    send, calls = scripted(httpx.ConnectError("refused"), httpx.ConnectError("refused"), last)
    with pytest.raises(httpx.ConnectError) as caught:
        send_with_retries(send, POLICY, sleep=Sleeps())
    assert caught.value is last and len(calls) == 3


def test_tls_error_is_not_retried() -> None:
    failure = tls_failure()
    send, calls = scripted(failure, httpx.Response(200))
    sleeps = Sleeps()
    with pytest.raises(httpx.ConnectError) as caught:
        send_with_retries(send, POLICY, sleep=sleeps)
    assert caught.value is failure and len(calls) == 1 and sleeps.delays == []


def test_other_exceptions_propagate_untouched() -> None:
    send, calls = scripted(NetworkError("the caller's own verdict"), httpx.Response(200))
    with pytest.raises(NetworkError, match="own verdict"):
        send_with_retries(send, POLICY, sleep=Sleeps())
    assert len(calls) == 1


def test_single_attempt_policy_never_sleeps() -> None:
    once = RetryPolicy(attempts=1)
    send, _ = scripted(httpx.Response(503))
    sleeps = Sleeps()
    assert send_with_retries(send, once, sleep=sleeps).status_code == 503
    with pytest.raises(httpx.ConnectError):
        send_with_retries(scripted(httpx.ConnectError("refused"))[0], once, sleep=sleeps)
    assert sleeps.delays == []


# -- retry_transport_errors -----------------------------------------------------------------


def test_operation_retried_after_dropped_connection() -> None:
    outcomes: list[Exception | str] = [httpx.RemoteProtocolError("peer closed"), "done"]
    sleeps = Sleeps()

    def operation() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_transport_errors(operation, POLICY, sleep=sleeps) == "done"
    assert sleeps.delays == [0.5]


def test_operation_not_retried_on_tls_error_and_gives_up_after_attempts() -> None:
    calls: list[int] = []

    def tls() -> None:
        calls.append(1)
        raise tls_failure()

    with pytest.raises(httpx.ConnectError):
        retry_transport_errors(tls, POLICY, sleep=Sleeps())
    assert len(calls) == 1

    def flaky() -> None:
        calls.append(1)
        raise httpx.ReadError("reset")

    calls.clear()
    sleeps = Sleeps()
    with pytest.raises(httpx.ReadError):
        retry_transport_errors(flaky, POLICY, sleep=sleeps)
    assert len(calls) == 3 and sleeps.delays == [0.5, 1.0]


# -- a real server on 127.0.0.1 --------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    truncate: bool = False  # announce the full length, send half, hang up
    hang_up: bool = False  # read the request, close the connection without a word


@dataclass
class Script:
    """Per path, the answers to give in order (the last one repeats); every request is logged."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    log: list[tuple[str, float]] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, path: str) -> Answer:
        with self.lock:
            self.log.append((path, time.monotonic()))
            queue = self.answers.get(path)
            if not queue:
                return Answer(404, b"{}")
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits(self, path: str) -> list[float]:
        return [when for logged, when in self.log if logged == path]


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[tuple[Script, int]]:
    """A plain-http server on ``host`` answering from a fresh :class:`Script`."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def handle(self) -> None:
            with script.lock:
                script.connections += 1
            super().handle()

        def do_GET(self) -> None:
            answer = script.next_answer(self.path)
            if answer.hang_up:
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body[: len(answer.body) // 2] if answer.truncate else answer.body)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield script, httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[tuple[Script, int]]:
    with serve() as running:
        yield running


FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.3)
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}).encode()


def oci_client(port: int) -> OciRegistryClient:
    return OciRegistryClient(ImageReference(f"127.0.0.1:{port}", "app", "1", None), "registry:app", retry=FAST)


def test_oci_client_retries_a_503_then_succeeds(server: tuple[Script, int]) -> None:
    script, port = server
    script.answers["/v2/app/manifests/1"] = [Answer(503), Answer(200, MANIFEST)]
    with oci_client(port) as client:
        body, _, digest = client.get_manifest("1")
    assert body == MANIFEST and digest == "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
    assert len(script.hits("/v2/app/manifests/1")) == 2


def test_oci_client_honours_retry_after_within_its_cap(server: tuple[Script, int]) -> None:
    script, port = server
    script.answers["/v2/app/manifests/1"] = [Answer(429, headers=(("Retry-After", "30"),)), Answer(200, MANIFEST)]
    started = time.monotonic()
    with oci_client(port) as client:
        client.get_manifest("1")
    first, second = script.hits("/v2/app/manifests/1")
    assert second - first >= FAST.max_delay - 0.01  # waited for the server (capped), not the 0.01 s backoff
    assert time.monotonic() - started < 5  # and not the 30 s it asked for


def test_oci_client_gives_up_with_the_same_messages(server: tuple[Script, int]) -> None:
    script, port = server
    script.answers["/v2/app/manifests/1"] = [Answer(503)]
    with (
        oci_client(port) as client,
        pytest.raises(NetworkError, match=r"manifest: registry keeps failing \(503 after 3"),
    ):
        client.get_manifest("1")
    assert len(script.hits("/v2/app/manifests/1")) == 3
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with oci_client(closed) as client, pytest.raises(NetworkError) as caught:
        client.get_manifest("1")
    assert str(caught.value) == f"registry:app: cannot reach 127.0.0.1:{closed}: connection refused (after 3 attempts)"


def test_oci_blob_download_starts_over_after_a_dropped_connection(server: tuple[Script, int], tmp_path: Path) -> None:
    script, port = server
    blob = b"layer bytes " * 1000
    digest = Digest("sha256:" + hashlib.sha256(blob).hexdigest())
    script.answers[f"/v2/app/blobs/{digest}"] = [Answer(200, blob, truncate=True), Answer(200, blob)]
    with oci_client(port) as client:
        client.download_blob(digest, len(blob), tmp_path / "blob")
    assert (tmp_path / "blob").read_bytes() == blob
    assert len(script.hits(f"/v2/app/blobs/{digest}")) == 2
    script.answers[f"/v2/app/blobs/{digest}"] = [Answer(200, blob, truncate=True)]
    with oci_client(port) as client, pytest.raises(NetworkError, match=r"blob sha256:.*: download failed"):
        client.download_blob(digest, len(blob), tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_oci_client_does_not_retry_tls_failures() -> None:
    # 127.0.0.2 is loopback, but not one of the names the client speaks plain http to, so it
    # tries https against a plain-http server: a real handshake failure that a retry would repeat
    with serve("127.0.0.2") as (script, port):
        script.answers["/v2/app/manifests/1"] = [Answer(200, MANIFEST)]
        ref = ImageReference(f"127.0.0.2:{port}", "app", "1", None)
        with OciRegistryClient(ref, "registry:app", retry=FAST) as client, pytest.raises(NetworkError) as caught:
            client.get_manifest("1")
        assert str(caught.value).startswith(f"registry:app: TLS handshake with 127.0.0.2:{port} failed (")
        assert script.connections == 1 and script.log == []
        # --insecure-registry falls back to plain http at once, and that switch is not a retry
        once = RetryPolicy(attempts=1)
        with OciRegistryClient(ref, "registry:app", insecure=True, retry=once) as client:
            assert client.get_manifest("1")[0] == MANIFEST
            assert client.base_url == f"http://127.0.0.2:{port}"
        assert script.connections == 3 and len(script.log) == 1


def test_package_registry_client_retries_a_503_then_succeeds(server: tuple[Script, int], tmp_path: Path) -> None:
    script, port = server
    page = json.dumps({"meta": {"api-version": "1.0"}, "name": "tidy", "files": []}).encode()
    script.answers["/simple/tidy/"] = [Answer(503), Answer(200, page, (("Content-Type", "application/json"),))]
    with PackageRegistryClient(
        pypi_url=f"http://127.0.0.1:{port}/simple", cache_dir=tmp_path, use_cache=False, backoff=0.01
    ) as client:
        project = client.pypi_project("Tidy")
        assert project is not None and project.name == "tidy"
        assert len(script.hits("/simple/tidy/")) == 2
        script.answers["/simple/tidy/"] = [Answer(502)]
        with pytest.raises(RegistryClientError, match=r"/simple/tidy/: HTTP 502$"):
            client.pypi_project("tidy")
    assert len(script.hits("/simple/tidy/")) == 2 + 3  # retries=2: three attempts


def package_client(port: int, tmp_path: Path, retries: int = 2) -> PackageRegistryClient:
    return PackageRegistryClient(
        pypi_url=f"http://127.0.0.1:{port}/simple", cache_dir=tmp_path, use_cache=False, retries=retries, backoff=0.01
    )


def test_package_download_starts_over_after_a_hang_up_a_503_and_a_cut_body(
    server: tuple[Script, int], tmp_path: Path
) -> None:
    script, port = server
    tarball = b"package bytes " * 5000
    path = "/files/tidy-1.0.tar.gz"
    script.answers[path] = [
        Answer(200, hang_up=True),
        Answer(503),
        Answer(200, tarball, truncate=True),
        Answer(200, tarball),
    ]
    url = f"http://127.0.0.1:{port}{path}"
    with package_client(port, tmp_path, retries=3) as client:
        got = client.download(url, tmp_path / "out" / "tidy-1.0.tar.gz", sha256=hashlib.sha256(tarball).hexdigest())
    assert got.read_bytes() == tarball
    assert len(script.hits(path)) == 4
    assert sorted(p.name for p in got.parent.iterdir()) == ["tidy-1.0.tar.gz"]  # no .part left over


def test_package_download_gives_up_after_its_attempts_and_leaves_nothing(
    server: tuple[Script, int], tmp_path: Path
) -> None:
    script, port = server
    path = "/files/tidy-1.0.tar.gz"
    url = f"http://127.0.0.1:{port}{path}"
    script.answers[path] = [Answer(200, b"x" * 10_000, truncate=True)]
    with package_client(port, tmp_path) as client, pytest.raises(RegistryClientError, match="RemoteProtocolError"):
        client.download(url, tmp_path / "out" / "a.tgz")
    assert len(script.hits(path)) == 3  # retries=2: three attempts, not nine
    script.answers[path] = [Answer(503)]
    with package_client(port, tmp_path) as client, pytest.raises(RegistryClientError, match=r": HTTP 503$"):
        client.download(url, tmp_path / "out" / "b.tgz")
    assert len(script.hits(path)) == 3 + 3
    script.answers[path] = [Answer(404)]
    with package_client(port, tmp_path) as client, pytest.raises(RegistryClientError, match=r": HTTP 404$"):
        client.download(url, tmp_path / "out" / "c.tgz")
    assert len(script.hits(path)) == 3 + 3 + 1  # not transient: asked once
    assert list((tmp_path / "out").iterdir()) == []
