"""APT signing-key audit: which OpenPGP key each APT source trusts, and what is wrong with it.

For every source (one-line ``*.list`` and deb822 ``*.sources``, parsed by
:mod:`chainwarden.lint.apt`) the trusted keys are found — the ``signed-by`` file or
inline key, else *every* key in the global ``trusted.gpg`` and ``trusted.gpg.d`` — and
read with the system's ``gpg --show-keys --with-colons`` (GnuPG's field-tested parser,
with a throw-away home directory: nothing is imported anywhere). Findings:

- ``apt-key-weak`` — DSA keys, RSA keys under 2048 bits (primary or signing subkey);
- ``apt-key-expired`` — the primary key, or every signing-capable key, has expired;
- ``apt-key-global-third-party`` — a third-party source trusts the global keyrings, so
  any key there (and that vendor's key for any source) can sign its packages;
- ``apt-key-shared`` — one key is trusted for sources of unrelated hosts;
- ``apt-key-missing`` — a ``signed-by`` file that is not there (apt would refuse the source).
"""

from __future__ import annotations

import datetime
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chainwarden.errors import UsageError
from chainwarden.lint.apt import AptEntry, is_distro_key, is_local, is_official, parse_deb822, parse_one_line
from chainwarden.lint.base import url_host
from chainwarden.models import Finding, Location, RuleId, Severity

