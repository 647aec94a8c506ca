"""The rule registry: one :class:`Rule` per id, with its rationale, fix and examples.

Rule ids are kebab-case and stable (they appear in configs, ignore comments
and SARIF baselines). Every rule carries a failing and a passing example; the
test-suite lints both for every registered rule, and ``docs/rules.md`` is
generated from this table (``tasks/gen_rules_doc.py``), so documentation,
examples and behaviour cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chainwarden.models import Severity
from chainwarden.report.interface import RuleInfo

#: Where the generated rule reference lives in the repository.
DOCS_PATH = "docs/rules.md"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str  # one line, what is wrong
    severity: Severity
    rationale: str  # why it matters: the threat it enables
    fix: str  # the concrete remediation
    category: str  # "Dockerfile", "Python", "npm", "APT"
    bad: Mapping[str, str]  # files (path → content) of a failing example
    good: Mapping[str, str]  # the same, fixed
    config: Mapping[str, Any] = field(default_factory=dict)  # chainwarden.toml tables the example needs
    hadolint: tuple[str, ...] = ()  # hadolint rules that cover (part of) the same ground

    @property
    def name(self) -> str:
        return "".join(part.capitalize() for part in self.id.split("-"))

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            name=self.name,
            short_description=self.title,
            help_text=f"{self.rationale}\n\nFix: {self.fix}",
            default_severity=self.severity,
            help_uri=None,
        )


_RULES: dict[str, Rule] = {}


def _rule(
    rule_id: str,
    title: str,
    severity: Severity,
    category: str,
    rationale: str,
    fix: str,
    bad: Mapping[str, str],
    good: Mapping[str, str],
    *,
    config: Mapping[str, Any] | None = None,
    hadolint: tuple[str, ...] = (),
) -> None:
    assert rule_id not in _RULES, rule_id
    _RULES[rule_id] = Rule(rule_id, title, severity, rationale, fix, category, bad, good, dict(config or {}), hadolint)


D = "Dockerfile"
_SIGNED_VENDOR = "deb [signed-by=/etc/apt/keyrings/example.gpg] https://apt.example.com stable main\n"
H, M, L, C, INFO = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL, Severity.INFO

# -- Dockerfile: base images, downloads ----------------------------------------------------------------
_rule(
    "dockerfile-unpinned-base",
    "Base image not pinned by digest",
    M,
    D,
    "Tags are mutable: whoever controls the registry or the tag (a compromised publisher account, a typo-squatted "
    "namespace, a registry mirror) can change what `FROM` pulls without any change in your repository, and "
    "rebuilds silently pick it up.",
    "Pin by digest and keep the tag for readers: `FROM python:3.12-slim@sha256:<digest>` "
    "(`docker buildx imagetools inspect python:3.12-slim` prints it); let a bot bump it.",
    {D: "ARG BASE=python:3.12-slim\nFROM ${BASE} AS build\nFROM build\n"},
    {D: "ARG BASE=python:3.12-slim@sha256:" + "a" * 64 + "\nFROM ${BASE} AS build\nFROM build\n"},
    hadolint=("DL3006", "DL3007"),
)
_rule(
    "dockerfile-curl-pipe-shell",
    "Downloaded script piped straight into an interpreter",
    H,
    D,
    "`curl … | sh` runs whatever the server (or anyone on the path, or whoever took over the domain) sends at "
    "build time, with no chance to verify it; a truncated download even runs half a script.",
    "Download to a file, verify a pinned checksum or signature, then run it: "
    '`curl -fsSLo install.sh URL && echo "<sha256>  install.sh" | sha256sum -c - && sh install.sh`.',
    {D: "FROM alpine@sha256:" + "b" * 64 + '\nRUN bash -c "$(curl -fsSL https://get.example.com/install.sh)"\n'},
    {
        D: "FROM alpine@sha256:" + "b" * 64 + "\nRUN curl -fsSLo install.sh https://get.example.com/install.sh \\\n"
        ' && echo "' + "c" * 64 + '  install.sh" | sha256sum -c - \\\n && sh install.sh\n'
    },
)
_rule(
    "dockerfile-download-unverified",
    "Downloaded artifact executed or installed without verification",
    H,
    D,
    "A binary, archive or package fetched over the network and unpacked, installed or run before a checksum "
    "or signature check of that file trusts the server, the CDN and the domain forever; a compromised release "
    "page (Codecov bash uploader, 2021) ships straight into the image. The file is followed from download to "
    "use across the stage's RUNs (PowerShell included); a check counts when its failure stops the build "
    "before the use (`&&`, `set -e`, `if … else exit 1`, `|| exit 1`, `-ne … { exit 1 }`). A URL pinned to a "
    "git commit is medium: its content is fixed, but nothing checks the bytes.",
    "Verify the file before use and make failure stop the build: "
    '`echo "<sha256>  app.tgz" | sha256sum -c -`, `gpg --verify`, `cosign verify-blob`, `minisign -Vm`, '
    "`rpm -K` after importing a pinned key; on Windows `if ((Get-FileHash f).Hash -ne $sha) { exit 1 }`.",
    {
        D: "FROM debian@sha256:"
        + "d" * 64
        + "\nRUN <<EOF\ncurl -fsSLo /tmp/go.tgz https://go.dev/dl/go1.22.4.linux-amd64.tar.gz\n"
        "tar -C /usr/local -xzf /tmp/go.tgz\nEOF\n"
    },
    {
        D: "FROM debian@sha256:"
        + "d" * 64
        + "\nRUN <<EOF\nset -e\ncurl -fsSLo /tmp/go.tgz https://go.dev/dl/go1.22.4.linux-amd64.tar.gz\n"
        'echo "' + "e" * 64 + '  /tmp/go.tgz" | sha256sum -c -\ntar -C /usr/local -xzf /tmp/go.tgz\nEOF\n'
    },
)
_rule(
    "dockerfile-add-url-without-checksum",
    "ADD of a remote URL without --checksum",
    M,
    D,
    "`ADD https://…` fetches whatever the URL serves at build time; without `--checksum` a changed or "
    "hijacked file is accepted silently.",
    "Add `--checksum=sha256:<digest>` (BuildKit ≥ 1.6), or pin git sources to a full commit "
    "(`ADD https://github.com/o/r.git#<40-hex sha>`).",
    {D: "FROM scratch\nADD https://example.com/tool-1.2.tar.gz /opt/\n"},
    {D: "FROM scratch\nADD --checksum=sha256:" + "f" * 64 + " https://example.com/tool-1.2.tar.gz /opt/\n"},
)
_rule(
    "dockerfile-add-local",
    "ADD used for local files",
    L,
    D,
    "`ADD` auto-extracts archives and fetches URLs; for plain files that magic is a trap: a file swapped for a "
    "tarball in the build context is unpacked into the image instead of copied.",
    "Use `COPY` for files and directories; keep `ADD` for archives you mean to extract.",
    {D: "FROM scratch\nADD app.py /app/\n"},
    {D: "FROM scratch\nCOPY app.py /app/\nADD rootfs.tar.gz /\n"},
    hadolint=("DL3020",),
)
_rule(
    "dockerfile-secret-in-env-or-arg",
    "Secret in ENV or ARG",
    H,
    D,
    "ENV values are stored in the image config and ARG values in its history: anyone who can pull the image "
    "(every registry mirror, every cache) reads the credential (`docker history --no-trunc`).",
    "Use build secrets: `RUN --mount=type=secret,id=npm_token NPM_TOKEN=$(cat /run/secrets/npm_token) npm ci`, "
    "and runtime secrets from the orchestrator; rotate any secret that was committed.",
    {D: "FROM alpine@sha256:" + "1" * 64 + "\nENV API_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\nUSER app\n"},
    {D: "FROM alpine@sha256:" + "1" * 64 + "\nENV API_KEY_FILE=/run/secrets/api_key\nUSER app\n"},
)
_rule(
    "dockerfile-parse-error",
    "Dockerfile does not parse as BuildKit reads it",
    M,
    D,
    "An unterminated heredoc swallows the rest of the file, a continuation on the last line joins nothing, an "
    "invalid `# escape=` directive is ignored: what is built is not what reviewers (or this linter) read. An "
    "unterminated heredoc is high: every instruction after it went unchecked.",
    "Close the heredoc with its delimiter alone on a line, drop the trailing escape character, and use `\\` or "
    "a backtick in `# escape=`.",
    {D: "FROM debian@sha256:" + "7" * 64 + "\nRUN <<EOF\napt-get update\nUSER 1000\n"},
    {D: "FROM debian@sha256:" + "7" * 64 + "\nRUN <<EOF\napt-get update\nEOF\nUSER 1000\n"},
)
_rule(
    "dockerfile-root-user",
    "Final stage runs as root",
    M,
    D,
    "A container that runs as root turns any code execution (a malicious dependency's runtime payload, an RCE) "
    "into root inside the container and, with a kernel or runtime escape, on the host. Low, with the reason, "
    "when the image visibly drops privileges at start-up (its entrypoint script uses gosu, su-exec or setpriv, "
    "or the image installs one and has an ENTRYPOINT): only the entrypoint runs as root.",
    "Create an unprivileged user and switch to it last: `RUN useradd -r -u 10001 app` then `USER 10001`.",
    {D: "FROM python:3.12-slim@sha256:" + "2" * 64 + "\nUSER app\nRUN echo hi\nUSER root\n"},
    {D: "FROM python:3.12-slim@sha256:" + "2" * 64 + "\nUSER root\nRUN echo hi\nUSER 10001:10001\n"},
    hadolint=("DL3002",),
)
_rule(
    "dockerfile-build-tools-in-final-stage",
    "Compilers and build tools in the final image",
    L,
    D,
    "Compilers, `make` and `-dev` headers in the runtime image let an attacker who gets a foothold build "
    "exploits and native payloads in place, and add packages (and CVEs) nothing needs at run time.",
    "Build in an earlier stage and `COPY --from=build` only the artifacts, or remove the tools in the same RUN "
    "(`apk add --virtual .build-deps gcc … && apk del .build-deps`).",
    {
        D: "FROM debian:12@sha256:"
        + "3" * 64
        + "\nRUN apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libpq-dev=15.6-0\nUSER 1000\n"
    },
    {
        D: "FROM debian:12@sha256:"
        + "3" * 64
        + " AS build\nRUN apt-get install -y --no-install-recommends gcc=4:12.2.0-3\n"
        "FROM debian:12@sha256:" + "3" * 64 + "\nCOPY --from=build /out /app\nUSER 1000\n"
    },
)
_rule(
    "dockerfile-pipe-without-pipefail",
    "RUN pipe without pipefail",
    L,
    D,
    "`/bin/sh -c` returns the status of the last command of a pipe: a failed `curl` in `curl … | tar x` is "
    "ignored and the build continues with a missing or truncated artifact (or an HTML error page). Pipes that "
    "cannot hide a failure are not reported: fed only by `echo`/`printf`, or ending in `sha256sum -c`, which "
    "fails on missing input.",
    'Start the stage with `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` or begin the RUN with `set -o pipefail &&`.',
    {
        D: "FROM debian@sha256:"
        + "4" * 64
        + "\nRUN curl -fsSL https://example.com/k.asc | gpg --dearmor -o /usr/share/keyrings/k.gpg\n"
    },
    {
        D: "FROM debian@sha256:" + "4" * 64 + '\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
        "RUN curl -fsSL https://example.com/k.asc | gpg --dearmor -o /usr/share/keyrings/k.gpg\n"
    },
    hadolint=("DL4006",),
)
_rule(
    "dockerfile-curl-and-wget",
    "Both curl and wget used",
    INFO,
    D,
    "Two downloaders mean two sets of TLS, redirect and proxy behaviours (and config files such as `.wgetrc`, "
    "`.curlrc`) to audit for verification, and one more tool in the image for an attacker to use.",
    "Standardise on one downloader per Dockerfile.",
    {
        D: "FROM debian@sha256:"
        + "5" * 64
        + "\nRUN curl -fsSLo a.txt https://example.com/a.txt\nRUN wget https://example.com/b.txt\n"
    },
    {
        D: "FROM debian@sha256:"
        + "5" * 64
        + "\nRUN curl -fsSLo a.txt https://example.com/a.txt\nRUN curl -fsSLO https://example.com/b.txt\n"
    },
    hadolint=("DL4001",),
)
_rule(
    "dockerfile-sudo",
    "sudo in RUN",
    L,
    D,
    "Builds already run as root; `sudo` in an image means sudo is installed and configured at run time, a "
    "ready-made privilege-escalation path for anything that compromises the unprivileged user.",
    "Switch users with `USER` instead; drop sudo from the image.",
    {D: "FROM ubuntu@sha256:" + "6" * 64 + "\nRUN sudo apt-get update\n"},
    {D: "FROM ubuntu@sha256:" + "6" * 64 + "\nUSER root\nRUN apt-get update\n"},
    hadolint=("DL3004",),
)

# -- Dockerfile: language package installs ---------------------------------------------------------------
_rule(
    "pip-install-unpinned",
    "pip install of packages without an exact version",
    M,
    D,
    "An unpinned `pip install name` takes whatever is newest on the index at build time: a hijacked release "
    "(ctx, 2022; ultralytics, 2024) lands in the next build, and builds are not reproducible.",
    "Install from a lock: `pip install --require-hashes -r requirements.txt` (generated by `pip-compile "
    "--generate-hashes` or `uv pip compile --generate-hashes`), or at least pin `name==1.2.3`.",
    {D: "FROM python@sha256:" + "7" * 64 + "\nRUN python3 -m pip install --no-cache-dir 'flask>=2' requests\n"},
    {
        D: "FROM python@sha256:"
        + "7" * 64
        + "\nRUN python3 -m pip install --no-cache-dir flask==3.0.3 requests==2.32.3\n"
    },
    hadolint=("DL3013",),
)
_rule(
    "pip-install-without-hashes",
    "pip install -r without --require-hashes",
    L,
    D,
    "Without hash-checking mode, a requirements file is only as good as the index: a re-uploaded or "
    "substituted file with the same version installs silently, and an edit that drops one hash goes unnoticed.",
    "Generate hashes (`pip-compile --generate-hashes`, `uv pip compile --generate-hashes`) and install with "
    "`pip install --require-hashes -r requirements.txt`.",
    {D: "FROM python@sha256:" + "8" * 64 + "\nRUN pip install -r requirements.txt\n"},
    {D: "FROM python@sha256:" + "8" * 64 + "\nRUN pip install --require-hashes -r requirements.txt\n"},
)
_rule(
    "npm-install-without-lock",
    "npm install instead of npm ci",
    M,
    D,
    "`npm install` may rewrite the lockfile and resolve ranges to newer versions at build time, so the image "
    "gets packages nobody reviewed (event-stream, ua-parser-js hijacks reached users this way).",
    "Copy the lockfile and run `npm ci` (fails if package.json and the lock disagree).",
    {D: "FROM node@sha256:" + "9" * 64 + "\nCOPY package.json package-lock.json ./\nRUN npm install --omit=dev\n"},
    {D: "FROM node@sha256:" + "9" * 64 + "\nCOPY package.json package-lock.json ./\nRUN npm ci --omit=dev\n"},
)
_rule(
    "npm-install-unpinned",
    "npm/yarn/pnpm package installed without an exact version",
    M,
    D,
    "`npm install -g tool` or `yarn add pkg` without `@<exact version>` takes the latest release at build time, "
    "including a hijacked one published minutes ago.",
    "Pin exact versions (`npm install -g tool@1.2.3`), or better, declare them in package.json and use `npm ci`.",
    {D: "FROM node@sha256:" + "a" * 64 + "\nRUN npm install -g typescript @angular/cli@^17\n"},
    {D: "FROM node@sha256:" + "a" * 64 + "\nRUN npm install -g typescript@5.4.5 @angular/cli@17.3.7\n"},
    hadolint=("DL3016",),
)
_rule(
    "yarn-install-without-lock",
    "yarn install without --frozen-lockfile/--immutable",
    M,
    D,
    "Plain `yarn install` updates yarn.lock when it disagrees with package.json, resolving new versions at "
    "build time instead of failing.",
    "Use `yarn install --frozen-lockfile` (yarn 1) or `yarn install --immutable` (yarn ≥ 2).",
    {D: "FROM node@sha256:" + "b" * 64 + "\nCOPY package.json yarn.lock ./\nRUN yarn install --production\n"},
    {
        D: "FROM node@sha256:"
        + "b" * 64
        + "\nCOPY package.json yarn.lock ./\nRUN yarn install --frozen-lockfile --production\n"
    },
)
_rule(
    "pnpm-install-without-lock",
    "pnpm install without --frozen-lockfile",
    M,
    D,
    "Outside CI, `pnpm install` updates pnpm-lock.yaml when it is out of date instead of failing, so the image "
    "can contain versions nobody locked.",
    "Use `pnpm install --frozen-lockfile`.",
    {D: "FROM node@sha256:" + "c" * 64 + "\nRUN pnpm install\n"},
    {D: "FROM node@sha256:" + "c" * 64 + "\nRUN pnpm install --frozen-lockfile\n"},
)
_rule(
    "gem-install-unpinned",
    "gem install without a version",
    M,
    D,
    "`gem install name` installs the newest release at build time (rest-client and strong_password hijacks "
    "shipped that way).",
    "Pin `gem install name -v 1.2.3`, or use a Gemfile.lock with `bundle install --frozen`.",
    {D: "FROM ruby@sha256:" + "d" * 64 + "\nRUN gem install bundler\n"},
    {D: "FROM ruby@sha256:" + "d" * 64 + "\nRUN gem install bundler -v 2.5.11\n"},
)
_rule(
    "go-install-latest",
    "go install/get …@latest",
    M,
    D,
    "`@latest` (or a branch) resolves at build time to whatever was pushed last; a compromised module "
    "repository lands in the next build.",
    "Pin a version: `go install golang.org/x/tools/gopls@v0.16.1` (the Go checksum database then verifies it).",
    {D: "FROM golang@sha256:" + "e" * 64 + "\nRUN go install github.com/go-delve/delve/cmd/dlv@latest\n"},
    {D: "FROM golang@sha256:" + "e" * 64 + "\nRUN go install github.com/go-delve/delve/cmd/dlv@v1.22.1\n"},
)

# -- OS packages -------------------------------------------------------------------------------------------
_rule(
    "apt-unpinned-package",
    "apt package installed without a version",
    L,
    D,
    "Unpinned apt installs make builds irreproducible: a rebuild silently picks up different packages. "
    "Integrity still comes from the archive signature, which is why this is low severity; Debian's archive "
    "drops old versions, so pins need a snapshot mirror (snapshot.debian.org) to stay installable.",
    "Pin `name=version` (and pin the base image by digest), or build from a dated snapshot "
    "(`deb [signed-by=…] https://snapshot.debian.org/archive/debian/20240601T000000Z bookworm main`).",
    {
        D: "FROM debian@sha256:"
        + "f" * 64
        + "\nRUN apt-get update && apt-get install -y --no-install-recommends ca-certificates\n"
    },
    {
        D: "FROM debian@sha256:"
        + "f" * 64
        + "\nRUN apt-get update && apt-get install -y --no-install-recommends ca-certificates=20230311\n"
    },
    hadolint=("DL3008",),
)
_rule(
    "apk-unpinned-package",
    "apk package installed without a version",
    L,
    D,
    "Unpinned `apk add` makes builds irreproducible; Alpine keeps only current versions, so pin to the "
    "branch (`name~1.2`) or exact version and rebuild deliberately. Integrity comes from signed indexes.",
    "Pin `apk add name=1.2.3-r0` (or `name~1.2`) together with a digest-pinned base image.",
    {D: "FROM alpine@sha256:" + "0" * 64 + "\nRUN apk add --no-cache --virtual .rt curl\n"},
    {D: "FROM alpine@sha256:" + "0" * 64 + "\nRUN apk add --no-cache --virtual .rt curl=8.5.0-r0\n"},
    hadolint=("DL3018",),
)
_rule(
    "package-signature-check-disabled",
    "Package signature verification disabled",
    C,
    "APT",
    "`--allow-unauthenticated`, `--allow-insecure-repositories`, `--force-yes`, `apk --allow-untrusted`, "
    "`--nogpgcheck` install packages nobody signed: anyone on the network path or controlling the mirror "
    "chooses what runs as root in your image. When every package named is a local file (built or copied in the "
    "build, or a download checked before), the finding is info.",
    "Remove the flag and import the repository key with `signed-by` (apt) or into `/etc/apk/keys` (apk).",
    {D: "FROM debian@sha256:" + "1" * 64 + "\nRUN apt-get -o APT::Get::AllowUnauthenticated=true install -y foo=1.0\n"},
    {D: "FROM debian@sha256:" + "1" * 64 + "\nRUN apt-get install -y foo=1.0\n"},
)
_rule(
    "tls-verification-disabled",
    "TLS certificate verification disabled",
    H,
    D,
    "`curl -k`, `wget --no-check-certificate`, `strict-ssl=false`, `NODE_TLS_REJECT_UNAUTHORIZED=0`, "
    "`http.sslVerify=false` accept any certificate: a man in the middle serves the download or the package.",
    "Remove the flag; if a corporate proxy re-signs TLS, install its CA "
    "(`COPY ca.crt /usr/local/share/ca-certificates/` + `update-ca-certificates`, or `NODE_EXTRA_CA_CERTS`).",
    {D: "FROM debian@sha256:" + "2" * 64 + "\nRUN curl -fsSLko /tmp/x.txt https://example.com/x.txt\n"},
    {D: "FROM debian@sha256:" + "2" * 64 + "\nRUN curl -fsSLo /tmp/x.txt https://example.com/x.txt\n"},
)
_rule(
    "apt-key-add",
    "apt-key add (key trusted for every repository)",
    M,
    "APT",
    "`apt-key add` puts a third-party key in the global keyring, so that vendor can sign packages that "
    "replace *any* package from *any* repository, including libc from Debian. apt-key is deprecated for this.",
    "Store the key in `/etc/apt/keyrings/vendor.gpg` and reference it only from that repository: "
    "`deb [signed-by=/etc/apt/keyrings/vendor.gpg] https://…`.",
    {D: "FROM debian@sha256:" + "3" * 64 + "\nRUN curl -fsSL https://example.com/key.asc | apt-key add -\n"},
    {
        D: "FROM debian@sha256:"
        + "3" * 64
        + "\nRUN curl -fsSLo /etc/apt/keyrings/example.asc https://example.com/key.asc\n"
    },
)
_rule(
    "apt-ppa",
    "Ubuntu PPA added",
    M,
    "APT",
    "A PPA is a third-party archive run by one Launchpad account; its key is trusted for every package name, "
    "so it can replace distribution packages, and its owner (or whoever takes over the account) ships to you.",
    "Prefer the distribution's packages or a vendor's signed repository with `signed-by`; if you keep the PPA, "
    "pin its packages with an apt preferences file.",
    {D: "FROM ubuntu@sha256:" + "4" * 64 + "\nRUN add-apt-repository -y ppa:deadsnakes/ppa\n"},
    {D: "FROM ubuntu@sha256:" + "4" * 64 + "\nRUN apt-get install -y python3=3.12.3-1\n"},
)

# -- APT sources files --------------------------------------------------------------------------------------
A = "APT"
_rule(
    "apt-trusted-yes",
    "APT repository marked trusted=yes",
    C,
    A,
    "`[trusted=yes]` disables signature checks for the repository: whoever can answer for that URL (mirror, "
    "DNS, network) installs arbitrary root-owned packages. A local repository (`file:`, `copy:`, `cdrom:`, "
    "typically packages built earlier in the same build) is reported as info: nothing is fetched.",
    "Remove `trusted=yes` and add the repository key with `signed-by=/etc/apt/keyrings/<vendor>.gpg`.",
    {"etc/apt/sources.list.d/vendor.list": "deb [trusted=yes] https://apt.example.com stable main\n"},
    {"etc/apt/sources.list.d/vendor.list": _SIGNED_VENDOR},
)
_rule(
    "package-repo-http",
    "Package repository over plain http",
    L,
    A,
    "Signatures protect package integrity over http, but a network attacker sees every package you install and "
    "can replay stale indexes (freeze attacks: old, vulnerable versions) until `Valid-Until` expires — forever "
    "for third-party repositories without it. Official mirrors are reported at info level.",
    "Use https (`chainwarden lint --fix` rewrites deb.debian.org, pypi.org and registry.npmjs.org).",
    {"etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n"},
    {"etc/apt/sources.list": "deb https://deb.debian.org/debian bookworm main\n"},
)
_rule(
    "apt-third-party-source",
    "Third-party APT repository",
    INFO,
    A,
    "Any repository that is not the distribution's own archive can ship packages that replace distribution "
    "packages; treat it as a supplier you trust with root, and know which key it uses.",
    "Keep the list of third-party repositories short, give each its own key with `signed-by`, and pin its "
    "packages (apt preferences) so it cannot override distribution packages.",
    {
        "etc/apt/sources.list.d/docker.sources": "Types: deb\nURIs: https://download.docker.com/linux/debian\n"
        "Suites: bookworm\nComponents: stable\nSigned-By: /etc/apt/keyrings/docker.asc\n"
    },
    {
        "etc/apt/sources.list.d/debian.sources": "Types: deb\nURIs: https://deb.debian.org/debian\nSuites: bookworm\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    },
)
_rule(
    "apt-source-without-signed-by",
    "Third-party APT repository without signed-by",
    M,
    A,
    "Without `signed-by`, apt accepts the repository's indexes signed by *any* key in trusted.gpg(.d): every "
    "other vendor's key can sign for this repository, and this vendor's key for Debian's.",
    "Add `[signed-by=/etc/apt/keyrings/<vendor>.gpg]` (one-line) or `Signed-By:` (deb822).",
    {"etc/apt/sources.list.d/vendor.list": "deb https://apt.example.com stable main\n"},
    {"etc/apt/sources.list.d/vendor.list": _SIGNED_VENDOR},
)
_rule(
    "apt-trusted-gpg-key",
    "Key in trusted.gpg.d (trusted for every repository)",
    M,
    A,
    "Keys in /etc/apt/trusted.gpg.d and /etc/apt/trusted.gpg are trusted for all repositories: a vendor key "
    "there can sign replacements for any distribution package.",
    "Move the key to /etc/apt/keyrings/ and reference it with `signed-by` from its repository only.",
    {"etc/apt/trusted.gpg.d/vendor.gpg": "binary key"},
    {
        "etc/apt/keyrings/vendor.gpg": "binary key",
        "etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc": "distribution key",
    },
)

# -- yum/dnf/zypper repositories, apk repositories (lint/rpm_repos.py) ----------------------------------------
R = "RPM/apk"
_VENDOR_REPO = (
    "[vendor]\nname=Vendor\nbaseurl=https://rpm.example.com/el9/$basearch\nenabled=1\ngpgcheck=1\n"
    "gpgkey=https://rpm.example.com/RPM-GPG-KEY-vendor\n"
)
_rule(
    "rpm-repo-gpgcheck-disabled",
    "RPM package signature checking disabled",
    C,
    R,
    "`gpgcheck=0` in a .repo file or dnf.conf (or `--setopt=gpgcheck=0`) makes dnf, yum and zypper install "
    "packages nobody signed: whoever controls the mirror or the network path chooses what runs as root.",
    "Set `gpgcheck=1` with the vendor's `gpgkey=` (https or a file shipped in the image).",
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO.replace("gpgcheck=1", "gpgcheck=0")},
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO},
)
_rule(
    "rpm-repo-sslverify-disabled",
    "RPM repository TLS verification disabled",
    H,
    R,
    "`sslverify=0` accepts any certificate for the repository: a man in the middle serves metadata and, "
    "with gpgcheck off or keys fetched from the same host, packages.",
    "Remove `sslverify=0`; install a proxy's CA into the image's trust store instead.",
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO + "sslverify=0\n"},
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO},
)
_rule(
    "rpm-repo-without-gpgkey",
    "Third-party RPM repository without gpgkey",
    M,
    R,
    "Without `gpgkey=`, dnf accepts this repository's packages signed by *any* key already imported into the "
    "rpm database: every other vendor can sign for this repository (the counterpart of apt's missing signed-by).",
    "Add `gpgkey=https://…/RPM-GPG-KEY-vendor` (or `file:///etc/pki/rpm-gpg/…`) to the repository section.",
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO.replace("gpgkey=https://rpm.example.com/RPM-GPG-KEY-vendor\n", "")},
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO},
)
_rule(
    "rpm-third-party-repo",
    "Third-party RPM repository",
    INFO,
    R,
    "A repository besides the distribution's own can ship any package name, including replacements for "
    "glibc or openssl, signed by its own key: an inventory of who can change the image.",
    "Keep the list short, pin the vendor key with `gpgkey=`, and prefer `includepkgs=` to limit what it ships.",
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO},
    {
        "etc/yum.repos.d/rocky.repo": "[baseos]\nname=Rocky\n"
        "mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever\n"
        "gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n"
    },
)
_rule(
    "package-signing-key-over-http",
    "Package signing key fetched over plain http",
    H,
    R,
    "A signing key downloaded over http (`gpgkey=http://…`, `rpm --import http://…`) can be swapped by anyone on "
    "the network path, who then signs their own packages: signature checking protects nothing.",
    "Fetch the key over https, check its fingerprint, or ship it in the image (`file:///etc/pki/rpm-gpg/…`).",
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO.replace("gpgkey=https", "gpgkey=http")},
    {"etc/yum.repos.d/vendor.repo": _VENDOR_REPO},
)
_rule(
    "zypper-auto-import-keys",
    "zypper --gpg-auto-import-keys trusts any repository key",
    M,
    R,
    "`--gpg-auto-import-keys` imports whatever key a repository presents, without showing its fingerprint: "
    "a substituted repository brings its own key and is trusted from then on.",
    "Import the vendor key explicitly (`rpm --import /path/key.asc` after checking its fingerprint).",
    {D: "FROM opensuse/leap@sha256:" + "3" * 64 + "\nRUN zypper --non-interactive --gpg-auto-import-keys refresh\n"},
    {D: "FROM opensuse/leap@sha256:" + "3" * 64 + "\nRUN zypper --non-interactive refresh\n"},
)
_rule(
    "apk-third-party-repository",
    "Third-party apk repository",
    INFO,
    R,
    "A repository besides Alpine's own can ship any package name (musl, openssl) signed by a key in "
    "/etc/apk/keys: an inventory of who can change the image.",
    "Keep the list short; pin packages from it with `name@tag` and ship only that vendor's key.",
    {"etc/apk/repositories": "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\nhttps://apk.example.com/v3.19\n"},
    {"etc/apk/repositories": "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n"},
)

# -- Python ----------------------------------------------------------------------------------------------------
P = "Python"
_rule(
    "pip-extra-index-url",
    "Extra package index (dependency confusion)",
    H,
    P,
    "pip treats `--extra-index-url` as equal to the main index and installs the *highest version from either*: "
    "an attacker who publishes your internal package name on PyPI with a higher version wins (Birsan, 2021; "
    "PyTorch torchtriton, 2022).",
    "Use a single index that proxies PyPI and serves internal packages (`--index-url` only), or uv with an "
    "`explicit = true` index for internal packages; reserve internal names on PyPI.",
    {"requirements.txt": "--extra-index-url https://pypi.acme.example/simple\nacme-core==1.2.0\n"},
    {"requirements.txt": "--index-url https://pypi.acme.example/simple\nacme-core==1.2.0\n"},
    config={"internal": {"pypi_index": "https://pypi.acme.example/simple"}},
)
_rule(
    "pip-insecure-index",
    "Package index or link over plain http",
    H,
    P,
    "pip does not sign packages: over http anyone on the path substitutes the index page or the file (hashes "
    "in a lock are the only defence).",
    "Use https; `chainwarden lint --fix` rewrites pypi.org and files.pythonhosted.org URLs.",
    {"pip.conf": "[global]\nindex-url = http://pypi.org/simple\n"},
    {"pip.conf": "[global]\nindex-url = https://pypi.org/simple\n"},
)
_rule(
    "pip-trusted-host",
    "pip --trusted-host (TLS verification off for a host)",
    H,
    P,
    "`--trusted-host`/`PIP_TRUSTED_HOST` turns off certificate checks (and allows http) for that host: a man in "
    "the middle serves any package.",
    "Remove it; install the proxy's CA certificate (`--cert`/`PIP_CERT`) if TLS is intercepted.",
    {"requirements.txt": "--trusted-host pypi.acme.example\nflask==3.0.3\n"},
    {"requirements.txt": "flask==3.0.3\n"},
)
_rule(
    "pip-index-not-allowed",
    "Package index not in the allowed registries",
    M,
    P,
    "An index outside the configured `[registries] pypi` list (or `[internal] pypi_index`) is a supplier "
    "nobody approved: it can serve any version of any package.",
    "Use an allowed index, or add it to `[registries] pypi` in chainwarden.toml after review.",
    {"requirements.txt": "-i https://mirror.example.net/simple\nflask==3.0.3\n"},
    {"requirements.txt": "-i https://pypi.org/simple\nflask==3.0.3\n"},
)
_rule(
    "uv-unsafe-index-strategy",
    "uv index-strategy unsafe-*",
    H,
    P,
    "`unsafe-best-match` picks the best version across all indexes (pip's dependency-confusion behaviour); "
    "`unsafe-first-match` still lets later indexes supply versions the first lacks. uv's default "
    "(`first-index`) stops at the first index that has the name.",
    "Remove `index-strategy` (default `first-index`) and mark internal indexes `explicit = true`.",
    {"pyproject.toml": '[project]\nname = "app"\nversion = "1"\n\n[tool.uv]\nindex-strategy = "unsafe-best-match"\n'},
    {"pyproject.toml": '[project]\nname = "app"\nversion = "1"\n\n[tool.uv]\nindex-strategy = "first-index"\n'},
)
_rule(
    "uv-index-not-explicit",
    "uv index not marked explicit",
    L,
    P,
    "A non-explicit `[[tool.uv.index]]` is consulted for every package: it sees all your dependency names, "
    "and internal packages are not bound to it, so when one is missing there (renamed, deleted, not yet "
    "published) uv falls through to PyPI where anyone can register the name.",
    'Set `explicit = true` and bind internal packages with `[tool.uv.sources] acme-core = { index = "acme" }`.',
    {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n\n[[tool.uv.index]]\nname = "acme"\n'
        'url = "https://pypi.acme.example/simple"\n'
    },
    {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n\n[[tool.uv.index]]\nname = "acme"\n'
        'url = "https://pypi.acme.example/simple"\nexplicit = true\n'
    },
)
_rule(
    "poetry-source-priority",
    "Poetry source priority mixes internal and public resolution",
    H,
    P,
    "Poetry consults PyPI *before* a `supplemental` (legacy `secondary`) source, and merges candidates across "
    "several primary sources: a public package that borrows an internal name is installed instead of yours.",
    'Give the internal source `priority = "explicit"` and bind internal packages to it '
    '(`acme-core = { version = "1.2", source = "acme" }`).',
    {
        "pyproject.toml": '[tool.poetry]\nname = "app"\n\n[[tool.poetry.source]]\nname = "acme"\n'
        'url = "https://pypi.acme.example/simple"\npriority = "supplemental"\n'
    },
    {
        "pyproject.toml": '[tool.poetry]\nname = "app"\n\n[[tool.poetry.source]]\nname = "acme"\n'
        'url = "https://pypi.acme.example/simple"\npriority = "explicit"\n'
    },
)
_rule(
    "python-lockfile-missing",
    "Python project without a lockfile",
    L,
    P,
    "Without a lock, every install resolves ranges afresh: a newly published (possibly hijacked) release enters "
    "the next build with no review and no hash check.",
    "Commit a lock (`uv lock`, `poetry lock`, `pdm lock`, or `pip-compile --generate-hashes`) and install from it.",
    {"pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask>=3"]\n'},
    {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask>=3"]\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "flask"\nversion = "3.0.3"\n',
    },
)
_rule(
    "lockfile-missing-dependency",
    "Manifest dependency missing from the lockfile",
    M,
    "Python / npm",
    "A dependency declared in the manifest but absent from the lock is resolved at install time (or the lock "
    "is stale and CI installs something else than was reviewed).",
    "Re-lock (`uv lock`, `poetry lock --no-update`, `npm install --package-lock-only`) and commit the result.",
    {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask>=3", "requests"]\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "flask"\nversion = "3.0.3"\n',
    },
    {
        "pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["flask>=3", "requests"]\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "flask"\nversion = "3.0.3"\n\n[[package]]\nname = "requests"\n'
        'version = "2.32.3"\n',
    },
)
_rule(
    "requirements-unpinned",
    "Requirement without an exact version",
    M,
    P,
    "A range or bare name installs whatever is newest at install time, including a hijacked release; the same "
    "file yields different environments on different days.",
    "Pin with `==` and hashes (`pip-compile --generate-hashes` / `uv pip compile --generate-hashes`); keep "
    "ranges in pyproject.toml or a `.in` file.",
    {"requirements.txt": "flask>=3.0\nrequests\n"},
    {"requirements.txt": "flask==3.0.3\nrequests==2.32.3\n"},
)
_rule(
    "requirements-mixed-hashes",
    "Some requirements hashed, others not",
    M,
    P,
    "One `--hash` switches pip to hash-checking mode for the whole file, so an unhashed line makes the install "
    "fail — or shows that someone removed a hash to slip a different artifact in.",
    "Regenerate the whole file with hashes (`pip-compile --generate-hashes`).",
    {"requirements.txt": "flask==3.0.3 --hash=sha256:" + "3" * 64 + "\nrequests==2.32.3\n"},
    {
        "requirements.txt": "flask==3.0.3 --hash=sha256:"
        + "3" * 64
        + "\nrequests==2.32.3 \\\n    --hash=sha256:"
        + "4" * 64
        + "\n"
    },
)
_rule(
    "requirements-url-without-hash",
    "URL or VCS requirement without a hash or commit",
    M,
    P,
    "A URL requirement installs whatever the URL serves today; a VCS requirement on a branch or tag follows "
    "whoever can push to it.",
    "Add `--hash=sha256:…` (or `#sha256=…`) to URL requirements; pin VCS requirements to a full commit "
    "(`git+https://github.com/o/r@<40-hex sha>`).",
    {"requirements.txt": "mylib @ git+https://github.com/acme/mylib@main\n"},
    {"requirements.txt": "mylib @ git+https://github.com/acme/mylib@" + "0123456789" * 4 + "\n"},
)

# -- npm ------------------------------------------------------------------------------------------------------
N = "npm"
_PKG = '{\n  "name": "app",\n  "version": "1.0.0",\n  "dependencies": {\n    "left-pad": "^1.3.0"\n  }\n}\n'


def _lock(resolved: str, integrity: str | None, name: str = "left-pad") -> str:
    entry = f'      "version": "1.3.0",\n      "resolved": "{resolved}"'
    if integrity:
        entry += f',\n      "integrity": "{integrity}"'
    return (
        '{\n  "name": "app",\n  "lockfileVersion": 3,\n  "packages": {\n    "": {"name": "app"},\n'
        f'    "node_modules/{name}": {{\n{entry}\n    }}\n  }}\n}}\n'
    )


_GOOD_URL = "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"
_SHA512 = "sha512-" + "A" * 86 + "=="
_rule(
    "npm-lockfile-missing",
    "package.json without a lockfile",
    M,
    N,
    "Without package-lock.json (or yarn/pnpm locks) every install resolves ranges afresh and `npm ci` cannot "
    "be used: hijacked releases (ua-parser-js, 2021) flow in on the next build.",
    "Run `npm install --package-lock-only`, commit the lockfile, and install with `npm ci`.",
    {"package.json": _PKG},
    {"package.json": _PKG, "package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npm-url-dependency",
    "git, GitHub or tarball URL dependency",
    M,
    N,
    "URL and git dependencies bypass the registry: no integrity from the registry, mutable refs (branches, "
    "tags), and lifecycle scripts from an arbitrary repository (lockfile-lint validate-scheme).",
    "Depend on a published registry version, or pin the git dependency to a full commit and vendor it.",
    {
        "package.json": '{"name": "app", "dependencies": {"util": "github:acme/util#main"}}\n',
        "package-lock.json": _lock(_GOOD_URL, _SHA512, "util"),
    },
    {
        "package.json": '{"name": "app", "dependencies": {"util": "1.3.0"}}\n',
        "package-lock.json": _lock(_GOOD_URL, _SHA512, "util").replace("left-pad", "util"),
    },
)
_rule(
    "npm-lock-http",
    "Lockfile or registry URL over plain http",
    H,
    N,
    "A package fetched over http can be replaced in transit; the lockfile's integrity hash is then the only "
    "defence, and lockfile injection removes that too (lockfile-lint validate-https).",
    "Use https registries and regenerate the lockfile (`--fix` rewrites registry.npmjs.org URLs).",
    {"package-lock.json": _lock(_GOOD_URL.replace("https", "http"), _SHA512)},
    {"package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npm-lock-disallowed-host",
    "Lockfile resolves a package from a host that is not allowed",
    H,
    N,
    "A `resolved` URL on an unexpected host is the mark of lockfile injection (a PR that rewrites "
    "`resolved` to an attacker's tarball, which reviewers never read) or of an unapproved registry "
    "(lockfile-lint validate-host).",
    "Regenerate the lockfile against an allowed registry; list legitimate ones in `[registries] npm`.",
    {"package-lock.json": _lock("https://evil.example.net/left-pad/-/left-pad-1.3.0.tgz", _SHA512)},
    {"package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npm-lock-name-mismatch",
    "Locked package name differs from the name in its resolved URL",
    H,
    N,
    "`node_modules/lodash` resolving to `…/evil-pkg/-/evil-pkg-1.0.0.tgz` installs another package under a "
    "trusted name: the lockfile-injection attack (lockfile-lint validate-package-names).",
    "Regenerate the lockfile from the registry and review who changed the entry.",
    {"package-lock.json": _lock("https://registry.npmjs.org/evil-pkg/-/evil-pkg-1.3.0.tgz", _SHA512)},
    {"package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npm-lock-missing-integrity",
    "Locked package without integrity hash",
    M,
    N,
    "Without `integrity` npm installs whatever bytes the URL returns (lockfile-lint validate-integrity).",
    "Regenerate the lockfile with a current npm (`rm package-lock.json && npm install --package-lock-only`).",
    {"package-lock.json": _lock(_GOOD_URL, None)},
    {"package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npm-lock-sha1-integrity",
    "Locked package pinned by SHA-1 only",
    M,
    N,
    "SHA-1 has practical chosen-prefix collisions (SHAttered, 2017; Shambles, 2020): a sha1-only integrity "
    "does not bind the tarball.",
    "Regenerate the lockfile so every entry carries a sha512 integrity.",
    {"package-lock.json": _lock(_GOOD_URL, "sha1-" + "B" * 27 + "=")},
    {"package-lock.json": _lock(_GOOD_URL, _SHA512)},
)
_rule(
    "npmrc-plaintext-token",
    "Registry credential in plain text in .npmrc",
    C,
    N,
    "A committed `_authToken`/`_auth`/`_password` is readable by everyone with the repository (and every "
    "fork, CI log and image layer); npm tokens with publish rights let an attacker ship your packages.",
    "Reference an environment variable (`//registry.npmjs.org/:_authToken=${NPM_TOKEN}`), revoke the leaked "
    "token, and purge it from history.",
    {".npmrc": "//registry.npmjs.org/:_authToken=npm_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ\n"},
    {".npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"},
)
_rule(
    "npmrc-scope-without-registry",
    "Internal npm scope without a registry mapping",
    H,
    N,
    "Without `@acme:registry=…`, packages of your internal scope resolve from the public registry: if the "
    "scope is unclaimed there, anyone can publish `@acme/core` (dependency confusion).",
    "Map every internal scope: `@acme:registry=https://npm.acme.example/` (and claim the scope on npmjs.com).",
    {".npmrc": "registry=https://registry.npmjs.org/\n"},
    {".npmrc": "registry=https://registry.npmjs.org/\n@acme:registry=https://npm.acme.example/\n"},
    config={"internal": {"scopes": ["@acme"], "npm_registry": "https://npm.acme.example"}},
)
_rule(
    "npmrc-registry-not-allowed",
    "npm registry in .npmrc is not an allowed registry",
    H,
    N,
    "`registry=` and `@scope:registry=` decide where every install resolves names and downloads tarballs. An "
    "unapproved mirror sees everything you install and can serve altered tarballs for anything not yet locked "
    "(new and updated dependencies get locked with whatever it sends); a scope mapped to the wrong host, or a "
    "proxy that merges public and private names, is how dependency confusion reaches internal packages "
    "(Birsan, 2021).",
    "Point the setting at an allowed registry; if the mirror is legitimate (check who operates it), add it to "
    "`[registries] npm`, or set `[internal] npm_registry` for your private registry, in chainwarden.toml.",
    {".npmrc": "registry=https://npm-mirror.example.net/\n@acme:registry=https://npm.acme.example/\n"},
    {".npmrc": "registry=https://registry.npmjs.org/\n@acme:registry=https://npm.acme.example/\n"},
    config={"internal": {"npm_registry": "https://npm.acme.example"}},
)
_rule(
    "npmrc-ignore-scripts-missing",
    "ignore-scripts not set although policy requires it",
    M,
    N,
    "Install scripts (`preinstall`, `postinstall`) run arbitrary code from every dependency at install time; "
    "most npm malware (event-stream, ua-parser-js, 2021-2024 token stealers) executes there.",
    "Add `ignore-scripts=true` to .npmrc and allow the few packages that need scripts explicitly "
    "(`npm rebuild <pkg>`).",
    {".npmrc": "registry=https://registry.npmjs.org/\n"},
    {".npmrc": "registry=https://registry.npmjs.org/\nignore-scripts=true\n"},
    config={"policy": {"require_ignore_scripts": True}},
)

del D, H, M, L, C, INFO, A, P, N

#: Every registered rule, by id (read-only).
RULES: Mapping[str, Rule] = MappingProxyType(_RULES)


def rule_infos() -> dict[str, RuleInfo]:
    """RuleInfo for every rule, for SARIF ``tool.driver.rules``."""
    return {rule_id: rule.info for rule_id, rule in RULES.items()}


def get_rule(rule_id: str) -> Rule:
    return RULES[rule_id]
