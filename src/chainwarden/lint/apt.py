"""APT sources and keys: one-line ``*.list``, deb822 ``*.sources``, trusted keys, apt.conf.

The same entry checks run on files in a repository, inside an image
(``/etc/apt``), and on ``echo "deb …" > /etc/apt/sources.list.d/x.list`` lines
of a Dockerfile ``RUN``, so a third-party repository is judged the same way
wherever it is declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chainwarden.lint.base import Edit, Hit, LintContext, LintFile, url_host
from chainwarden.models import Severity

#: Hosts of the distributions' own archives, security and snapshot mirrors.
OFFICIAL_HOSTS = frozenset(
    {
        "deb.debian.org",
        "security.debian.org",
        "snapshot.debian.org",
        "archive.debian.org",
        "http.debian.net",
        "archive.ubuntu.com",
        "security.ubuntu.com",
        "ports.ubuntu.com",
        "snapshot.ubuntu.com",
        "old-releases.ubuntu.com",
    }
)
_OFFICIAL_SUFFIXES = (".debian.org", ".archive.ubuntu.com")
#: Official mirrors known to serve the same content over https (``--fix``).
HTTPS_CAPABLE = frozenset({"deb.debian.org"})
#: Keyrings the distribution itself drops into trusted.gpg.d.
_DISTRO_KEY = re.compile(r"^(debian-archive-|ubuntu-keyring-|ubuntu-archive-|ubuntu-cloudimage-|debian-ports-)")

_ONE_LINE = re.compile(r"^\s*(deb|deb-src)\s+(?:\[([^\]]*)\]\s*)?(\S+)(?:\s+(.*))?$")


def is_official(uri: str) -> bool:
    host = url_host(uri)
    return host in OFFICIAL_HOSTS or host.endswith(_OFFICIAL_SUFFIXES)


@dataclass(slots=True)
class AptEntry:
    """One repository declaration, whatever its syntax."""

    uris: list[str]
    options: dict[str, str] = field(default_factory=dict)  # lower-case keys: trusted, signed-by
    line: int = 1
    column: int = 1
    text: str = ""
    uri_positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)
    suites: str = ""


def is_local(uri: str) -> bool:
    """``file:``, ``copy:`` and ``cdrom:`` repositories are read from the machine itself: no one on a
    network path can answer for them (typically packages built earlier in the same image build)."""
    return uri.lower().startswith(("file:", "copy:", "cdrom:"))


def parse_one_line(text: str, line: int = 1, column: int = 1) -> AptEntry | None:
    """``deb [signed-by=/k.gpg trusted=yes] http://host/path suite comp`` → entry."""
    match = _ONE_LINE.match(text)
    if match is None:
        return None
    options: dict[str, str] = {}
    for option in (match.group(2) or "").split():
        key, _, value = option.partition("=")
        options[key.lower()] = value
    uri = match.group(3)
    entry = AptEntry([uri], options, line, column, text.strip(), suites=match.group(4) or "")
    entry.uri_positions[uri] = (line, column + match.start(3))
    return entry


def parse_deb822(text: str) -> list[AptEntry]:
    """Paragraphs of a ``*.sources`` file; disabled ones (``Enabled: no``) are skipped."""
    entries: list[AptEntry] = []
    fields: dict[str, tuple[str, int]] = {}
    key: str | None = None

    def flush() -> None:
        if "uris" in fields and fields.get("enabled", ("yes", 0))[0].strip().lower() != "no":
            uris_text, uris_line = fields["uris"]
            first_line = min(line for _, line in fields.values())
            options = {k: v.strip() for k, (v, _) in fields.items() if k in ("signed-by", "trusted")}
            entry = AptEntry(uris_text.split(), options, first_line, 1, uris_text.strip())
            entry.option_lines = {k: line for k, (_, line) in fields.items()}
            entry.suites = fields.get("suites", ("", 0))[0].strip()
            lines = text.splitlines()
            for uri in entry.uris:
                source_line = lines[uris_line - 1] if uris_line - 1 < len(lines) else ""
                entry.uri_positions[uri] = (uris_line, source_line.find(uri) + 1 or 1)
            entries.append(entry)
        fields.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            continue
        if not raw.strip():
            flush()
            key = None
            continue
        if raw[0] in " \t" and key is not None:
            value, line = fields[key]
            fields[key] = (value + "\n" + raw.strip(), line)
            continue
        name, sep, value = raw.partition(":")
        if sep:
            key = name.strip().lower()
            fields[key] = (value.strip(), number)
    flush()
    return entries


