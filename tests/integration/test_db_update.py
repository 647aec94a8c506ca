"""``chainwarden db update`` against a real HTTP server on 127.0.0.1 serving OSV-style exports."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from chainwarden.errors import NetworkError
from chainwarden.vulndb import open_database
from chainwarden.vulndb.osv_import import download_export, export_url

pytestmark = pytest.mark.integration


def export(*records: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


def record(vuln_id: str, ecosystem: str, name: str) -> dict[str, Any]:
    return {
        "id": vuln_id,
        "modified": "2024-06-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }


@dataclass
class Behaviour:
    """What the server answers for each path; recorded requests."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    chunked: set[str] = field(default_factory=set)  # send without Content-Length
    declared_length: dict[str, int] = field(default_factory=dict)  # lie about the length
    delay: float = 0.0
    #: per path, failures to give before the body: "503", or "cut" (half the body, then hang up)
    failures: dict[str, list[str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hangs up on purpose in some tests (size cap, timeout)


@pytest.fixture
def server() -> Iterator[tuple[str, Behaviour]]:
    behaviour = Behaviour()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            behaviour.requests.append(self.path)
            if behaviour.delay:
                time.sleep(behaviour.delay)
            body = behaviour.bodies.get(self.path)
            failures = behaviour.failures.get(self.path)
            if body is not None and failures:
                failure = failures.pop(0)
                self.send_response(503 if failure == "503" else 200)
                self.send_header("Content-Length", "0" if failure == "503" else str(len(body)))
                self.end_headers()
                if failure == "cut":
                    self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            if self.path in behaviour.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 4096):
                    chunk = body[start : start + 4096]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(behaviour.declared_length.get(self.path, len(body))))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/osv", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def serve_all(behaviour: Behaviour) -> None:
    behaviour.bodies["/osv/PyPI/all.zip"] = export(record("PYSEC-1", "PyPI", "Demo"), record("GHSA-1", "PyPI", "demo"))
    behaviour.bodies["/osv/npm/all.zip"] = export(record("GHSA-2", "npm", "left-pad"))
    behaviour.bodies["/osv/Debian/all.zip"] = export(
        record("DSA-1-1", "Debian:12", "openssl"), record("DLA-1-1", "Debian:11", "openssl")
    )


def test_update_downloads_every_ecosystem(
    server: tuple[str, Behaviour], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, behaviour = server
    serve_all(behaviour)
    behaviour.chunked.add("/osv/npm/all.zip")  # streaming without a declared length works too
    db_path = tmp_path / "osv.sqlite3"
    assert main(["db", "update", "--url-base", base, "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert f"imported 2 records from {base}/PyPI/all.zip (download)" in out
    assert sorted(behaviour.requests) == ["/osv/Debian/all.zip", "/osv/PyPI/all.zip", "/osv/npm/all.zip"]
    with open_database(db_path) as db:
        status = db.status()
    assert {e.ecosystem: e.records for e in status.ecosystems} == {"Debian:11": 1, "Debian:12": 1, "PyPI": 2, "npm": 1}
    assert [s.location for s in status.sources] == [f"{base}/{eco}/all.zip" for eco in ("Debian", "PyPI", "npm")]

    # a second update replaces each download's records (a record gone upstream disappears)
    behaviour.bodies["/osv/PyPI/all.zip"] = export(record("PYSEC-1", "PyPI", "Demo"))
    assert main(["db", "update", "-e", "pypi", "--url-base", base, "--db", str(db_path)]) == 0
    with open_database(db_path) as db:
        assert db.ids() == ["DLA-1-1", "DSA-1-1", "GHSA-2", "PYSEC-1"]


def test_failed_download_leaves_the_database(
    server: tuple[str, Behaviour], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, behaviour = server
    serve_all(behaviour)
    db_path = tmp_path / "osv.sqlite3"
    assert main(["db", "update", "-e", "PyPI", "--url-base", base, "--db", str(db_path)]) == 0
    before = db_path.read_bytes()
    del behaviour.bodies["/osv/npm/all.zip"]
    capsys.readouterr()
    assert main(["db", "update", "--url-base", base, "--db", str(db_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"chainwarden: error: {base}/npm/all.zip: HTTP 404 Not Found"
    assert db_path.read_bytes() == before

    behaviour.bodies["/osv/npm/all.zip"] = b"<html>captive portal</html>"
    assert main(["db", "update", "--url-base", base, "--db", str(db_path)]) == 2
    assert "the download is not a zip archive" in capsys.readouterr().err
    assert db_path.read_bytes() == before


def test_transient_failures_start_the_download_over(
    server: tuple[str, Behaviour], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, behaviour = server
    serve_all(behaviour)
    behaviour.failures["/osv/PyPI/all.zip"] = ["503", "cut"]
    db_path = tmp_path / "osv.sqlite3"
    assert main(["db", "update", "-e", "PyPI", "--url-base", base, "--db", str(db_path)]) == 0
    assert behaviour.requests == ["/osv/PyPI/all.zip"] * 3
    with open_database(db_path) as db:
        assert db.ids() == ["GHSA-1", "PYSEC-1"]
    before = db_path.read_bytes()
    behaviour.failures["/osv/PyPI/all.zip"] = ["503"] * 3
    capsys.readouterr()
    assert main(["db", "update", "-e", "PyPI", "--url-base", base, "--db", str(db_path)]) == 2
    assert capsys.readouterr().err.strip() == f"chainwarden: error: {base}/PyPI/all.zip: HTTP 503 Service Unavailable"
    assert len(behaviour.requests) == 3 + 3
    assert db_path.read_bytes() == before


def test_size_cap_declared_and_streamed(server: tuple[str, Behaviour], tmp_path: Path) -> None:
    base, behaviour = server
    behaviour.bodies["/osv/PyPI/all.zip"] = b"x" * 50_000
    url = export_url("PyPI", base)
    with pytest.raises(NetworkError, match="50000 bytes is more than the 10000-byte limit"):
        download_export(url, tmp_path / "a.zip", max_bytes=10_000)
    behaviour.chunked.add("/osv/PyPI/all.zip")
    with pytest.raises(NetworkError, match="more than the 10000-byte limit"):
        download_export(url, tmp_path / "b.zip", max_bytes=10_000)
    assert download_export(url, tmp_path / "c.zip", max_bytes=60_000) == 50_000


def test_network_failures_are_one_line_errors(
    server: tuple[str, Behaviour], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, behaviour = server
    serve_all(behaviour)
    behaviour.delay = 3.0
    code = main(
        ["db", "update", "-e", "PyPI", "--url-base", base, "--timeout", "1", "--db", str(tmp_path / "a.sqlite3")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "ReadTimeout" in err
    assert err.count("\n") == 1

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    code = main(
        [
            "db",
            "update",
            "-e",
            "npm",
            "--url-base",
            f"http://127.0.0.1:{closed_port}",
            "--db",
            str(tmp_path / "b.sqlite3"),
        ]
    )
    assert code == 2
    assert "ConnectError" in capsys.readouterr().err
    assert not (tmp_path / "b.sqlite3").exists()
