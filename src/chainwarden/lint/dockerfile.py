"""Dockerfile / Containerfile rules.

Works on the positioned parse of :mod:`chainwarden.lint.dockerfile_parser`
and the shell model of :mod:`chainwarden.lint.shell`: every ``RUN`` (shell
form, exec form, heredoc bodies, ``sh -c`` strings, ``$(…)``) is cut into
commands and each command is judged by what it is (a downloader, a package
manager, an interpreter…), never by a regular expression over the line.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from packaging.requirements import InvalidRequirement, Requirement

from chainwarden.lint import apt as apt_rules
from chainwarden.lint import npm as npm_rules
from chainwarden.lint import requirements as requirements_rules
from chainwarden.lint import rpm_repos
from chainwarden.lint.base import Edit, Hit, LintContext, LintFile, LintInputError, is_http, mask_secret, url_allowed
from chainwarden.lint.dockerfile_flow import (
    HASH_TOOLS,
    Artifact,
    Check,
    Shape,
    commit_pinned,
    find_checks,
    literal_writes,
    normalise,
    operands,
    shell_errexit,
)
from chainwarden.lint.dockerfile_parser import Dockerfile, Instruction, Position, Stage, parse_dockerfile, substitute
from chainwarden.lint.powershell import PowerShellFlow
from chainwarden.lint.shell import SHELLS, Command, Pipeline, Script, Word, parse_script
from chainwarden.models import Severity

DOWNLOADERS = frozenset({"curl", "wget", "aria2c", "fetch"})
INTERPRETERS = SHELLS | frozenset(
    {"python", "python2", "python3", "perl", "ruby", "node", "php", "pwsh", "powershell", "deno", "bun", "tclsh", "lua"}
)
#: Commands that unpack or install what they are given: a downloaded artifact
#: reaching one of them unverified runs (or lands) as is.
CONSUMERS = frozenset(
    {"tar", "bsdtar", "unzip", "gunzip", "7z", "cpio", "dpkg", "rpm", "install", "apk", "xz", "bunzip2", "zcat"}
)
#: Commands that move, install or run a file named among their operands.
_USES = frozenset(
    {"chmod", "mv", "cp", "ln", "pip", "pip3", "npm", "java", "source", ".", "apt", "apt-get", "gem", "install", "dpkg"}
)
#: Commands that only place a file (its use comes later).
_PLACES = frozenset({"chmod", "mv", "cp", "install", "ln"})
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_SECRET_NAME = re.compile(
    r"(?i)(^|_)(TOKEN|PASSWORD|PASSWD|PASS|SECRET|API_?KEY|APIKEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH)(_|$)"
)
_NOT_SECRET_SUFFIX = re.compile(
    r"(?i)_(FILE|PATH|DIR|URL|URI|ENDPOINT|HOST|HEADER|NAME|USER|USERNAME|TYPE|LENGTH|MODE|METHOD|ENABLED|DISABLED"
    r"|PROVIDER|TTL|TIMEOUT|EXPIRY|VERSION|ID|REALM|ISSUER|SCOPE|SCOPES)$"
)
_WRITTEN_NPMRC_RULES = frozenset({"npmrc-plaintext-token", "tls-verification-disabled", "npm-lock-http"})
#: Shells whose syntax is not POSIX: their RUN lines are not analysed as shell.
_NON_POSIX_SHELLS = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe", "cmd", "cmd.exe"})
_POWERSHELLS = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})
#: Dockerfiles beyond this size are hostile or generated; positions would cost too much memory.
MAX_DOCKERFILE_BYTES = 2 * 1024 * 1024
_BUILD_TOOLS = re.compile(
    r"^(gcc(-\d+)?|g\+\+(-\d+)?|cpp|clang(-\d+)?|make|cmake|build-essential|build-base|autoconf|automake|libtool"
    r"|pkg-config|pkgconf|rustc|cargo|golang(-go)?|.+-dev|.+-devel|musl-dev)$"
)
_SEMVER_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")
_APT_SOURCES_PATH = re.compile(r"^/etc/apt/(sources\.list|sources\.list\.d/.+)$")
_TRUSTED_KEY_PATH = re.compile(r"^/etc/apt/trusted\.gpg(\.d/.*)?$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_ARCHIVE = re.compile(
    r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tar\.lz|tar\.Z|gz|bz2|xz)$", re.IGNORECASE
)

#: pip options that take a value (the next word unless written ``--opt=value``).
_PIP_VALUE_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
        "--trusted-host", "-t", "--target", "--prefix", "--root", "--platform", "--python-version",
        "--implementation", "--abi", "--src", "--config-settings", "-C", "--progress-bar", "--log", "--cache-dir",
        "--timeout", "--retries", "--proxy", "--cert", "--client-cert", "--upgrade-strategy", "--only-binary",
        "--no-binary", "--global-option", "--install-option", "--python", "--report", "--index-strategy",
        "--keyring-provider", "--exists-action", "--root-user-action", "--extra", "-e", "--editable", "--group",
        "-p",
    }
)  # fmt: skip
_APT_VALUE_OPTIONS = frozenset({"-o", "-c", "-t", "--target-release", "--option", "--config-file"})
_APK_VALUE_OPTIONS = frozenset(
    {"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--keys-dir", "--repositories-file"}
)
_NPM_VALUE_OPTIONS = frozenset({"--prefix", "--registry", "--cache", "--loglevel", "-w", "--workspace", "--omit"})
_TLS_FLAGS = frozenset(
    {"--insecure", "--no-check-certificate", "--no-verify-ssl", "--insecure-skip-tls-verify", "--no-verify",
     "--disable-ssl-verification", "--ssl-no-verify", "--skip-tls-verify", "--tls-verify=false"}
)  # fmt: skip
_TLS_ENV = {
    "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "GIT_SSL_NO_VERIFY": ("1", "true", "yes"),
    "PYTHONHTTPSVERIFY": ("0",),
    "NPM_CONFIG_STRICT_SSL": ("false", "0"),
    "YARN_STRICT_SSL": ("false", "0"),
    "CURL_INSECURE": ("1", "true"),
}


@dataclass(slots=True)
class _Text:
    """A script and where each of its characters sits in the Dockerfile."""

    text: str
    table: list[Position]

    def at(self, offset: int) -> Position:
        if not self.table:
            return Position(1, 1)
        return self.table[max(0, min(offset, len(self.table) - 1))]


@dataclass(slots=True)
class _StageState:
    pipefail: bool = False
    errexit: bool = False  # the stage's SHELL runs every RUN with ``-e``
    artifacts: dict[str, Artifact] = field(default_factory=dict)  # downloaded, not yet used (name → artifact)
    unchecked: set[str] = field(default_factory=set)  # downloads already reported as used unchecked
    env: dict[str, str] = field(default_factory=dict)  # ENV/ARG values known in the stage
    powershell: bool = False  # the stage's SHELL is PowerShell
    powershell_flow: PowerShellFlow = field(default_factory=PowerShellFlow)
    privilege_drop: str | None = None  # gosu/su-exec/setpriv installed or run in the stage
    entrypoint: Instruction | None = None
    posix_shell: bool = True
    copied: set[str] = field(default_factory=set)
    user: str | None = None
    user_line: int | None = None
    installed_tools: list[tuple[str, Position, int]] = field(default_factory=list)  # (package, where, RUN line)
    removed: set[str] = field(default_factory=set)
    purged_runs: set[int] = field(default_factory=set)  # RUN lines that auto-remove what they installed


class _DockerfileLinter:
    def __init__(self, file: LintFile, ctx: LintContext) -> None:
        self.file = file
        self.ctx = ctx
        self.hits: list[Hit] = []
        self.dockerfile: Dockerfile = parse_dockerfile(file.text)
        self.lines = file.text.splitlines()
        self.uses_curl: list[tuple[Instruction, Position]] = []
        self.uses_wget: list[tuple[Instruction, Position]] = []

    # -- plumbing ------------------------------------------------------------------------------
    def hit(
        self,
        rule_id: str,
        instruction: Instruction,
        where: Position | None,
        evidence: str | None = None,
        *,
        detail: str = "",
        severity: Severity | None = None,
        edit: Edit | None = None,
    ) -> None:
        position = where or Position(instruction.line, instruction.column)
        snippet = evidence if evidence is not None else self._snippet(instruction, position.line)
        anchors = tuple(range(instruction.line, instruction.end_line + 1))
        self.hits.append(Hit(rule_id, position.line, position.column, snippet, detail, severity, anchors, edit))

    def _snippet(self, instruction: Instruction, line: int) -> str:
        """The physical line of the finding: what a reviewer looks for in the file."""
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else instruction.arguments
        return text if len(text) <= 200 else text[:199] + "…"

    # -- entry ---------------------------------------------------------------------------------
    def run(self) -> list[Hit]:
        dockerfile = self.dockerfile
        for diagnostic in dockerfile.diagnostics:
            evidence = self.lines[diagnostic.line - 1].strip() if 0 < diagnostic.line <= len(self.lines) else ""
            self.hits.append(
                Hit(
                    "dockerfile-parse-error",
                    diagnostic.line,
                    1,
                    evidence[:200],
                    detail=diagnostic.message,
                    severity=Severity.HIGH if diagnostic.serious else None,
                )
            )
        for instruction in dockerfile.instructions:
            if instruction.keyword == "ARG" and not dockerfile.stages:
                self._check_env_like(instruction)
        earlier: set[str] = set()
        states: list[_StageState] = []
        for stage in dockerfile.stages:
            self._check_base(stage, earlier)
            state = _StageState()
            parent = self._parent_state(stage, states)
            if parent is not None:
                state.user, state.user_line, state.pipefail = parent.user, parent.user_line, parent.pipefail
                state.errexit = parent.errexit
                state.artifacts, state.unchecked = dict(parent.artifacts), set(parent.unchecked)
                state.env = dict(parent.env)
                state.privilege_drop, state.entrypoint = parent.privilege_drop, parent.entrypoint
                state.posix_shell, state.powershell = parent.posix_shell, parent.powershell
                state.copied = set(parent.copied)
                state.installed_tools = list(parent.installed_tools)
                state.removed = set(parent.removed)
                state.purged_runs = set(parent.purged_runs)
            for instruction in stage.instructions:
                self._instruction(instruction, state)
            states.append(state)
            if stage.name:
                earlier.add(stage.name)
        if dockerfile.stages:
            self._check_final_stage(dockerfile.stages[-1], states[-1])
        if self.uses_curl and self.uses_wget:
            for instruction, where in [*self.uses_curl, *self.uses_wget]:
                self.hit("dockerfile-curl-and-wget", instruction, where)
        return self.hits

    def _parent_state(self, stage: Stage, states: list[_StageState]) -> _StageState | None:
        for index, earlier in enumerate(self.dockerfile.stages[: stage.index]):
            if (earlier.name and earlier.name == stage.image.lower()) or stage.image == str(index):
                return states[index]
        return None

    def _instruction(self, instruction: Instruction, state: _StageState) -> None:
        keyword = instruction.keyword
        if keyword == "RUN":
            self._run(instruction, state)
        elif keyword in ("ENV", "ARG"):
            self._check_env_like(instruction)
            for name, value, _ in self._pairs(instruction):
                if value is not None:
                    state.env[name] = expand(value, state.env)
        elif keyword == "ADD":
            self._add(instruction)
            self._copy_like(instruction, state)
        elif keyword == "COPY":
            self._copy_like(instruction, state)
        elif keyword == "ENTRYPOINT":
            state.entrypoint = instruction
            tool = _PRIVILEGE_DROP.search(instruction.arguments)
            if tool is not None:
                state.privilege_drop = tool.group(1)
        elif keyword == "USER":
            state.user = instruction.arguments.strip()
            state.user_line = instruction.line
        elif keyword == "SHELL":
            words = instruction.exec_form or ()
            state.pipefail = any(w == "pipefail" or w.endswith("pipefail") for w in words)
            state.errexit = shell_errexit(words)
            program = posixpath.basename(words[0].replace("\\", "/")).lower() if words else ""
            state.posix_shell = not words or program not in _NON_POSIX_SHELLS
            state.powershell = program in _POWERSHELLS

    # -- FROM ----------------------------------------------------------------------------------
    def _check_base(self, stage: Stage, earlier: set[str]) -> None:
        instruction = stage.from_instruction
        image = stage.image
        if not image:
            return
        where = instruction.position(0)
        resolved = stage.resolved_image
        if resolved is None and _only_platform_args(image, self.dockerfile.global_args):
            # ``FROM base-${TARGETARCH}``: BuildKit always sets its platform args; a name that matches an
            # earlier stage for some value is that stage, anything else is judged with a sample value
            pattern = re.escape(image)
            for name in _PLATFORM_ARGS:
                pattern = pattern.replace(re.escape("${" + name + "}"), ".+").replace(re.escape("$" + name), ".+")
            if any(re.fullmatch(pattern, name, re.IGNORECASE) for name in earlier):
                return
            known = self.dockerfile.global_args
            sample = {name: value for name, value in _PLATFORM_SAMPLE.items() if known.get(name) is None}
            resolved = substitute(image, {**known, **sample})
        if resolved is None:
            self.hit(
                "dockerfile-unpinned-base",
                instruction,
                where,
                detail=f"{image} depends on a build argument without a default",
            )
            return
        lowered = resolved.lower()
        if lowered == "scratch" or lowered in earlier:
            return
        if lowered.isdigit() and int(lowered) < stage.index:
            return
        if _DIGEST.search(resolved):
            return
        shown = image if image == resolved else f"{image} → {resolved}"
        name_part = resolved.rsplit("/", 1)[-1]
        if ":" not in name_part:
            detail = f"{shown} has no tag (means :latest)"
        elif name_part.endswith(":latest"):
            detail = f"{shown} uses :latest"
        else:
            detail = f"{shown} is pinned by tag only"
        self.hit("dockerfile-unpinned-base", instruction, where, detail=detail)

    # -- ENV / ARG -----------------------------------------------------------------------------
    def _pairs(self, instruction: Instruction) -> list[tuple[str, str | None, int]]:
        text = instruction.arguments
        pairs: list[tuple[str, str | None, int]] = []
        if instruction.keyword == "ENV" and "=" not in text.split(None, 1)[0]:
            name, _, value = text.partition(" ")
            return [(name, value.strip(), 0)]
        try:
            lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
            lexer.whitespace_split = True
            lexer.commenters = ""
            words = list(lexer)
        except ValueError:
            words = text.split()
        search_from = 0
        for word in words:
            name, sep, value = word.partition("=")
            offset = text.find(name, search_from)
            search_from = max(search_from, offset + 1)
            pairs.append((name, value if sep else None, max(offset, 0)))
        return pairs

    def _check_env_like(self, instruction: Instruction) -> None:
        for name, value, offset in self._pairs(instruction):
            where = instruction.position(offset)
            upper = name.upper()
            if _SECRET_NAME.search(upper) and not _NOT_SECRET_SUFFIX.search(upper):
                literal = value is not None and value != "" and not value.startswith("$")
                # ARG values end up in the image history; ENV values (literal or copied from an ARG) in its config
                if literal or instruction.keyword == "ARG" or value:
                    shown = f"{name}={mask_secret(value)}" if literal and value else f"{name}={value or ''}"
                    if literal:
                        why = " has a literal value"
                    elif instruction.keyword == "ENV":
                        why = " bakes a build-time value into the image config"
                    else:
                        why = " is recorded in the image history"
                    self.hit(
                        "dockerfile-secret-in-env-or-arg",
                        instruction,
                        where,
                        evidence=f"{instruction.keyword} {shown.rstrip('=')}",
                        detail=f"{instruction.keyword} {name}{why}",
                        severity=None if literal else Severity.MEDIUM,
                    )
            if value is None:
                continue
            if upper == "PIP_EXTRA_INDEX_URL":
                self.hit("pip-extra-index-url", instruction, where, detail=value)
            if upper in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX"):
                for url in value.split():
                    self._check_index_url(instruction, where, url, extra=upper != "PIP_INDEX_URL")
            if upper in ("PIP_TRUSTED_HOST", "UV_INSECURE_HOST"):
                self.hit("pip-trusted-host", instruction, where, detail=f"{name}={value}")
            if upper == "UV_INDEX_STRATEGY" and value.startswith("unsafe"):
                self.hit("uv-unsafe-index-strategy", instruction, where, detail=value)
            if upper in _TLS_ENV and value.lower() in _TLS_ENV[upper]:
                self.hit("tls-verification-disabled", instruction, where, detail=f"{name}={value}")

    def _check_index_url(self, instruction: Instruction, where: Position, url: str, *, extra: bool) -> None:
        if is_http(url):
            self.hit("pip-insecure-index", instruction, where, detail=url)
        allowed = self.ctx.config.registries.pypi + tuple(filter(None, [self.ctx.config.internal.pypi_index]))
        if not extra and url.startswith(("http://", "https://")) and not url_allowed(url, allowed):
            self.hit("pip-index-not-allowed", instruction, where, detail=url)

    # -- ADD / COPY ----------------------------------------------------------------------------
    def _sources_and_dest(self, instruction: Instruction) -> tuple[list[tuple[str, int]], str]:
        if instruction.exec_form is not None:
            values = list(instruction.exec_form)
            return [(v, 0) for v in values[:-1]], (values[-1] if values else "")
        words: list[tuple[str, int]] = []
        for match in re.finditer(r"\S+", instruction.arguments):
            words.append((match.group(0), match.start()))
        if instruction.heredocs:
            words = [(w, o) for w, o in words if not w.startswith("<<")]
        if not words:
            return [], ""
        return words[:-1], words[-1][0]

    def _add(self, instruction: Instruction) -> None:
        sources, _ = self._sources_and_dest(instruction)
        has_checksum = instruction.flag("checksum") is not None
        for source, offset in sources:
            where = instruction.position(offset)
            lowered = source.lower()
            is_git = lowered.startswith(("git@", "git://", "ssh://")) or (
                lowered.startswith("http") and (lowered.endswith(".git") or ".git#" in lowered)
            )
            if lowered.startswith(("http://", "https://")) or is_git:
                if is_git and re.search(r"#[0-9a-f]{40}$", lowered):
                    continue
                if not has_checksum:
                    self.hit("dockerfile-add-url-without-checksum", instruction, where, detail=source)
            elif not _ARCHIVE.search(source) and instruction.flag("from") is None:
                self.hit("dockerfile-add-local", instruction, where, detail=source)

    def _copy_like(self, instruction: Instruction, state: _StageState) -> None:
        sources, dest = self._sources_and_dest(instruction)
        kind = _written_kind(dest) if instruction.heredocs else None
        for heredoc in instruction.heredocs if kind is not None else ():
            base = heredoc.origin[0].line if heredoc.origin else instruction.line
            for hit in self._lint_written(kind or "", heredoc.body):
                self.hit(
                    hit.rule_id,
                    instruction,
                    Position(base + (hit.line or 1) - 1, 1),
                    hit.evidence,
                    detail=hit.detail,
                    severity=hit.severity,
                )
        if instruction.flag("from") is None:
            for source, _ in sources:
                state.copied.add(posixpath.basename(source.rstrip("/")) or source)
        if _TRUSTED_KEY_PATH.match(posixpath.normpath(dest or "/x")) or "/etc/apt/trusted.gpg" in dest:
            self.hit(
                "apt-trusted-gpg-key", instruction, instruction.position(instruction.arguments.rfind(dest)), detail=dest
            )

    # -- RUN -----------------------------------------------------------------------------------
    def _scripts(self, instruction: Instruction) -> list[tuple[_Text, bool]]:
        """(script, is_shell) pairs to analyse: the command line and shell heredoc bodies."""
        table = list(instruction.origin)
        if instruction.exec_form is not None:
            argv = list(instruction.exec_form)
            start = instruction.position(0)
            if len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1].startswith("-") and "c" in argv[1]:
                text = argv[2]
            else:
                text = shlex.join(argv)
            return [(_Text(text, [start] * len(text)), True)]
        scripts = [(_Text(instruction.arguments, table), True)]
        head = parse_script(instruction.arguments)
        first = next(iter(head.commands()), None)
        consumer = first.name if first is not None else ""
        for heredoc in instruction.heredocs:
            body = _Text(heredoc.body, list(heredoc.origin))
            if consumer in SHELLS or consumer == "" or instruction.arguments.lstrip().startswith("<<"):
                scripts.append((body, True))
            else:
                scripts.append((body, False))
        return scripts

    def _run(self, instruction: Instruction, state: _StageState) -> None:
        if not state.posix_shell and instruction.exec_form is None:
            if state.powershell:
                self._powershell(instruction, instruction.arguments, instruction.position, state)
            return  # cmd syntax: our POSIX model would only produce noise
        for text, is_shell in self._scripts(instruction):
            if not is_shell:
                continue
            script = parse_script(text.text)
            _RunAnalysis(self, instruction, state, text, script).analyse()
        self._heredoc_files(instruction)

    def _powershell(
        self, instruction: Instruction, text: str, locate: Callable[[int], Position], state: _StageState
    ) -> None:
        """Download → verify → use in a PowerShell script (``SHELL ["powershell", …]`` or ``powershell -Command``)."""
        for event in state.powershell_flow.run(text):
            where = locate(event.offset)
            if event.kind == "runs-download":
                self.hit("dockerfile-curl-pipe-shell", instruction, where, detail=event.detail)
                continue
            ignored = " (a hash is computed, but a mismatch does not stop the build)" if event.checked else ""
            self.hit("dockerfile-download-unverified", instruction, where, detail=event.detail + ignored)

    def _heredoc_files(self, instruction: Instruction) -> None:
        """``cat <<EOF > /etc/apt/sources.list.d/x.list`` writes a config file: judge its lines."""
        if not instruction.heredocs:
            return
        script = parse_script(instruction.arguments)
        targets = [
            r.target.text
            for command in script.commands()
            for r in command.redirects
            if r.target is not None and r.operator in (">", ">>")
        ]
        targets += [w.text for command in script.commands() if command.name == "tee" for w in command.argv()[1:]]
        kind = next((k for k in map(_written_kind, targets) if k is not None), None)
        if kind is None:
            return
        for heredoc in instruction.heredocs:
            base = heredoc.origin[0].line if heredoc.origin else instruction.line
            for hit in self._lint_written(kind, heredoc.body):
                line = base + (hit.line or 1) - 1
                self.hit(
                    hit.rule_id, instruction, Position(line, 1), hit.evidence, detail=hit.detail, severity=hit.severity
                )

    def _lint_written(self, kind: str, text: str) -> list[Hit]:
        """Hits of a config file a RUN writes, positions relative to ``text``; edits dropped."""
        written = LintFile(self.file.path, self.file.display, text, kind)
        if kind == "apt-sources":
            return apt_rules.lint_apt_sources(written, self.ctx)
        if kind == "apt-list":
            return apt_rules.lint_list_text(text, fixable=False)
        if kind == "pip-conf":
            return [replace(h, edit=None) for h in requirements_rules.lint_pip_conf(written, self.ctx)]
        if kind in rpm_repos.KINDS:
            return rpm_repos.lint_text(kind, text)
        hits = npm_rules.lint_npmrc(written, self.ctx)
        # scope mappings and ignore-scripts belong to the project's own .npmrc, not to a token file
        return [replace(h, edit=None) for h in hits if h.rule_id in _WRITTEN_NPMRC_RULES]

    # -- final stage ---------------------------------------------------------------------------
    def _privilege_drop(self, stage: Stage, state: _StageState) -> str | None:
        """How the image drops root at run time, if it visibly does: said in the finding."""
        entrypoint = state.entrypoint
        if entrypoint is None:
            return None
        script = self._entrypoint_script(stage, entrypoint)
        if script is not None:
            name, text = script
            tool = _PRIVILEGE_DROP.search(text)
            if tool is not None:
                return f"its entrypoint {name} drops privileges with {tool.group(1)}"
            return None
        if state.privilege_drop is not None:
            return (
                f"the image installs {state.privilege_drop} and has an ENTRYPOINT, the usual way to drop "
                "privileges at start-up (check that the entrypoint does)"
            )
        return None

    def _entrypoint_script(self, stage: Stage, entrypoint: Instruction) -> tuple[str, str] | None:
        """The entrypoint script's text, when it is COPY'd from the build context beside this Dockerfile."""
        words = list(entrypoint.exec_form or entrypoint.arguments.split())
        if not words:
            return None
        program = posixpath.basename(words[0])
        for instruction in stage.instructions:
            if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from") is not None:
                continue
            sources, _ = self._sources_and_dest(instruction)
            for source, _ in sources:
                if posixpath.basename(source) == program:
                    text = self.ctx.read_text(self.ctx.sibling(self.file.path, source))
                    if text is not None:
                        return program, text
        return None

    def _check_final_stage(self, stage: Stage, state: _StageState) -> None:
        final_from = stage.from_instruction
        user = (state.user or "").split(":")[0].strip()
        inherited_nonroot = "nonroot" in (stage.resolved_image or "").lower()
        if user in ("", "root", "0") and not (state.user is None and inherited_nonroot):
            if state.user is None:
                where = Position(final_from.line, final_from.column)
                detail = "the final stage sets no USER, so it runs as root"
                instruction = final_from
            else:
                instruction = next(i for i in self.dockerfile.instructions if i.line == state.user_line)
                where = Position(instruction.line, instruction.column)
                detail = f"the final stage runs as USER {state.user}"
            dropped = self._privilege_drop(stage, state)
            severity = None
            if dropped is not None:
                # the official-image idiom: start as root to fix volume ownership, then exec the
                # service as an unprivileged user; the process that stays root is only the entrypoint
                detail = detail.replace("runs as", "starts as") + f"; {dropped}"
                severity = Severity.LOW
            self.hit("dockerfile-root-user", instruction, where, detail=detail, severity=severity)
        by_run: dict[int, list[tuple[str, Position]]] = {}
        for package, where, run_line in state.installed_tools:
            if package in state.removed or run_line in state.purged_runs:
                continue
            by_run.setdefault(run_line, []).append((package, where))
        for run_line, tools in by_run.items():
            instruction = next(i for i in self.dockerfile.instructions if i.line == run_line)
            names = ", ".join(sorted({name for name, _ in tools}))
            self.hit("dockerfile-build-tools-in-final-stage", instruction, tools[0][1], detail=names)


class _RunAnalysis:
    """Judges one shell script of one ``RUN``."""

    def __init__(
        self,
        linter: _DockerfileLinter,
        instruction: Instruction,
        state: _StageState,
        text: _Text,
        script: Script,
    ) -> None:
        self.linter = linter
        self.instruction = instruction
        self.state = state
        self.text = text
        self.script = script
        self.pipelines = list(script.walk())

    def at(self, word: Word) -> Position:
        return self.text.at(word.offset)

    def hit(
        self,
        rule_id: str,
        word: Word | None,
        *,
        detail: str = "",
        severity: Severity | None = None,
        edit: Edit | None = None,
        evidence: str | None = None,
    ) -> None:
        where = self.at(word) if word is not None else None
        self.linter.hit(rule_id, self.instruction, where, evidence, detail=detail, severity=severity, edit=edit)

    def analyse(self) -> None:
        self._downloads()
        self._pipefail()
        for pipeline in self.pipelines:
            for command in pipeline.commands:
                self._command(command)

    # -- downloads -----------------------------------------------------------------------------
    def _downloads(self) -> None:
        """Follow each downloaded file to its first use; report the uses no effective check guards."""
        shape = Shape.of(self.script, errexit=self.state.errexit)
        written = literal_writes(self.script)
        artifacts = self.state.artifacts
        checks: dict[int, list[Check]] = {}  # id(artifact) → its checks in this RUN
        # ``chmod +x``, ``mv``, ``cp`` only place the bytes: a check later in the RUN that fails the
        # build still stops them from being used, so these are judged at the end of the RUN
        placed: dict[int, tuple[Artifact, str]] = {}
        for index, pipeline in enumerate(shape.pipelines):
            for sub in [pipeline, *_nested_pipelines(pipeline)]:
                self._download_pipeline(sub, artifacts)
            for command in _all_commands(pipeline):
                for used in self._used_names(command):
                    artifact = artifacts.get(used)
                    if artifact is None:
                        continue
                    own = checks.get(id(artifact), [])
                    if artifact.verified or any(index in check.guarded for check in own):
                        continue
                    if command.name in _PLACES:
                        placed.setdefault(id(artifact), (artifact, command.name))
                        self._alias(command, artifact, artifacts)
                        continue
                    self._report_unverified(artifact, f"{artifact.name} is used by {command.name}", bool(own))
                    _forget(artifacts, artifact)
            for names, passes_when_true in find_checks(pipeline, written):
                guarded, to_end = shape.guard(index, passes_when_true=passes_when_true)
                for artifact in _targets(artifacts, names):
                    checks.setdefault(id(artifact), []).append(Check(index, names, guarded, to_end))
        for artifact in artifacts.values():
            if any(check.to_end for check in checks.get(id(artifact), [])):
                artifact.verified = True
        for artifact, how in placed.values():
            if not artifact.verified and artifact in artifacts.values():
                checked = bool(checks.get(id(artifact)))
                self._report_unverified(artifact, f"{artifact.name} is installed by {how}", checked)
                _forget(artifacts, artifact)

    def _alias(self, command: Command, artifact: Artifact, artifacts: dict[str, Artifact]) -> None:
        """``mv go.tgz /tmp/toolchain.tgz``: the bytes now also go by the destination's name."""
        if command.name not in ("mv", "cp", "install"):
            return
        names = operands(command.argv()[1:])
        if len(names) >= 2 and not names[-1].endswith("/"):
            destination = normalise(names[-1])
            if destination and destination not in artifacts and "." in destination:
                artifacts[destination] = artifact

    def _download_pipeline(self, pipeline: Pipeline, artifacts: dict[str, Artifact]) -> None:
        commands = pipeline.commands
        for index, command in enumerate(commands):
            name = command.name
            argv = command.argv()
            # ``bash <(curl …)``, ``sh -c "$(curl …)"``, ``eval "$(wget -O- …)"``
            if name in INTERPRETERS or name in ("eval", "source", "."):
                for word in argv[1:]:
                    for substitution in word.substitutions:
                        inner = next((c for c in substitution.commands() if c.name in DOWNLOADERS), None)
                        if inner is not None:
                            self.hit(
                                "dockerfile-curl-pipe-shell",
                                _url_word(inner) or word,
                                detail=f"{inner.name} output run by {name}",
                            )
            if name not in DOWNLOADERS:
                continue
            self._note_downloader(command)
            url_word = _url_word(command)
            later = [c.name for c in commands[index + 1 :]]
            runner = next((n for n in later if n in INTERPRETERS or _PYTHON.match(n)), None)
            if runner is not None:
                self.hit("dockerfile-curl-pipe-shell", url_word or argv[0], detail=f"{name} … | {runner}")
                continue
            consumer = next((n for n in later if n in CONSUMERS), None)
            where = self.at(url_word or argv[0])
            url = expand(url_word.text, self.state.env) if url_word is not None else ""
            if consumer is not None:
                # a stream cannot be checked before it is unpacked: nothing can guard this
                self._report_unverified(
                    Artifact(consumer, self.instruction, where, url), f"{name} … | {consumer}", False
                )
                continue
            output = _download_output(command)
            if output:
                artifacts[normalise(output)] = Artifact(normalise(output), self.instruction, where, url)

    def _report_unverified(self, artifact: Artifact, what: str, checked: bool) -> None:
        self.state.unchecked.add(artifact.name)
        ignored = " (a check is there, but its failure does not stop the build: join it with && or use set -e)"
        detail = f"{what} without a checksum or signature check{ignored if checked else ''}"
        severity = None
        if commit_pinned(artifact.url):
            detail += " (the URL pins a git commit, so the content is fixed, but nothing checks the bytes)"
            severity = Severity.MEDIUM
        self.linter.hit(
            "dockerfile-download-unverified", artifact.instruction, artifact.where, detail=detail, severity=severity
        )

    def _used_names(self, command: Command) -> list[str]:
        """Downloaded-file candidates a command unpacks, installs, moves or runs."""
        argv = command.argv()
        if not argv:
            return []
        name = command.name
        args = [w.text for w in argv[1:]]
        words: list[str] = []
        if "/" in argv[0].text:
            words.append(argv[0].text)
        if name in ("rpm", "rpmkeys") and any(a in ("-K", "--checksig") or a.startswith("-K") for a in args):
            return [normalise(w) for w in words]
        if name in CONSUMERS or name in INTERPRETERS or _PYTHON.match(name) or name in _USES:
            words += operands(argv[1:])
        return [normalise(w) for w in words]

    def _note_downloader(self, command: Command) -> None:
        argv = command.argv()
        where = self.at(argv[0]) if argv else None
        if where is None:
            return
        record = (self.instruction, where)
        if command.name == "curl":
            self.linter.uses_curl.append(record)
        elif command.name == "wget":
            self.linter.uses_wget.append(record)

    def _pipefail(self) -> None:
        if self.state.pipefail or not any(len(p.commands) > 1 for p in self.script.pipelines):
            return
        for command in self.script.commands():
            if command.name == "set" and "pipefail" in command.args():
                return
        pipelines = self.script.pipelines
        pipe = next((p for i, p in enumerate(pipelines) if len(p.commands) > 1 and _can_mask(pipelines, i)), None)
        if pipe is None:
            return
        self.hit("dockerfile-pipe-without-pipefail", pipe.commands[1].argv()[0] if pipe.commands[1].argv() else None)

    # -- per command ---------------------------------------------------------------------------
    def _command(self, command: Command) -> None:
        words = command.words
        argv = command.argv()
        if not argv:
            return
        name = command.name
        args = [w.text for w in argv[1:]]
        if any(posixpath.basename(w.text) == "sudo" for w in words[:1]) or (words and words[0].text == "sudo"):
            self.hit("dockerfile-sudo", words[0])
        first = posixpath.basename(words[0].text) if words else ""
        if first in ("gosu", "su-exec", "setpriv"):  # ``gosu nobody true``: the official images' smoke test
            self.state.privilege_drop = first
        elif name in ("apt-get", "apt", "apk", "yum", "dnf", "microdnf"):
            packages = {re.split(r"[=<>~]", a, maxsplit=1)[0] for a in args}
            if {"gosu", "su-exec"} & packages:
                self.state.privilege_drop = "gosu" if "gosu" in packages else "su-exec"
        if name.lower() in _POWERSHELLS:
            self._powershell_command(argv)
        self._tls(command, name, argv)
        self._trusted_key_writes(command, name, argv)
        if _PIP.match(name) or (_PYTHON.match(name) and args[:2] == ["-m", "pip"]):
            offset = 1 if _PIP.match(name) else 3
            rest = argv[offset:]
            if rest and rest[0].text == "install":
                self._pip_install(rest[1:])
            elif len(rest) >= 4 and [w.text for w in rest[:2]] == ["config", "set"]:
                self._pip_config_set(rest)
        elif name == "uv" and args[:2] == ["pip", "install"]:
            self._pip_install(argv[3:])
        elif name == "pipx" and args[:1] == ["install"]:
            self._pip_install(argv[2:])
        elif name == "uv" and "--index-strategy" in args:
            index = args.index("--index-strategy")
            if index + 1 < len(args) and args[index + 1].startswith("unsafe"):
                self.hit("uv-unsafe-index-strategy", argv[index + 2], detail=args[index + 1])
        elif name in ("npm", "cnpm"):
            self._npm(argv)
        elif name == "yarn":
            self._yarn(argv)
        elif name == "pnpm":
            self._pnpm(argv)
        elif name == "gem" and args[:1] == ["install"]:
            self._gem(argv)
        elif name == "go" and args[:1] in (["install"], ["get"]):
            for word in argv[2:]:
                if re.search(r"@(latest|master|main|HEAD)$", word.text):
                    self.hit("go-install-latest", word, detail=word.text)
        elif name in ("apt-get", "apt", "aptitude"):
            self._apt(argv)
        elif name == "apt-key" and args[:1] in (["add"], ["adv"]):
            self.hit("apt-key-add", argv[0], detail=" ".join(args[:3]))
        elif name == "add-apt-repository":
            self._add_apt_repository(argv)
        elif name == "apk" and args[:1] == ["add"]:
            self._apk(argv)
        elif name == "apk" and args[:1] == ["del"]:
            self.state.removed.update(args[1:])
        elif name in ("yum", "dnf", "dnf5", "microdnf", "tdnf", "zypper", "rpm", "yum-config-manager"):
            self._rpm_family(argv)
        elif name in ("echo", "printf"):
            self._echo_config(command, argv)

    def _powershell_command(self, argv: list[Word]) -> None:
        """``powershell -Command "Invoke-WebRequest …; Expand-Archive …"`` in a cmd or sh RUN."""
        words = argv[1:]
        for index, word in enumerate(words):
            if word.text.lower() in ("-command", "-c") and index + 1 < len(words):
                rest = words[index + 1 :]
                text = " ".join(w.text for w in rest)
                origin = [o for w in rest for o in [*w.origin, w.origin[-1] if w.origin else w.start]]

                def locate(offset: int, origin: list[int] = origin) -> Position:
                    return self.text.at(origin[min(offset, len(origin) - 1)] if origin else 0)

                self.linter._powershell(self.instruction, text, locate, self.state)
                return

    def _tls(self, command: Command, name: str, argv: list[Word]) -> None:
        for word in argv[1:]:
            text = word.text
            lowered = text.lower()
            bad = lowered in _TLS_FLAGS
            if name == "curl" and re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*", text):
                bad = True
            if lowered in ("strict-ssl=false", "--strict-ssl=false") or (
                name in ("npm", "yarn", "pnpm") and lowered == "false" and "strict-ssl" in [w.text for w in argv]
            ):
                bad = True
            if re.search(r"(?i)http\.sslverify(=|$)", text) and (
                lowered.endswith("=false") or any(w.text.lower() == "false" for w in argv)
            ):
                bad = True
            if bad:
                self.hit("tls-verification-disabled", word, detail=f"{name} {text}")
                return

    def _trusted_key_writes(self, command: Command, name: str, argv: list[Word]) -> None:
        targets = [r.target for r in command.redirects if r.target is not None and r.operator in (">", ">>")]
        targets += [
            w
            for w in argv[1:]
            if _TRUSTED_KEY_PATH.match(posixpath.normpath("/" + w.text.lstrip("/")))
            and w.text.startswith("/etc/apt/trusted.gpg")
        ]
        for target in targets:
            if target.text.startswith("/etc/apt/trusted.gpg"):
                base = posixpath.basename(target.text)
                if not apt_rules.is_distro_key(base):
                    self.hit("apt-trusted-gpg-key", target, detail=target.text)
                return

    # -- Python ----------------------------------------------------------------------------------
    def _pip_install(self, words: list[Word]) -> None:
        unpinned: list[Word] = []
        has_requirements = False
        require_hashes = False
        index = 0
        while index < len(words):
            word = words[index]
            text = word.text
            option, sep, inline = text.partition("=")
            if text.startswith("-"):
                value_word: Word | None = None
                value = inline if sep else None
                if option in _PIP_VALUE_OPTIONS and not sep:
                    if index + 1 < len(words):
                        value_word = words[index + 1]
                        value = value_word.text
                    index += 1
                elif option in ("-r", "-c", "-i", "-f", "-e") or (
                    len(option) > 2 and option[:2] in ("-r", "-c", "-i", "-f", "-e") and option[1] != "-"
                ):
                    option, value = option[:2], text[2:]
                where = value_word or word
                if option in ("-r", "--requirement"):
                    has_requirements = True
                elif option == "--require-hashes":
                    require_hashes = True
                elif option == "--extra-index-url" and value:
                    self.hit("pip-extra-index-url", where, detail=value)
                    if is_http(value):
                        self.hit("pip-insecure-index", where, detail=value)
                elif option in ("-i", "--index-url") and value:
                    self.linter._check_index_url(self.instruction, self.at(where), value, extra=False)
                elif option in ("-f", "--find-links") and value and is_http(value):
                    self.hit("pip-insecure-index", where, detail=value)
                elif option == "--trusted-host":
                    self.hit("pip-trusted-host", where, detail=f"--trusted-host {value or ''}".strip())
                elif option == "--index-strategy" and value and value.startswith("unsafe"):
                    self.hit("uv-unsafe-index-strategy", where, detail=value)
                index += 1
                continue
            if not _is_local_or_url(text) and not _pinned_requirement(text):
                unpinned.append(word)
            index += 1
        if unpinned:
            names = ", ".join(w.text for w in unpinned)
            self.hit("pip-install-unpinned", unpinned[0], detail=names)
        if has_requirements and not require_hashes:
            self.hit("pip-install-without-hashes", words[0] if words else None)

    # -- JavaScript ------------------------------------------------------------------------------
    def _lockfile_copied(self) -> bool:
        copied = self.state.copied
        return (
            any(name in copied for name in _LOCKFILES)
            or "." in copied
            or any("*" in name and name.startswith(("package", "yarn", "pnpm")) for name in copied)
        )

    def _positional(self, words: list[Word], value_options: frozenset[str]) -> list[Word]:
        result: list[Word] = []
        skip = False
        for word in words:
            if skip:
                skip = False
                continue
            if word.text.startswith("-"):
                skip = word.text in value_options
                continue
            result.append(word)
        return result

    def _js_registry(self, argv: list[Word]) -> None:
        """``npm config set registry http://…`` / ``--registry=http://…``: packages fetched in clear."""
        for index, word in enumerate(argv):
            text = word.text
            value = text.split("=", 1)[1] if text.startswith("--registry=") else None
            if value is None and index > 0 and argv[index - 1].text in ("registry", "--registry"):
                value = text
            if value is None and re.match(r"^(@[\w.-]+:)?registry=", text):
                value = text.split("=", 1)[1]
            if value is not None and is_http(value):
                self.hit("npm-lock-http", word, detail=f"registry {value}")
                return

    def _npm(self, argv: list[Word]) -> None:
        self._js_registry(argv)
        if len(argv) < 2:
            return
        sub = argv[1]
        if sub.text not in ("install", "i", "isntall", "add", "in", "ins", "inst", "insta", "instal"):
            return
        packages = self._positional(argv[2:], _NPM_VALUE_OPTIONS)
        if not packages:
            edit = None
            if self._lockfile_copied():
                where = self.at(sub)
                edit = Edit(where.line, where.column, sub.text, "ci", "npm install → npm ci")
            self.hit("npm-install-without-lock", sub, edit=edit)
            return
        self._unpinned_js(packages)

    def _unpinned_js(self, packages: list[Word]) -> None:
        unpinned = [w for w in packages if not _npm_pinned(w.text)]
        if unpinned:
            self.hit("npm-install-unpinned", unpinned[0], detail=", ".join(w.text for w in unpinned))

    def _yarn(self, argv: list[Word]) -> None:
        self._js_registry(argv)
        args = [w.text for w in argv[1:]]
        positional = [a for a in args if not a.startswith("-")]
        if not positional and any(a in ("-v", "--version", "-h", "--help") for a in args):
            return  # ``yarn --version`` prints; only a bare ``yarn`` means ``yarn install``
        if args[:2] == ["global", "add"] or positional[:1] == ["add"]:
            start = 3 if args[:1] == ["global"] else 2
            self._unpinned_js(self._positional(argv[start:], _NPM_VALUE_OPTIONS))
            return
        if positional and positional[0] != "install":
            return
        if any(a in ("--frozen-lockfile", "--immutable", "--pure-lockfile") for a in args):
            return
        edit = None
        anchor = argv[0]
        if positional:
            anchor = next(w for w in argv[1:] if w.text == "install")
            where = self.at(anchor)
            edit = Edit(
                where.line,
                where.column,
                "install",
                "install --frozen-lockfile",
                "yarn install → yarn install --frozen-lockfile",
            )
        self.hit("yarn-install-without-lock", anchor, edit=edit)

    def _pnpm(self, argv: list[Word]) -> None:
        args = [w.text for w in argv[1:]]
        if args[:1] == ["add"]:
            self._unpinned_js(self._positional(argv[2:], _NPM_VALUE_OPTIONS))
            return
        if args[:1] not in (["install"], ["i"]):
            return
        if "--frozen-lockfile" in args:
            return
        self.hit("pnpm-install-without-lock", argv[1])

    def _gem(self, argv: list[Word]) -> None:
        args = [w.text for w in argv[2:]]
        if any(a in ("-v", "--version") or a.startswith("--version=") for a in args):
            return
        names = [
            w
            for w in self._positional(argv[2:], frozenset({"-i", "--install-dir", "-n", "--bindir"}))
            if ":" not in w.text and not w.text.endswith(".gem")
        ]
        if names:
            self.hit("gem-install-unpinned", names[0], detail=", ".join(w.text for w in names))

    # -- OS packages -----------------------------------------------------------------------------
    def _signature_flags(self, argv: list[Word], flags: Iterable[str], packages: list[Word] | None = None) -> None:
        """A flag that disables signature checks; at most informational when every package it
        installs is a local file built or copied in the build (nothing fetched can be swapped)."""
        wanted = set(flags)
        local = bool(packages) and all(self._local_package(w.text) for w in packages or ())
        for index, word in enumerate(argv):
            text = word.text
            option_value = argv[index + 1].text if index + 1 < len(argv) and text == "-o" else text
            lowered = option_value.lower()
            if text in wanted or (
                ("allowunauthenticated" in lowered or "allowinsecurerepositories" in lowered)
                and lowered.endswith(("=true", "=1", "=yes"))
            ):
                if local:
                    names = " ".join(w.text for w in packages or ())
                    self.hit(
                        "package-signature-check-disabled",
                        word,
                        detail=f"{argv[0].text} {option_value} for local or verified package files only ({names})",
                        severity=Severity.INFO,
                    )
                    return
                self.hit("package-signature-check-disabled", word, detail=f"{argv[0].text} {option_value}")
                return

    def _local_package(self, text: str) -> bool:
        """A package operand naming a file in the build (not one downloaded and left unchecked)."""
        if "://" in text:
            return False
        is_path = text.startswith(("/", "./", "../", "$")) and (text.endswith((".apk", ".rpm", ".deb")) or "*" in text)
        if not is_path and not text.endswith((".apk", ".rpm", ".deb")):
            return False
        name = normalise(text)
        artifact = self.state.artifacts.get(name)
        return name not in self.state.unchecked and (artifact is None or artifact.verified)

    def _apt(self, argv: list[Word]) -> None:
        self._signature_flags(argv, ("--allow-unauthenticated", "--allow-insecure-repositories", "--force-yes"))
        positional = self._positional(argv[1:], _APT_VALUE_OPTIONS)
        if not positional:
            return
        action = positional[0].text
        if action in ("purge", "remove", "autoremove"):
            self.state.removed.update(w.text for w in positional[1:])
            auto_remove = action == "autoremove" or any(w.text in ("--auto-remove", "--autoremove") for w in argv)
            if auto_remove and self._marks_auto():
                # the official images' idiom: `apt-mark auto '.*'` then `purge --auto-remove` drops
                # everything this RUN installed that nothing kept manual
                self.state.purged_runs.add(self.instruction.line)
            return
        if action != "install":
            return
        packages = positional[1:]
        unpinned = [w for w in packages if "=" not in w.text and not _is_local_or_url(w.text) and "/" not in w.text]
        if unpinned:
            self.hit("apt-unpinned-package", unpinned[0], detail=", ".join(w.text for w in unpinned))
        self._note_tools(packages)

    def _assignments_before(self, command: Command) -> dict[str, str]:
        """Shell variables set by plain assignments earlier in the script (``x="…";``)."""
        offset = command.words[0].offset if command.words else 0
        found: dict[str, str] = {}
        for earlier in self.script.commands():
            if earlier.argv() or not earlier.words or earlier.words[0].offset >= offset:
                continue
            for word in earlier.words:
                pair = _assignment_value(word)
                if pair is not None and not word.substitutions:
                    found[pair[0]] = pair[1]
        return found

    def _marks_auto(self) -> bool:
        return any(c.name == "apt-mark" and c.args()[:1] == ["auto"] for c in self.script.commands())

    def _note_tools(self, packages: list[Word]) -> None:
        for word in packages:
            name = re.split(r"[=~<>]", word.text, maxsplit=1)[0]
            if _BUILD_TOOLS.match(name):
                self.state.installed_tools.append((name, self.at(word), self.instruction.line))

    def _apk(self, argv: list[Word]) -> None:
        args = argv[2:]
        self._signature_flags(argv, ("--allow-untrusted",), self._positional(args, _APK_VALUE_OPTIONS))
        virtual: str | None = None
        for index, word in enumerate(args):
            if word.text in ("-t", "--virtual") and index + 1 < len(args):
                virtual = args[index + 1].text
            if word.text in ("-X", "--repository") and index + 1 < len(args) and is_http(args[index + 1].text):
                self.hit("package-repo-http", args[index + 1], detail=args[index + 1].text)
        packages = self._positional(args, _APK_VALUE_OPTIONS)
        unpinned = [w for w in packages if not re.search(r"[=~<>]", w.text) and not w.text.endswith(".apk")]
        if unpinned:
            self.hit("apk-unpinned-package", unpinned[0], detail=", ".join(w.text for w in unpinned))
        if virtual is not None and virtual in self._apk_deleted():
            return
        self._note_tools(packages)

    def _apk_deleted(self) -> set[str]:
        deleted: set[str] = set()
        for command in self.script.commands():
            if command.name == "apk" and command.args()[:1] == ["del"]:
                deleted.update(command.args()[1:])
        return deleted

    def _rpm_family(self, argv: list[Word]) -> None:
        for rule_id, index, detail in rpm_repos.command_hits([w.text for w in argv]):
            self.hit(rule_id, argv[index], detail=detail)
        positional = self._positional(argv[1:], frozenset({"--setopt", "--enablerepo", "--disablerepo"}))
        packages = positional[1:] if positional[:1] and positional[0].text in ("install", "in", "localinstall") else []
        if argv[0].text == "rpm":
            packages = positional
        flags = ("--nogpgcheck", "--nosignature", "--nodigest", "--no-gpg-checks")
        self._signature_flags(argv, flags, packages)
        if positional[:1] and positional[0].text in ("install", "in"):
            self._note_tools(positional[1:])

    def _pip_config_set(self, argv: list[Word]) -> None:
        """``pip config set global.extra-index-url URL`` writes pip.conf: same checks (argv from ``config``)."""
        key = argv[2].text.rsplit(".", 1)[-1].lower()
        value_word = argv[3]
        text = f"[global]\n{key} = {value_word.text}\n"
        for hit in self.linter._lint_written("pip-conf", text):
            self.hit(hit.rule_id, value_word, detail=hit.detail, severity=hit.severity, evidence=hit.evidence)

    def _add_apt_repository(self, argv: list[Word]) -> None:
        for word in argv[1:]:
            if word.text.startswith("ppa:"):
                self.hit("apt-ppa", word, detail=word.text)
            elif word.text.startswith(("deb ", "deb-src ")):
                for hit in self.linter._lint_written("apt-list", word.text + "\n"):
                    self.hit(hit.rule_id, word, detail=hit.detail, severity=hit.severity, evidence=hit.evidence)

    def _echo_config(self, command: Command, argv: list[Word]) -> None:
        """``echo "deb …" > /etc/apt/sources.list.d/x.list``, ``printf … | tee ~/.npmrc``: judge what is written."""
        writes = [r.target.text for r in command.redirects if r.target is not None and r.operator in (">", ">>")]
        pipeline = next((p for p in self.pipelines if command in p.commands), None)
        if pipeline is not None:
            index = pipeline.commands.index(command)
            for later in pipeline.commands[index + 1 :]:
                if later.name == "tee":
                    writes += [w.text for w in later.argv()[1:] if not w.text.startswith("-")]
        kind = next((k for k in map(_written_kind, writes) if k is not None), None)
        if kind is None:
            return
        variables = {**self.state.env, **self._assignments_before(command)}
        for word in argv[1:]:
            if word.text.startswith("-"):
                continue
            # ``aptRepo="[ signed-by=/k.asc ] http://…"; echo "deb $aptRepo" > …``: judge the expanded line
            text = expand(word.text, variables).replace("\\n", "\n")
            if kind == "apt-sources":
                kind = "apt-list"  # one-line echo of a deb822 file is not a thing; read it as a list line
            for hit in self.linter._lint_written(kind, text + "\n"):
                self.hit(hit.rule_id, word, detail=hit.detail, severity=hit.severity, evidence=hit.evidence)


