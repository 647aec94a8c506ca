"""yum/dnf/zypper repositories and apk's repository list: the APT rules' counterparts.

Files: ``*.repo`` (``/etc/yum.repos.d``, ``/etc/zypp/repos.d``: INI sections with
``baseurl``/``mirrorlist``/``metalink``, ``gpgcheck``, ``repo_gpgcheck``, ``gpgkey``,
``sslverify``), ``dnf.conf``/``yum.conf`` (the ``[main]`` defaults every repository
inherits) and ``/etc/apk/repositories`` (one URL per line, ``@tag`` prefixes). The same
checks run on those files in a repository, inside an image, and on the lines a
Dockerfile ``RUN`` writes into them; :func:`command_hits` judges ``dnf``/``yum``/
``zypper``/``rpm`` command lines (``--setopt=gpgcheck=0``, ``config-manager
--add-repo http://…``, ``zypper addrepo``, ``rpm --import http://…``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chainwarden.lint.base import Hit, LintContext, LintFile, is_http, url_host
from chainwarden.models import Severity

KINDS = frozenset({"yum-repo", "dnf-conf", "apk-repositories"})

#: Hosts of the distributions' own repositories (and their mirror directors).
OFFICIAL_RPM_HOSTS = frozenset(
    {
        "mirrors.fedoraproject.org",
        "download.fedoraproject.org",
        "dl.fedoraproject.org",
        "cdn.redhat.com",
        "cdn-ubi.redhat.com",
        "mirrors.rockylinux.org",
        "dl.rockylinux.org",
        "repo.almalinux.org",
        "mirrors.almalinux.org",
        "vault.almalinux.org",
        "mirrorlist.centos.org",
        "mirror.centos.org",
        "vault.centos.org",
        "mirror.stream.centos.org",
        "download.opensuse.org",
        "cdn.opensuse.org",
        "updates.suse.com",
        "cdn.amazonlinux.com",
        "amazonlinux-2-repos-us-east-1.s3.dualstack.us-east-1.amazonaws.com",
        "yum.oracle.com",
    }
)
_OFFICIAL_RPM_SUFFIXES = (
    ".fedoraproject.org",
    ".redhat.com",
    ".rockylinux.org",
    ".almalinux.org",
    ".opensuse.org",
    ".centos.org",
    ".suse.com",
)
OFFICIAL_APK_HOSTS = frozenset({"dl-cdn.alpinelinux.org", "dl-2.alpinelinux.org", "dl-4.alpinelinux.org"})
_URL_KEYS = ("baseurl", "mirrorlist", "metalink")
_FALSE = frozenset({"0", "false", "no", "off"})
_REPO_DIRS = ("/etc/yum.repos.d/", "/etc/zypp/repos.d/", "/etc/distro.repos.d/")
_DNF_CONF = re.compile(r"^/etc/(dnf/dnf\.conf|yum\.conf|yum/yum\.conf)$")
APK_REPOSITORIES = "/etc/apk/repositories"


def is_official_rpm(url: str) -> bool:
    host = url_host(url)
    return host in OFFICIAL_RPM_HOSTS or host.endswith(_OFFICIAL_RPM_SUFFIXES)


def written_kind(path: str) -> str | None:
    """The kind of file a Dockerfile ``RUN`` writes at ``path`` (absolute inside the image), if linted here."""
    normalized = posixpath.normpath("/" + path.lstrip("/"))
    if normalized.startswith(_REPO_DIRS) and normalized.endswith(".repo"):
        return "yum-repo"
    if _DNF_CONF.match(normalized):
        return "dnf-conf"
    if normalized == APK_REPOSITORIES:
        return "apk-repositories"
    return None


def classify(path: str) -> str | None:
    """The kind of a file found in a repository or image (``path`` absolute inside it)."""
    name = posixpath.basename(path)
    if name.endswith(".repo") and len(name) > 5:
        return "yum-repo"
    if name in ("dnf.conf", "yum.conf"):
        return "dnf-conf"
    if name == "repositories" and posixpath.basename(posixpath.dirname(path)) == "apk":
        return "apk-repositories"
    return None


@dataclass(slots=True)
class RepoSection:
    name: str
    line: int
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def flag(self, key: str, inherited: dict[str, str]) -> str | None:
        value = self.values.get(key, inherited.get(key))
        return value.strip().lower() if value is not None else None


def parse_ini(text: str) -> list[RepoSection]:
    """INI sections as dnf's libdnf and zypper read them (``key=value``, ``#``/``;`` comments,
    indented continuation lines append to the previous value). Lines before any section
    header land in an unnamed section (a fragment a Dockerfile appends)."""
    sections = [RepoSection("", 1)]
    key: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.append(RepoSection(stripped[1:-1].strip(), number))
            key = None
            continue
        if raw[:1] in (" ", "\t") and key is not None:
            current = sections[-1]
            current.values[key] += "\n" + stripped
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            continue
        key = name.strip().lower()
        sections[-1].values[key] = value.strip()
        sections[-1].lines[key] = number
    return [s for s in sections if s.values]


def _urls(value: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value) if "://" in part]


def lint_repo_text(text: str, kind: str = "yum-repo", inherited: dict[str, str] | None = None) -> list[Hit]:
    """Hits of a ``.repo`` or ``dnf.conf`` text (line numbers relative to ``text``)."""
    hits: list[Hit] = []
    defaults = dict(inherited or {})
    source_lines = text.splitlines()
    for section in parse_ini(text):
        is_main = section.name.lower() == "main" or kind == "dnf-conf"
        label = section.name or ("[main]" if kind == "dnf-conf" else "repository")
        values = section.values

        def evidence(key: str, section: RepoSection = section) -> str:
            number = section.lines.get(key, section.line)
            return source_lines[number - 1].strip() if 0 < number <= len(source_lines) else key

        for key in ("gpgcheck", "pkg_gpgcheck"):
            if values.get(key, "").strip().lower() in _FALSE:
                hits.append(Hit("rpm-repo-gpgcheck-disabled", section.lines[key], None, evidence(key), detail=label))
        if values.get("sslverify", "").strip().lower() in _FALSE:
            line = section.lines["sslverify"]
            hits.append(Hit("rpm-repo-sslverify-disabled", line, None, evidence("sslverify"), detail=label))
        for key in _URL_KEYS:
            for url in _urls(values.get(key, "")):
                if is_http(url):
                    severity = Severity.INFO if is_official_rpm(url) else None
                    hits.append(
                        Hit(
                            "package-repo-http",
                            section.lines[key],
                            None,
                            evidence(key),
                            detail=url,
                            severity=severity,
                        )
                    )
        for url in _urls(values.get("gpgkey", "")):
            if is_http(url):
                hits.append(
                    Hit("package-signing-key-over-http", section.lines["gpgkey"], None, evidence("gpgkey"), url)
                )
        if is_main:
            continue
        urls = [url for key in _URL_KEYS for url in _urls(values.get(key, ""))]
        if not urls or values.get("enabled", "1").strip().lower() in _FALSE:
            continue
        third_party = [url for url in urls if not is_official_rpm(url) and not url.startswith("file:")]
        if not third_party:
            continue
        host = url_host(third_party[0]) or third_party[0]
        key_text = values.get("gpgkey", "").strip()
        url_key = next(k for k in _URL_KEYS if values.get(k))
        hits.append(
            Hit(
                "rpm-third-party-repo",
                section.lines[url_key],
                None,
                evidence(url_key),
                detail=f"[{section.name}] {host} (key: {key_text.split()[0] if key_text else 'any imported key'})",
            )
        )
        gpgcheck = section.flag("gpgcheck", defaults)
        if not key_text and gpgcheck not in _FALSE:
            hits.append(
                Hit(
                    "rpm-repo-without-gpgkey",
                    section.line,
                    None,
                    f"[{section.name}]",
                    detail=f"[{section.name}] {host}",
                )
            )
    return hits


def lint_apk_repositories_text(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        url = line.split()[-1]
        if url.startswith("@"):
            continue
        if is_http(url):
            official = url_host(url) in OFFICIAL_APK_HOSTS or url_host(url).endswith(".alpinelinux.org")
            hits.append(
                Hit("package-repo-http", number, None, line, detail=url, severity=Severity.INFO if official else None)
            )
        if "://" in url and not (url_host(url) in OFFICIAL_APK_HOSTS or url_host(url).endswith(".alpinelinux.org")):
            hits.append(Hit("apk-third-party-repository", number, None, line, detail=url_host(url) or url))
    return hits


def lint_text(kind: str, text: str) -> list[Hit]:
    """Hits of a file of ``kind`` written with ``text`` (a Dockerfile RUN, or a file's body)."""
    if kind == "apk-repositories":
        return lint_apk_repositories_text(text)
    return lint_repo_text(text, kind)


def _main_defaults(ctx: LintContext) -> dict[str, str]:
    """``[main]`` of dnf.conf/yum.conf: repositories inherit its gpgcheck."""
    for path in ("/etc/dnf/dnf.conf", "/etc/yum.conf"):
        text = ctx.read_text(path)
        if text:
            for section in parse_ini(text):
                if section.name.lower() == "main":
                    return section.values
    return {}


def lint_yum_repo(file: LintFile, ctx: LintContext) -> list[Hit]:
    return lint_repo_text(file.text, "yum-repo", _main_defaults(ctx) if ctx.is_image else None)


def lint_dnf_conf(file: LintFile, ctx: LintContext) -> list[Hit]:
    return lint_repo_text(file.text, "dnf-conf")


def lint_apk_repositories(file: LintFile, ctx: LintContext) -> list[Hit]:
    return lint_apk_repositories_text(file.text)


# -- command lines -----------------------------------------------------------------------------------

_SETOPT = re.compile(r"^(?:--setopt=)?(?:[^=]*\.)?(gpgcheck|repo_gpgcheck|pkg_gpgcheck|sslverify)=(.*)$", re.I)


def command_hits(args: Sequence[str]) -> list[tuple[str, int, str]]:
    """(rule id, index into ``args``, detail) for a ``dnf``/``yum``/``microdnf``/``zypper``/``rpm`` argv."""
    if not args:
        return []
    tool = posixpath.basename(args[0])
    hits: list[tuple[str, int, str]] = []
    for index, arg in enumerate(args[1:], 1):
        option = arg
        if arg == "--setopt" and index + 1 < len(args):
            continue  # the value is judged as its own word next
        match = _SETOPT.match(option)
        if match and (args[index - 1] == "--setopt" or arg.startswith("--setopt=")):
            key, value = match.group(1).lower(), match.group(2).strip().lower()
            if value in _FALSE:
                rule = "rpm-repo-sslverify-disabled" if key == "sslverify" else "rpm-repo-gpgcheck-disabled"
                hits.append((rule, index, f"{tool} {arg}"))
        if tool == "zypper" and arg == "--gpg-auto-import-keys":
            hits.append(("zypper-auto-import-keys", index, f"{tool} {arg}"))
    positional = [(i, a) for i, a in enumerate(args[1:], 1) if not a.startswith("-")]
    words = [a for _, a in positional]
    urls = [(i, a) for i, a in positional if "://" in a]
    adds_repo = (tool in ("dnf", "yum", "dnf5") and words[:1] == ["config-manager"] and "--add-repo" in args) or (
        tool in ("yum-config-manager",) and "--add-repo" in args
    )
    if tool == "zypper" and words[:1] in (["ar"], ["addrepo"]):
        adds_repo = True
    if adds_repo:
        for index, url in urls:
            if is_http(url):
                hits.append(("package-repo-http", index, url))
            if not is_official_rpm(url):
                hits.append(("rpm-third-party-repo", index, f"{url_host(url) or url} (added by {tool})"))
    if tool == "rpm" and "--import" in args:
        for index, url in urls:
            if is_http(url):
                hits.append(("package-signing-key-over-http", index, url))
    return hits
