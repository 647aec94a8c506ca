"""Sigstore trusted roots (protobuf-specs ``TrustedRoot`` JSON).

chainwarden ships the public-good instance's ``trusted_root.json`` as package
data (``chainwarden/data/sigstore/``, see its README for source and date) so
that verification never needs the network; ``--trusted-root FILE`` replaces it
(a private Sigstore, or the conformance suite's custom roots).

Only what chainwarden's own verifier needs is parsed here: the transparency
log keys with their validity windows. The whole document is kept as text for
sigstore-python, which checks the Fulcio chain, SCTs and timestamps of keyless
bundles against the same root.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from chainwarden._internal.files import read_bounded
from chainwarden.errors import SigningError
from chainwarden.signing.keys import PublicKey

MAX_TRUSTED_ROOT = 4 * 1024 * 1024
_MEDIA_PREFIX = "application/vnd.dev.sigstore.trustedroot"


@dataclass(frozen=True, slots=True)
class LogKey:
    """One transparency log's key: its id (sha256 of the DER key), validity and origin URL."""

    log_id: bytes
    key: PublicKey
    base_url: str
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None

    def valid_at(self, when: datetime.datetime) -> bool:
        # TimeRange is a closed interval (protobuf-specs sigstore_common.proto)
        return self.valid_from <= when and (self.valid_until is None or when <= self.valid_until)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A Fulcio CA or a timestamp authority: its chain (leaf or intermediate first, root last) and validity."""

    certificates: tuple[x509.Certificate, ...]
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None

    def valid_at(self, when: datetime.datetime) -> bool:
        return self.valid_from <= when and (self.valid_until is None or when <= self.valid_until)


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    """A parsed trusted root; ``text`` is the document as read, ``source`` where it came from."""

    text: str
    source: str
    tlogs: tuple[LogKey, ...]
    ctlogs: tuple[LogKey, ...] = ()
    certificate_authorities: tuple[CertificateAuthority, ...] = ()
    timestamp_authorities: tuple[CertificateAuthority, ...] = ()

    def tlog(self, log_id: bytes) -> LogKey | None:
        return next((log for log in self.tlogs if log.log_id == log_id), None)

    def ctlog(self, log_id: bytes) -> LogKey | None:
        return next((log for log in self.ctlogs if log.log_id == log_id), None)


#: The public-good instance's TUF repository, where ``trusted_root.json`` is published.
TUF_URL = "https://tuf-repo-cdn.sigstore.dev"
TRUSTED_ROOT_TARGET = "trusted_root.json"


def user_trusted_root_dir() -> Path:
    """Where ``chainwarden data trust-root`` keeps the refreshed root (and its TUF metadata)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("chainwarden")) / "sigstore"


def default_trusted_root() -> TrustedRoot:
    """The refreshed public-good root when ``data trust-root`` fetched one, else the bundled copy."""
    refreshed = user_trusted_root_dir() / TRUSTED_ROOT_TARGET
    if refreshed.is_file():
        return load_trusted_root(refreshed)
    data = resources.files("chainwarden").joinpath("data/sigstore/trusted_root.json").read_bytes()
    return parse_trusted_root(data, "bundled public-good trusted_root.json")


def refresh_trusted_root(dest: Path | None = None, *, url: str = TUF_URL, bootstrap: bytes | None = None) -> Path:
    """Fetch the current ``trusted_root.json`` through TUF (python-tuf's client) into ``dest``.

    The TUF root chain starts from ``bootstrap`` (default: the repository's
    root.json shipped with chainwarden, ``data/sigstore/tuf-root.json``) or the
    metadata a previous refresh left in ``dest/tuf``; every role's signatures,
    versions and expiry, and the target's length and hashes, are checked by
    the TUF client before the file is parsed and moved into place.
    """
    from tuf.api.exceptions import DownloadError, RepositoryError
    from tuf.ngclient import Updater

    from chainwarden._internal.cachefile import write_bytes_atomically
    from chainwarden.errors import NetworkError

    dest = dest or user_trusted_root_dir()
    metadata = dest / "tuf"
    targets = dest / "targets"
    try:
        metadata.mkdir(parents=True, exist_ok=True)
        targets.mkdir(parents=True, exist_ok=True)
        root_file = metadata / "root.json"
        if bootstrap is None and not root_file.is_file():
            bootstrap = resources.files("chainwarden").joinpath("data/sigstore/tuf-root.json").read_bytes()
        if bootstrap is not None:
            root_file.write_bytes(bootstrap)
        updater = Updater(
            str(metadata),
            url.rstrip("/") + "/",
            target_dir=str(targets),
            target_base_url=url.rstrip("/") + "/targets/",
            bootstrap=root_file.read_bytes(),
        )
        updater.refresh()
        info = updater.get_targetinfo(TRUSTED_ROOT_TARGET)
        if info is None:
            raise SigningError(f"{url}: the TUF repository has no {TRUSTED_ROOT_TARGET} target")
        path = updater.find_cached_target(info) or updater.download_target(info)
        data = Path(path).read_bytes()
    except DownloadError as exc:
        raise NetworkError(f"{url}: cannot fetch TUF metadata or targets ({type(exc).__name__}: {exc})") from exc
    except RepositoryError as exc:
        raise SigningError(f"{url}: TUF verification failed ({type(exc).__name__}: {exc})") from exc
    except OSError as exc:
        raise SigningError(f"{dest}: cannot write ({exc.strerror})") from exc
    parse_trusted_root(data, f"{url} {TRUSTED_ROOT_TARGET}")
    final = dest / TRUSTED_ROOT_TARGET
    if not write_bytes_atomically(final, data):
        raise SigningError(f"{final}: cannot write")
    return final