def check_entry(entry: AptEntry, anchor_lines: tuple[int, ...] = (), *, fixable: bool = True) -> list[Hit]:
    """Findings about one repository declaration."""
    hits: list[Hit] = []
    trusted = entry.options.get("trusted", "").lower() in ("yes", "true")
    signed_by = entry.options.get("signed-by", "")
    for uri in entry.uris:
        line, column = entry.uri_positions.get(uri, (entry.line, entry.column))
        official = is_official(uri)
        if trusted:
            trusted_line = entry.option_lines.get("trusted", entry.line)
            local = is_local(uri)
            hits.append(
                Hit(
                    "apt-trusted-yes",
                    trusted_line,
                    None,
                    entry.text,
                    detail=f"{uri} (a local repository: nothing is fetched from a network)" if local else uri,
                    severity=Severity.INFO if local else None,
                    anchor_lines=anchor_lines,
                )
            )
        if uri.lower().startswith("http://"):
            edit = None
            if fixable and url_host(uri) in HTTPS_CAPABLE:
                edit = Edit(line, column, uri[:7], "https://", f"{uri}: http → https")
            hits.append(
                Hit(
                    "package-repo-http",
                    line,
                    column,
                    entry.text,
                    detail=uri,
                    severity=Severity.INFO if official and not trusted else None,
                    anchor_lines=anchor_lines,
                    edit=edit,
                )
            )
        if not official and not uri.startswith(("file:", "cdrom:", "copy:")):
            key = signed_by.splitlines()[0] if signed_by else ""
            if signed_by.lstrip().startswith("-----BEGIN"):
                key = "inline key in Signed-By"
            hits.append(
                Hit(
                    "apt-third-party-source",
                    line,
                    column,
                    entry.text,
                    detail=f"{url_host(uri) or uri} (key: {key or 'any key in trusted.gpg.d'})",
                    anchor_lines=anchor_lines,
                )
            )
            if not signed_by and not trusted:
                hits.append(
                    Hit(
                        "apt-source-without-signed-by",
                        line,
                        column,
                        entry.text,
                        detail=url_host(uri) or uri,
                        anchor_lines=anchor_lines,
                    )
                )
    return hits


def lint_list_text(text: str, *, line_offset: int = 0, fixable: bool = True) -> list[Hit]:
    hits: list[Hit] = []
    for number, raw in enumerate(text.splitlines(), start=1 + line_offset):
        entry = parse_one_line(raw, number)
        if entry is not None:
            hits.extend(check_entry(entry, fixable=fixable))
    return hits


def lint_apt_list(file: LintFile, ctx: LintContext) -> list[Hit]:
    return lint_list_text(file.text)


def lint_apt_sources(file: LintFile, ctx: LintContext) -> list[Hit]:
    hits: list[Hit] = []
    for entry in parse_deb822(file.text):
        hits.extend(check_entry(entry))
    return hits


def is_distro_key(name: str) -> bool:
    return bool(_DISTRO_KEY.match(name))


def lint_trusted_key(file: LintFile, ctx: LintContext) -> list[Hit]:
    name = file.path.rsplit("/", 1)[-1]
    if is_distro_key(name):
        return []
    return [Hit("apt-trusted-gpg-key", None, None, file.display, detail=name)]


_APT_CONF = re.compile(
    r"""(?ix)
    (?P<key>APT::Get::AllowUnauthenticated|Acquire::AllowInsecureRepositories|Acquire::AllowDowngradeToInsecureRepositories
       |Acquire::https(?:::[\w.-]+)?::Verify-(?:Peer|Host)|APT::Get::force-yes)
    \s*"?(?P<value>[^";\s]*)"?""",
)


def lint_apt_conf(file: LintFile, ctx: LintContext) -> list[Hit]:
    hits: list[Hit] = []
    for number, raw in enumerate(file.text.splitlines(), start=1):
        if raw.lstrip().startswith(("//", "#")):
            continue
        for match in _APT_CONF.finditer(raw):
            key, value = match.group("key"), match.group("value").lower()
            if "verify" in key.lower():
                if value in ("false", "no", "0"):
                    hits.append(Hit("tls-verification-disabled", number, match.start() + 1, raw.strip(), detail=key))
            elif value in ("true", "yes", "1"):
                hits.append(Hit("package-signature-check-disabled", number, match.start() + 1, raw.strip(), detail=key))
    return hits