#: Commands that cannot fail on their own: a pipe fed only by them has nothing for pipefail to catch.
_CANNOT_FAIL = frozenset({"echo", "printf", "true", ":"})


def _can_mask(pipelines: list[Pipeline], index: int) -> bool:
    """Whether the pipe at ``index`` can hide a failure that ``pipefail`` would surface.

    Not when every command before the last cannot fail (``echo "$SHA *f" | sha256sum -c -``, a
    ``{ echo …; echo …; } | tee f`` group), nor when the last is a checksum check, which fails on
    the empty or partial input a failed producer leaves it.
    """
    commands = pipelines[index].commands
    last = commands[-1]
    if HASH_TOOLS.match(last.name) and any(
        a in ("-c", "--check") or (a.startswith("-") and not a.startswith("--") and "c" in a[1:]) for a in last.args()
    ):
        return False
    for command in commands[:-1]:
        if command.argv():
            if command.name not in _CANNOT_FAIL or any(w.substitutions for w in command.argv()):
                return True
            continue
        # ``{ …; }`` closing here: look at the group's commands
        if not (command.words and command.words[0].text == "}"):
            return True
        depth = 0
        for earlier in range(index, -1, -1):
            group = pipelines[earlier].commands if earlier < index else commands[:1]
            for grouped in group:
                words = [w.text for w in grouped.words]
                depth += words.count("}") - words.count("{")
                if grouped.argv() and (
                    grouped.name not in _CANNOT_FAIL or any(w.substitutions for w in grouped.argv())
                ):
                    return True
            if depth <= 0:
                break
    return False