def load_trusted_root(path: Path | None) -> TrustedRoot:
    """``path`` parsed, or the bundled public-good root when None."""
    if path is None:
        return default_trusted_root()
    return parse_trusted_root(read_bounded(path, MAX_TRUSTED_ROOT, SigningError, "trusted root"), str(path))


def parse_trusted_root(data: bytes, where: str) -> TrustedRoot:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningError(f"{where}: trusted root is not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise SigningError(f"{where}: trusted root is not a JSON object")
    media_type = document.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(_MEDIA_PREFIX):
        raise SigningError(f"{where}: mediaType {media_type!r} is not a Sigstore trusted root")
    lists = {}
    for name in ("tlogs", "ctlogs", "certificateAuthorities", "timestampAuthorities"):
        value = document.get(name, [])
        if not isinstance(value, list):
            raise SigningError(f"{where}: {name} is not a list")
        lists[name] = value
    return TrustedRoot(
        data.decode(),
        where,
        tuple(_log_key(entry, f"{where}: tlogs", i) for i, entry in enumerate(lists["tlogs"])),
        tuple(_log_key(entry, f"{where}: ctlogs", i) for i, entry in enumerate(lists["ctlogs"])),
        tuple(
            _authority(entry, f"{where}: certificateAuthorities", i)
            for i, entry in enumerate(lists["certificateAuthorities"])
        ),
        tuple(
            _authority(entry, f"{where}: timestampAuthorities", i)
            for i, entry in enumerate(lists["timestampAuthorities"])
        ),
    )


def _authority(entry: object, where: str, index: int) -> CertificateAuthority:
    label = f"{where}[{index}]"
    chain = entry.get("certChain") if isinstance(entry, dict) else None
    certificates = chain.get("certificates") if isinstance(chain, dict) else None
    if not isinstance(entry, dict) or not isinstance(certificates, list) or not certificates:
        raise SigningError(f"{label}: lacks certChain.certificates")
    try:
        parsed = tuple(
            x509.load_der_x509_certificate(base64.b64decode(str(item.get("rawBytes", "")), validate=True))
            for item in certificates
            if isinstance(item, dict)
        )
    except (binascii.Error, ValueError) as exc:
        raise SigningError(f"{label}: malformed certificate") from exc
    valid = entry.get("validFor")
    if not isinstance(valid, dict) or "start" not in valid:
        raise SigningError(f"{label}: validFor.start is missing")
    start = parse_time(valid["start"], f"{label}.validFor.start")
    end = parse_time(valid["end"], f"{label}.validFor.end") if valid.get("end") is not None else None
    return CertificateAuthority(parsed, start, end)


def _log_key(entry: object, where: str, index: int) -> LogKey:
    label = f"{where}[{index}]"
    if not isinstance(entry, dict):
        raise SigningError(f"{label} is not an object")
    public = entry.get("publicKey")
    log_id = entry.get("logId")
    if not isinstance(public, dict) or not isinstance(log_id, dict):
        raise SigningError(f"{label}: lacks publicKey or logId")
    try:
        raw = base64.b64decode(str(public.get("rawBytes", "")), validate=True)
        key_id = base64.b64decode(str(log_id.get("keyId", "")), validate=True)
        key = serialization.load_der_public_key(raw)
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{label}: malformed public key or log id") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise SigningError(f"{label}: unsupported key type")
    valid = public.get("validFor")
    if not isinstance(valid, dict) or "start" not in valid:
        # protobuf-specs: a log key without a validity start cannot be placed in time
        raise SigningError(f"{label}: publicKey.validFor.start is missing")
    start = parse_time(valid["start"], f"{label}.validFor.start")
    end = parse_time(valid["end"], f"{label}.validFor.end") if valid.get("end") is not None else None
    if not key_id:
        raise SigningError(f"{label}: empty log id")
    base_url = entry.get("baseUrl")
    return LogKey(key_id, key, base_url if isinstance(base_url, str) else "", start, end)


def parse_time(value: object, what: str) -> datetime.datetime:
    """An RFC 3339 timestamp (protobuf JSON ``Timestamp``) as an aware datetime."""
    if not isinstance(value, str):
        raise SigningError(f"{what}: not a timestamp")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SigningError(f"{what}: {value!r} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed
