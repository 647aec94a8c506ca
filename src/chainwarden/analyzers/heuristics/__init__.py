"""Static malicious-code heuristics over an opened package (never executes it).

:func:`analyze_artifact` decides when each file runs (install time, import
time, only when called, tests/docs), hands it to the Python or JavaScript
analyzer, sniffs bundled executables, and scores all signals together.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from chainwarden.analyzers.heuristics.common import (
    PYTHON_CAPABILITY_IMPORTS,
    RULES,
    Context,
    HeuristicRule,
    Kind,
    Signal,
    binary_kind,
    is_test_path,
    js_needs_parse,
    python_needs_parse,
    score,
    shadowed_command,
    shell_command_signals,
    snippet_of,
)
from chainwarden.analyzers.heuristics.javascript import (
    analyze_javascript,
    analyze_package_json,
    capability_scan,
    parse_package_json,
)
from chainwarden.analyzers.heuristics.python_ast import analyze_pth, analyze_python
from chainwarden.analyzers.packages import PackageArtifact, PackageFile
from chainwarden.analyzers.typosquat import bare_package
from chainwarden.models import Ecosystem, Finding, Package, Severity

__all__ = [
    "RULES",
    "Context",
    "HeuristicReport",
    "HeuristicRule",
    "Kind",
    "Signal",
    "analyze_artifact",
    "collect_signals",
]

JS_SUFFIXES = (".js", ".cjs", ".mjs")
SHELL_SUFFIXES = (".sh", ".bash", ".bat", ".cmd", ".ps1")
CAPABILITY_SCAN_CHARS = 20_000
#: File writes, deletes and renames, found in the text (a capability only: no parse needed).
#: The words locate candidates at C speed; the patterns confirm them on their line.
PYTHON_FS_WRITE: Final = (
    ("open(", re.compile(r"""(?<![\w])open\([^\n]*?,\s*(?:mode\s*=\s*)?['"][wax]b?\+?['"]""")),
    (".write_", re.compile(r"\.write_(?:text|bytes)\(")),
    *(
        (call, re.compile(rf"\b{re.escape(call)}\w*\("))
        for call in ("os.remove", "os.unlink", "os.rename", "os.replace", "os.truncate", "shutil.rmtree",
                     "shutil.move", "shutil.copy")
    ),
)  # fmt: skip
JS_FS_WRITE: Final = (
    *(
        (word, re.compile(rf"\b{word}(?:Sync)?\("))
        for word in ("writeFile", "appendFile", "createWriteStream", "unlink", "rmSync", "rmdir", "rename",
                     "copyFile", "truncate", "outputFile")
    ),
    ("rimraf", re.compile(r"\brimraf\b")),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HeuristicReport:
    """Findings for one package, plus what was read and how."""

    package: Package
    findings: tuple[Finding, ...]
    signals: tuple[Signal, ...]
    files_scanned: int
    js_parsed: int
    js_tokenized: int

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)


def _context_for(path: str, install_files: Collection[str], import_files: Collection[str]) -> Context:
    if path in install_files:
        return Context.INSTALL
    if is_test_path(path):
        return Context.TEST
    if path in import_files:
        return Context.IMPORT
    return Context.RUNTIME


def collect_signals(artifact: PackageArtifact) -> tuple[list[Signal], int, int, int]:
    """Every signal of every file; also counts (files, JS parsed, JS tokenized)."""
    signals: list[Signal] = []
    install_files: set[str] = set()
    import_files: set[str] = set()
    package_json = artifact.file("package.json")
    if package_json is not None:
        info = parse_package_json(package_json.text())
        if info is not None:
            install_files.update(f.removeprefix("./") for f in info.install_files)
            main = (info.main or "index.js").removeprefix("./")
            import_files.add(main if main.endswith(JS_SUFFIXES) else f"{main}.js")
            signals.extend(analyze_package_json("package.json", package_json.text()))
    install_files.update(_install_chain(artifact, install_files))
    scanned = parsed = tokenized = 0
    install_hooks = " ".join(s.why for s in signals if s.rule_id == "capability-install-hook")
    for package_file in artifact.files:
        path = package_file.path
        name = path.rsplit("/", 1)[-1]
        if name == "__init__.py" and path.count("/") <= 2:
            import_files.add(path)
        if package_file.complete and path.endswith((".py", ".pyw")):
            scanned += 1
            text = package_file.text()
            context = _context_for(path, install_files, import_files)
            if name == "setup.py" or context is Context.INSTALL or python_needs_parse(text):
                signals.extend(analyze_python(path, text, context))
            else:
                signals.extend(_python_capabilities(path, text, context))
            signals.extend(_fs_write_signal(path, text, context, PYTHON_FS_WRITE))
        elif package_file.complete and path.endswith(".pth"):
            scanned += 1
            signals.extend(analyze_pth(path, package_file.text()))
        elif package_file.complete and path.endswith(JS_SUFFIXES):
            scanned += 1
            text = package_file.text()
            context = _context_for(path, install_files, import_files)
            if context is Context.INSTALL or js_needs_parse(text):
                found, was_parsed = analyze_javascript(path, text, context)
                parsed += int(was_parsed)
                tokenized += int(not was_parsed)
            else:
                found = capability_scan(path, text, context)
                tokenized += 1
            signals.extend(found)
            signals.extend(_fs_write_signal(path, text, context, JS_FS_WRITE))
        elif package_file.complete and path.endswith(SHELL_SUFFIXES):
            scanned += 1
            signals.extend(_shell_signals(path, package_file.text(), _context_for(path, install_files, import_files)))
        elif (package_file.complete and name in ("binding.gyp", "binding.gypi")) or path.endswith(".gypi"):
            scanned += 1
            signals.extend(_gyp_signals(path, package_file.text()))
        signals.extend(_binary_signals(artifact, package_file, install_hooks))
    signals.extend(_command_shadowing(artifact))
    return signals, scanned, parsed, tokenized