GPG = "gpg"
GPG_TIMEOUT = 30
MAX_KEY_FILE = 1024 * 1024
#: OpenPGP public-key algorithm ids (RFC 4880 §9.1, RFC 9580 §9.1)
ALGORITHMS = {
    1: "RSA",
    2: "RSA",
    3: "RSA",
    16: "Elgamal",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    22: "EdDSA",
    27: "Ed25519",
    28: "Ed448",
}
GLOBAL_KEYRINGS = ("/etc/apt/trusted.gpg",)
GLOBAL_KEY_DIR = "/etc/apt/trusted.gpg.d"
SOURCE_LIST = "/etc/apt/sources.list"
SOURCE_DIR = "/etc/apt/sources.list.d"
#: where a repository (rather than an image) keeps APT files, matched by path suffix
RULES = {
    "apt-key-weak": Severity.HIGH,
    "apt-key-expired": Severity.HIGH,
    "apt-key-global-third-party": Severity.MEDIUM,
    "apt-key-shared": Severity.MEDIUM,
    "apt-key-missing": Severity.MEDIUM,
}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One OpenPGP public key as GnuPG reads it."""

    fingerprint: str
    algorithm: str
    bits: int
    curve: str | None
    created: datetime.date | None
    expires: datetime.date | None
    uids: tuple[str, ...]
    file: str  # the keyring it came from
    signing_subkeys: tuple[tuple[str, int, datetime.date | None], ...]  # (algorithm, bits, expires)

    @property
    def owner(self) -> str:
        return self.uids[0] if self.uids else f"key {self.fingerprint[-16:]}"

    def weakness(self) -> str | None:
        for algorithm, bits, label in [(self.algorithm, self.bits, "primary key")] + [
            (a, b, "signing subkey") for a, b, _ in self.signing_subkeys
        ]:
            if algorithm == "DSA":
                return f"{label} is DSA-{bits} (DSA is deprecated for OpenPGP signatures)"
            if algorithm == "RSA" and bits < 2048:
                return f"{label} is RSA-{bits} (< 2048 bits)"
        return None

    def expired(self, today: datetime.date) -> str | None:
        if self.expires is not None and self.expires <= today:
            return f"expired on {self.expires.isoformat()}"
        if self.signing_subkeys and all(e is not None and e <= today for _, _, e in self.signing_subkeys):
            last = max(e for _, _, e in self.signing_subkeys if e is not None)
            return f"every signing subkey expired (last on {last.isoformat()})"
        return None


@dataclass(frozen=True, slots=True)
class AptSource:
    file: str
    line: int
    uri: str
    suites: str
    official: bool
    trust: str  # "signed-by" | "global" | "trusted=yes" | "local"
    key_files: tuple[str, ...]
    keys: tuple[KeyInfo, ...]
    missing: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return url_host(self.uri) or self.uri

    @property
    def owners(self) -> str:
        return "; ".join(dict.fromkeys(key.owner for key in self.keys)) or "-"


@dataclass(frozen=True, slots=True)
class AptKeyReport:
    sources: tuple[AptSource, ...]
    keys: tuple[KeyInfo, ...]
    findings: tuple[Finding, ...]

    def third_party(self) -> list[AptSource]:
        return [s for s in self.sources if not s.official and s.trust != "local"]


# -- gpg ----------------------------------------------------------------------------------------


def _date(value: str) -> datetime.date | None:
    if not value:
        return None
    if value.isdigit():
        return datetime.datetime.fromtimestamp(int(value), datetime.UTC).date()
    try:  # ISO 8601 basic format, used by some gpg builds
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


@dataclass
class _Building:
    algorithm: str
    bits: int
    curve: str | None
    created: datetime.date | None
    expires: datetime.date | None
    uids: list[str] = field(default_factory=list)
    subkeys: list[tuple[str, int, datetime.date | None]] = field(default_factory=list)
    fingerprint: str = ""


def _algorithm(field_text: str) -> str:
    return ALGORITHMS.get(int(field_text) if field_text.isdigit() else -1, f"algorithm {field_text}")


def parse_colons(text: str, file: str) -> list[KeyInfo]:
    """Keys from ``gpg --with-colons`` output (doc/DETAILS of GnuPG)."""
    keys: list[KeyInfo] = []
    current: _Building | None = None
    fingerprint_of_primary = False

    def flush() -> None:
        if current is not None and current.fingerprint:
            keys.append(
                KeyInfo(
                    current.fingerprint,
                    current.algorithm,
                    current.bits,
                    current.curve,
                    current.created,
                    current.expires,
                    tuple(current.uids),
                    file,
                    tuple(current.subkeys),
                )
            )

    for line in text.splitlines():
        fields = line.split(":")
        record = fields[0]
        if record == "pub" and len(fields) > 11:
            flush()
            current = _Building(
                _algorithm(fields[3]),
                int(fields[2]) if fields[2].isdigit() else 0,
                (fields[16] if len(fields) > 16 else "") or None,
                _date(fields[5]),
                _date(fields[6]),
            )
            fingerprint_of_primary = True
        elif record == "sub" and current is not None and len(fields) > 11:
            if "s" in fields[11] and fields[1] != "r":  # a signing-capable, unrevoked subkey
                bits = int(fields[2]) if fields[2].isdigit() else 0
                current.subkeys.append((_algorithm(fields[3]), bits, _date(fields[6])))
            fingerprint_of_primary = False
        elif record == "fpr" and current is not None and fingerprint_of_primary and len(fields) > 9:
            current.fingerprint = fields[9]
            fingerprint_of_primary = False
        elif (
            record == "uid" and current is not None and len(fields) > 9 and fields[1] != "r"
        ):  # revoked user IDs name no one
            current.uids.append(_unescape(fields[9]))
    flush()
    return keys


def _unescape(text: str) -> str:
    """GnuPG escapes ``:`` and control characters in colon listings as ``\\xNN``."""
    out = bytearray()
    index = 0
    raw = text.encode("utf-8", "surrogateescape")
    while index < len(raw):
        if raw[index : index + 2] == b"\\x" and index + 4 <= len(raw):
            try:
                out.append(int(raw[index + 2 : index + 4], 16))
                index += 4
                continue
            except ValueError:
                pass
        out.append(raw[index])
        index += 1
    return out.decode("utf-8", "replace")


def read_keys(data: bytes, file: str) -> list[KeyInfo]:
    """Every key in a keyring file (binary or ASCII-armoured), read by ``gpg --show-keys``."""
    if shutil.which(GPG) is None:
        raise UsageError("the APT key audit needs gpg (apt-get install gpg)")
    with tempfile.TemporaryDirectory(prefix="chainwarden-gpg-") as home:
        keyring = Path(home) / "keyring"
        keyring.write_bytes(data)
        try:
            result = subprocess.run(
                [GPG, "--batch", "--no-options", "--homedir", home, "--with-colons", "--fixed-list-mode",
                 "--show-keys", str(keyring)],
                capture_output=True,
                timeout=GPG_TIMEOUT,
                check=False,
                env={**os.environ, "LC_ALL": "C", "GNUPGHOME": home},
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise UsageError(f"{file}: gpg took longer than {GPG_TIMEOUT} s") from exc
        finally:
            # gpg-agent may have been started for the throw-away home: stop it with the directory
            subprocess.run(
                ["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False, timeout=10
            )
    return parse_colons(result.stdout.decode("utf-8", "replace"), file)


# -- the audit ------------------------------------------------------------------------------------


def _registrable(host: str) -> str:
    """``download.docker.com`` → ``docker.com``: sources of one vendor share a key legitimately."""
    parts = host.lower().split(".")
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in ("co", "com", "org", "net", "ac", "gov"):
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def audit(
    files: Mapping[str, bytes],
    *,
    today: datetime.date | None = None,
    key_reader: Callable[[bytes, str], list[KeyInfo]] = read_keys,
) -> AptKeyReport:
    """Audit APT sources and keys given as ``{absolute path: content}`` (an image's or a tree's /etc/apt…)."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    cache: dict[str, list[KeyInfo]] = {}

    def keys_of(path: str) -> list[KeyInfo]:
        if path not in cache:
            cache[path] = key_reader(files[path][:MAX_KEY_FILE], path)
        return cache[path]

    global_paths = sorted(
        p
        for p in files
        if p in GLOBAL_KEYRINGS or (posixpath.dirname(p) == GLOBAL_KEY_DIR and p.endswith((".gpg", ".asc")))
    )
    entries: list[tuple[str, AptEntry]] = []
    for path in sorted(files):
        text = files[path].decode("utf-8", "replace")
        if path == SOURCE_LIST or (posixpath.dirname(path) == SOURCE_DIR and path.endswith(".list")):
            for number, raw in enumerate(text.splitlines(), 1):
                entry = parse_one_line(raw, number)
                if entry is not None:
                    entries.append((path, entry))
        elif posixpath.dirname(path) == SOURCE_DIR and path.endswith(".sources"):
            entries.extend((path, entry) for entry in parse_deb822(text))
    sources: list[AptSource] = []
    findings: list[Finding] = []
    for path, entry in entries:
        signed_by = entry.options.get("signed-by", "").strip()
        trusted = entry.options.get("trusted", "").lower() in ("yes", "true")
        for uri in entry.uris:
            line = entry.uri_positions.get(uri, (entry.line, 1))[0]
            official = is_official(uri)
            key_files: list[str] = []
            keys: list[KeyInfo] = []
            missing: list[str] = []
            if is_local(uri):
                trust = "local"
            elif trusted:
                trust = "trusted=yes"  # lint's apt-trusted-yes reports it
            elif signed_by.startswith("-----BEGIN"):
                trust = "signed-by"
                key_files.append(f"{path}: inline Signed-By")
                keys.extend(key_reader(signed_by.encode(), f"{path}: inline Signed-By"))
            elif signed_by:
                trust = "signed-by"
                for item in signed_by.replace(",", " ").split():
                    if len(item) >= 16 and all(c in "0123456789abcdefABCDEF!" for c in item):
                        # a fingerprint: the key must be in the global keyrings
                        wanted = item.rstrip("!").upper()
                        key_files.extend(global_paths)
                        keys.extend(k for g in global_paths for k in keys_of(g) if k.fingerprint.endswith(wanted))
                    elif item in files:
                        key_files.append(item)
                        keys.extend(keys_of(item))
                    else:
                        missing.append(item)
            else:
                trust = "global"
                key_files.extend(global_paths)
                keys.extend(k for g in global_paths for k in keys_of(g))
            source = AptSource(
                path, line, uri, entry.suites, official, trust, tuple(key_files), tuple(keys), tuple(missing)
            )
            sources.append(source)
            where = Location(path, line=line)
            for item in missing:
                findings.append(_finding("apt-key-missing", f"{source.host}: signed-by {item} is not there", where))
            if trust == "global" and not official:
                third_party_keys = [k for k in keys if not is_distro_key(posixpath.basename(k.file))]
                shown = ", ".join(f"{k.owner} ({k.fingerprint[-16:]})" for k in third_party_keys[:3]) or "none yet"
                findings.append(
                    _finding(
                        "apt-key-global-third-party",
                        f"{source.host} trusts every key in trusted.gpg(.d) (third-party keys there: {shown})",
                        where,
                        remediation=f"put the vendor key in /etc/apt/keyrings/ and add signed-by= to {source.host}",
                    )
                )
    keys_by_fpr: dict[str, KeyInfo] = {}
    for path in sorted({p for s in sources for p in s.key_files if p in files} | set(global_paths)):
        for key in keys_of(path):
            keys_by_fpr.setdefault(key.fingerprint, key)
    for source in sources:
        for key in source.keys:
            keys_by_fpr.setdefault(key.fingerprint, key)
    for key in sorted(keys_by_fpr.values(), key=lambda k: k.fingerprint):
        where = Location(key.file)
        users = sorted({s.host for s in sources if any(k.fingerprint == key.fingerprint for k in s.keys)})
        weak = key.weakness()
        if weak:
            findings.append(_finding("apt-key-weak", f"{key.owner} ({key.fingerprint}): {weak}", where, users))
        expired = key.expired(today)
        if expired:
            findings.append(_finding("apt-key-expired", f"{key.owner} ({key.fingerprint}): {expired}", where, users))
        explicit = sorted(
            {
                s.host
                for s in sources
                if s.trust == "signed-by" and any(k.fingerprint == key.fingerprint for k in s.keys)
            }
        )
        vendors = {_registrable(host) for host in explicit}
        if len(vendors) > 1:
            findings.append(
                _finding(
                    "apt-key-shared",
                    f"{key.owner} ({key.fingerprint}) is trusted for unrelated sources: {', '.join(explicit)}",
                    where,
                    explicit,
                )
            )
    return AptKeyReport(tuple(sources), tuple(keys_by_fpr.values()), tuple(findings))


def _finding(
    rule: str, title: str, where: Location, users: Iterable[str] = (), remediation: str | None = None
) -> Finding:
    evidence = tuple(f"trusted for {host}" for host in users)
    return Finding(RuleId(rule), RULES[rule], title, location=where, evidence=evidence, remediation=remediation)


def wanted(path: str) -> bool:
    """Image paths the audit reads: /etc/apt and the usual keyring directories."""
    return path.startswith(("/etc/apt/", "/usr/share/keyrings/", "/etc/apt/keyrings/"))


def files_from_tree(root: Path) -> dict[str, bytes]:
    """``{absolute path: content}`` for a root filesystem, or a repository that holds an ``etc/apt`` tree."""
    found: dict[str, bytes] = {}
    for prefix in ("etc/apt", "usr/share/keyrings"):
        base = root / prefix
        if not base.is_dir():
            continue
        for directory, _, names in os.walk(base):
            for name in names:
                path = Path(directory) / name
                if path.is_file() and path.stat().st_size <= MAX_KEY_FILE:
                    found["/" + path.relative_to(root).as_posix()] = path.read_bytes()
    return found
