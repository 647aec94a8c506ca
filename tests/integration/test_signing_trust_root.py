"""`chainwarden data trust-root` through a real TUF repository served on 127.0.0.1.

The repository is made here with python-tuf's metadata API (root, targets,
snapshot, timestamp, each signed with its own ECDSA key) and serves the bundled
public-good ``trusted_root.json`` as its target. The client must take it; a
target whose bytes differ from what targets.json says, and metadata signed by
a key the root does not know, must be refused.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp

from chainwarden.cli import main
from chainwarden.errors import SigningError
from chainwarden.signing.trustroot import load_trusted_root, refresh_trusted_root

pytestmark = pytest.mark.integration

BUNDLED = Path(__file__).resolve().parents[2] / "src/chainwarden/data/sigstore/trusted_root.json"


class Repository:
    def __init__(self, root: Path) -> None:
        self.dir = root
        (root / "targets").mkdir(parents=True)
        self.signers = {role: CryptoSigner.generate_ecdsa() for role in ("root", "targets", "snapshot", "timestamp")}
        expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=7)
        root_md = Metadata(Root(expires=expires))
        for role, signer in self.signers.items():
            root_md.signed.add_key(signer.public_key, role)
        self.root = root_md
        self.expires = expires

    def publish(
        self, target: bytes, *, targets_signer: CryptoSigner | None = None, declared: bytes | None = None
    ) -> None:
        declared = target if declared is None else declared
        name = "trusted_root.json"
        digest = hashlib.sha256(declared).hexdigest()
        (self.dir / "targets" / f"{digest}.{name}").write_bytes(target)
        targets = Metadata(Targets(expires=self.expires))
        targets.signed.targets[name] = TargetFile.from_data(name, declared, ["sha256"])
        snapshot = Metadata(Snapshot(expires=self.expires))
        snapshot.signed.meta["targets.json"] = MetaFile(version=1)
        timestamp = Metadata(Timestamp(expires=self.expires))
        timestamp.signed.snapshot_meta = MetaFile(version=1)
        self.root.sign(self.signers["root"])
        targets.sign(targets_signer or self.signers["targets"])
        snapshot.sign(self.signers["snapshot"])
        timestamp.sign(self.signers["timestamp"])
        self.root.to_file(str(self.dir / "1.root.json"))
        targets.to_file(str(self.dir / "1.targets.json"))
        snapshot.to_file(str(self.dir / "1.snapshot.json"))
        timestamp.to_file(str(self.dir / "timestamp.json"))

    def root_bytes(self) -> bytes:
        return (self.dir / "1.root.json").read_bytes()


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[Repository, str]]:
    repo = Repository(tmp_path / "repo")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(repo.dir)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield repo, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refresh_fetches_the_target_through_tuf(repository: tuple[Repository, str], tmp_path: Path) -> None:
    repo, url = repository
    repo.publish(BUNDLED.read_bytes())
    path = refresh_trusted_root(tmp_path / "out", url=url, bootstrap=repo.root_bytes())
    assert path.read_bytes() == BUNDLED.read_bytes()
    assert len(load_trusted_root(path).tlogs) >= 1


def test_refresh_refuses_a_target_that_differs_from_targets_json(
    repository: tuple[Repository, str], tmp_path: Path
) -> None:
    repo, url = repository
    genuine = BUNDLED.read_bytes()
    repo.publish(genuine.replace(b"rekor.sigstore.dev", b"rekor.evil.example"), declared=genuine)
    with pytest.raises(SigningError, match="TUF verification failed"):
        refresh_trusted_root(tmp_path / "out", url=url, bootstrap=repo.root_bytes())
    assert not (tmp_path / "out" / "trusted_root.json").exists()


def test_refresh_refuses_metadata_signed_by_an_unknown_key(repository: tuple[Repository, str], tmp_path: Path) -> None:
    repo, url = repository
    repo.publish(BUNDLED.read_bytes(), targets_signer=CryptoSigner.generate_ecdsa())
    with pytest.raises(SigningError, match="TUF verification failed"):
        refresh_trusted_root(tmp_path / "out", url=url, bootstrap=repo.root_bytes())


def test_cli_trust_root_unreachable_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from integration.registry_server import free_port

    code = main(["data", "trust-root", "--tuf-url", f"http://127.0.0.1:{free_port()}", "--dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("chainwarden: error: ")