_GYP_EXPANSION: Final = re.compile(r"<!@?\(\s*([^)\n]{1,2000})\)")
_ENTRY_POINT: Final = re.compile(r"^\s*([\w.+-]+)\s*=\s*[\w.]+(?::[\w.]+)?", re.MULTILINE)
_SETUP_SCRIPT: Final = re.compile(r"""['"]\s*([\w.+-]+)\s*=\s*[\w.]+:[\w.]+\s*['"]""")


def _gyp_signals(path: str, text: str) -> list[Signal]:
    """``binding.gyp``: node-gyp runs every ``<!(command)`` expansion when the package installs."""
    lines = text.splitlines()
    found: list[Signal] = []
    for match in _GYP_EXPANSION.finditer(text[:500_000]):
        command = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        for rule_id, why in shell_command_signals(command):
            if rule_id.startswith("malicious-"):
                found.append(
                    Signal(rule_id, path, line, snippet_of(lines, line), f"binding.gyp command {why}", Context.INSTALL)
                )
    return found


def _command_shadowing(artifact: PackageArtifact) -> list[Signal]:
    """Console scripts (entry_points.txt, setup.py) and npm ``bin`` entries named like common tools."""
    found: list[Signal] = []
    owner = artifact.name or ""
    for package_file in artifact.files:
        path = package_file.path
        commands: list[tuple[str, int]] = []
        if path.endswith("entry_points.txt") and package_file.complete:
            text = package_file.text()
            section = ""
            for number, entry in enumerate(text.splitlines(), 1):
                stripped = entry.strip()
                if stripped.startswith("["):
                    section = stripped
                elif section in ("[console_scripts]", "[gui_scripts]") and (match := _ENTRY_POINT.match(entry)):
                    commands.append((match.group(1), number))
        elif path == "setup.py" and package_file.complete and "console_scripts" in (text := package_file.text()):
            commands.extend((m.group(1), text.count("\n", 0, m.start()) + 1) for m in _SETUP_SCRIPT.finditer(text))
        elif path == "package.json" and package_file.complete:
            info = parse_package_json(package_file.text())
            if info is not None:
                commands.extend((command, 1) for command in info.bin_names)
                owner = info.name or owner
        for command, line in commands:
            if shadowed_command(command, owner):
                text_lines = package_file.text().splitlines()
                why = f"installs a command named {command!r}, which shadows the common tool of that name"
                found.append(
                    Signal(
                        "malicious-command-shadowing", path, line, snippet_of(text_lines, line), why, Context.RUNTIME
                    )
                )
    return found


_JS_LOCAL_REQUIRE: Final = re.compile(r"""(?:require\(|import\(|from\s)\s*['"](\.{1,2}/[^'"\n]+)['"]""")
#: ``spawn('nohup node update.js &', {shell: true})``: a hook script starting the next file itself.
_JS_NODE_COMMAND: Final = re.compile(r"""\bnode\s+(?:-{1,2}[\w-]+\s+)*['"]?(?:\./)?([\w./-]+\.[cm]?js)\b""")
_PY_IMPORT: Final = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)
_PY_OPENED: Final = re.compile(r"""(?:open|run_path|exec_module)\(\s*['"]([\w./-]+\.py)['"]""")
MAX_INSTALL_CHAIN: Final = 64