#: Tools an entrypoint uses to exec the service as another user.
_PRIVILEGE_DROP = re.compile(r"\b(gosu|su-exec|setpriv|runuser|chroot --userspec)\b")
#: BuildKit's automatic platform args, with a sample value each.
_PLATFORM_SAMPLE = {
    "TARGETPLATFORM": "linux/amd64",
    "TARGETOS": "linux",
    "TARGETARCH": "amd64",
    "TARGETVARIANT": "",
    "BUILDPLATFORM": "linux/amd64",
    "BUILDOS": "linux",
    "BUILDARCH": "amd64",
    "BUILDVARIANT": "",
}
_PLATFORM_ARGS = tuple(_PLATFORM_SAMPLE)


def _only_platform_args(image: str, global_args: dict[str, str | None]) -> bool:
    """Whether every variable of ``image`` without a value is one of BuildKit's platform args."""
    names = re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", image)
    unknown = [name for name in names if global_args.get(name) is None]
    return bool(unknown) and all(name in _PLATFORM_SAMPLE for name in unknown)


def _assignment_value(word: Word) -> tuple[str, str] | None:
    name, sep, value = word.text.partition("=")
    if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        return None
    return name, value


def _written_kind(path: str) -> str | None:
    """The kind of configuration file a RUN writes at ``path``, if it is one we lint."""
    if _APT_SOURCES_PATH.match(path):
        return "apt-sources" if path.endswith(".sources") else "apt-list"
    name = posixpath.basename(path)
    if name in ("pip.conf", "pip.ini"):
        return "pip-conf"
    if name in (".npmrc", "npmrc"):
        return "npmrc"
    return rpm_repos.written_kind(path)


def _url_word(command: Command) -> Word | None:
    for word in command.argv()[1:]:
        if "://" in word.text or word.text.startswith("$"):
            return word
    return None


def _download_output(command: Command) -> str | None:
    argv = command.argv()
    words = [w.text for w in argv[1:]]
    for redirect in command.redirects:
        if redirect.operator in (">", ">>") and redirect.target is not None:
            return redirect.target.text
    url = next((w for w in words if "://" in w), "")
    for index, word in enumerate(words):
        if command.name == "curl":
            if word in ("-o", "--output") and index + 1 < len(words):
                return words[index + 1]
            if word.startswith("-o") and len(word) > 2 and not word.startswith("--"):
                return word[2:]
            if re.fullmatch(r"-[a-zA-Z]*O[a-zA-Z]*", word) or word == "--remote-name":
                return posixpath.basename(url.split("?", 1)[0]) or None
            if word.startswith("-") and not word.startswith("--") and word.endswith("o") and index + 1 < len(words):
                return words[index + 1]
        if command.name == "wget":
            if word in ("-O", "--output-document") and index + 1 < len(words):
                return None if words[index + 1] == "-" else words[index + 1]
            if word.startswith("--output-document="):
                return word.split("=", 1)[1]
            if word.startswith("-") and not word.startswith("--") and "O" in word:
                rest = word[word.index("O") + 1 :]
                if rest:
                    return None if rest == "-" else rest
                if index + 1 < len(words):
                    return None if words[index + 1] == "-" else words[index + 1]
    if command.name == "wget" and url:
        return posixpath.basename(url.split("?", 1)[0]) or None
    return None