def _install_chain(artifact: PackageArtifact, roots: Collection[str]) -> set[str]:
    """Local files an install hook reaches: ``node a.js`` → ``require('./b')`` → ``./lib/c.js``;
    ``setup.py`` → ``import helpers`` → ``helpers.py``. A payload one hop away still runs at install time."""
    paths = {f.path for f in artifact.files if f.complete}
    todo = [p for p in roots if p in paths]
    setup = "setup.py" if "setup.py" in paths else None
    if setup:
        todo.append(setup)
    reached: set[str] = set(todo)
    while todo and len(reached) < MAX_INSTALL_CHAIN:
        path = todo.pop()
        package_file = artifact.file(path)
        if package_file is None:
            continue
        text = package_file.text()
        base = path.rsplit("/", 1)[0] if "/" in path else ""
        found: list[str] = []
        if path.endswith(JS_SUFFIXES):
            for target in _JS_LOCAL_REQUIRE.findall(text):
                joined = posixpath.normpath(posixpath.join(base, target))
                found.extend((joined, f"{joined}.js", f"{joined}/index.js"))
            if "node " in text:
                found.extend(posixpath.normpath(posixpath.join(base, t)) for t in _JS_NODE_COMMAND.findall(text))
        elif path.endswith(".py"):
            for module in (a or b for a, b in _PY_IMPORT.findall(text)):
                stem = posixpath.join(base, module.replace(".", "/"))
                found.extend((f"{stem}.py", f"{stem}/__init__.py"))
            found.extend(posixpath.normpath(posixpath.join(base, f)) for f in _PY_OPENED.findall(text))
        for candidate in found:
            if candidate in paths and candidate not in reached:
                reached.add(candidate)
                todo.append(candidate)
    reached.discard("setup.py")
    return reached


def _python_capabilities(path: str, text: str, context: Context) -> list[Signal]:
    """Network/process capabilities of a file with no threat keyword (no parse needed)."""
    found: list[Signal] = []
    text = text[:CAPABILITY_SCAN_CHARS]  # imports live at the top; generated modules run to megabytes
    for rule_id, modules in PYTHON_CAPABILITY_IMPORTS:
        offsets = [
            offset
            for module in modules
            for needle in (f"import {module}", f"from {module} import", f"from {module}.")
            if (offset := text.find(needle)) >= 0
        ]
        if offsets:
            line = text.count("\n", 0, min(offsets)) + 1
            snippet = snippet_of(text.splitlines(), line)
            found.append(Signal(rule_id, path, line, snippet, f"uses {snippet[:80]}", context))
    return found


def _fs_write_signal(
    path: str, text: str, context: Context, patterns: tuple[tuple[str, re.Pattern[str]], ...]
) -> list[Signal]:
    """The first line that writes, deletes or renames a file (a few candidate lines per word are looked at)."""
    first: tuple[int, str, str] | None = None  # offset, the call, its line
    for word, pattern in patterns:
        start = text.find(word)
        for _ in range(50):
            if start < 0 or (first is not None and start >= first[0]):
                break
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            if line_end < 0:
                line_end = len(text)
            match = pattern.search(text, line_start, line_end)
            if match is not None:
                first = (match.start(), match.group(0), text[line_start:line_end])
                break
            start = text.find(word, line_end)
    if first is None:
        return []
    offset, call, line = first
    line_number = text.count("\n", 0, offset) + 1
    why = f"writes or deletes files: {call}"
    return [Signal("capability-fs-write", path, line_number, snippet_of([line], 1), why, context)]


def _shell_signals(path: str, text: str, context: Context) -> list[Signal]:
    """Shell/batch/PowerShell scripts: each line judged as a command."""
    lines = text.splitlines()
    found: list[Signal] = []
    for number, line in enumerate(lines[:5000], 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "REM ", "rem ", "::")):
            continue
        for rule_id, why in shell_command_signals(stripped[:2000]):
            found.append(Signal(rule_id, path, number, snippet_of(lines, number), why, context))
    return found


def _binary_signals(artifact: PackageArtifact, package_file: PackageFile, install_hooks: str) -> list[Signal]:
    kind = binary_kind(package_file.path, package_file.data[:64])
    if kind is None:
        return []
    name = package_file.path.rsplit("/", 1)[-1]
    source_package = artifact.kind in ("sdist", "npm-tarball", "directory")
    if install_hooks and name in install_hooks:
        severity: Severity | None = Severity.HIGH
        why = f"{kind} run by an install script"
    elif source_package and artifact.ecosystem is Ecosystem.PYPI:
        severity = Severity.MEDIUM
        why = f"{kind} shipped inside a source distribution ({package_file.size} bytes)"
    else:
        severity = None
        why = f"bundled {kind} ({package_file.size} bytes)"
    return [
        Signal(
            "capability-native-binary",
            package_file.path,
            1,
            f"<{kind}, {package_file.size} bytes>",
            why,
            Context.INSTALL if severity is Severity.HIGH else Context.RUNTIME,
            severity=severity,
        )
    ]


def analyze_artifact(artifact: PackageArtifact, package: Package | None = None) -> HeuristicReport:
    """Run every heuristic over ``artifact`` and score the result."""
    package = package or bare_package(artifact.ecosystem, artifact.name, artifact.version)
    signals, scanned, parsed, tokenized = collect_signals(artifact)
    findings = score(signals, package)
    return HeuristicReport(package, tuple(findings), tuple(signals), scanned, parsed, tokenized)