def _is_local_or_url(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~", "$", "file:"))
        or "://" in spec
        or spec.endswith((".whl", ".tar.gz", ".zip", ".tgz", ".deb", ".rpm"))
        or " @ " in spec
    )


def _pinned_requirement(spec: str) -> bool:
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        return True  # not a requirement we understand (a shell variable, a typo): do not guess
    specifiers = list(requirement.specifier)
    return len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version


def _npm_pinned(spec: str) -> bool:
    if spec.startswith(("/", ".", "file:", "$")) or spec.endswith(".tgz"):
        return True
    name_end = spec.find("@", 1)
    if name_end < 0:
        return False
    version = spec[name_end + 1 :]
    return bool(_SEMVER_EXACT.match(version))


def _nested_pipelines(pipeline: Pipeline) -> list[Pipeline]:
    """Pipelines of ``$(…)``, ``<(…)`` and ``sh -c '…'`` inside ``pipeline``."""
    found: list[Pipeline] = []
    for command in pipeline.commands:
        for nested in command.nested:
            found += nested.walk()
        for word in [*command.words, *(r.target for r in command.redirects if r.target)]:
            for substitution in word.substitutions:
                found += substitution.walk()
    return found


def _all_commands(pipeline: Pipeline) -> list[Command]:
    return [command for sub in [pipeline, *_nested_pipelines(pipeline)] for command in sub.commands]


def _forget(artifacts: dict[str, Artifact], artifact: Artifact) -> None:
    for name in [name for name, known in artifacts.items() if known is artifact]:
        del artifacts[name]


def _targets(artifacts: dict[str, Artifact], names: tuple[str, ...] | None) -> list[Artifact]:
    """The pending downloads a check covers: those it names, or all of them when it names none we know."""
    if names:
        named = [artifacts[name] for name in dict.fromkeys(names) if name in artifacts]
        if named:
            return named
    return list(artifacts.values())


_SHELL_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(text: str, variables: dict[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` replaced where the value is known; the rest left as written."""
    return _SHELL_VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), text)


def lint_dockerfile(file: LintFile, ctx: LintContext) -> list[Hit]:
    """Every Dockerfile rule over one file."""
    if len(file.text) > MAX_DOCKERFILE_BYTES:
        raise LintInputError(f"{file.display}: {len(file.text)} characters, too large for a Dockerfile")
    return _DockerfileLinter(file, ctx).run()
