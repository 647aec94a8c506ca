"""Python heuristics over the ``ast`` (precise, not regex): never imports or runs the code.

Per function scope the analyzer resolves call names through import aliases
(``from base64 import b64decode as d``), folds constant strings built to hide
names (``"sys" + "tem"``, ``"".join(chr(c) …)``, ``"so"[::-1]``) and follows
simple taint through assignments, so that "read ``~/.aws/credentials`` → POST
it" is a proven flow rather than two unrelated lines.
"""

from __future__ import annotations

import ast
import base64
import binascii
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from chainwarden.analyzers.heuristics.common import (
    CREDENTIAL_ENV_NAME,
    ROOT_AND_HOME,
    WALLET_ADDRESS,
    WORKING_DIRECTORY,
    WORKING_DIRECTORY_LABEL,
    Context,
    Signal,
    WalletSecrets,
    asset_label,
    credential_label,
    decode_literal,
    destructive_write,
    egress_signal,
    exfil_label,
    python_may_destroy,
    shell_command_signals,
    snippet_of,
)
from chainwarden.models import Severity

MAX_AST_BYTES: Final = 2 * 1024 * 1024
MAX_EMBEDDED_BYTES: Final = 256 * 1024
#: Code carried in a string (``CODE = "import os; os.system(...)"`` written to a file and run).
EMBEDDED_CODE_HINT: Final = re.compile(
    r"\bimport\s+(?:os|sys|subprocess|socket|base64|requests|urllib|ctypes|pty|marshal|zlib)\b|\bexec\s*\(|\beval\s*\("
    r"|os\.system\s*\(|subprocess\.|urlopen\s*\(|/dev/tcp/|powershell|Invoke-|\bcurl\s|\bwget\s|\bstart\s+/b\b"
    r"|pythonw|\bcmd(?:\.exe)?\s+/c\b"
)
_BLOB_HEAD: Final = re.compile(r"[A-Za-z0-9+/_\-]{40}")
BASE64_BLOB: Final = re.compile(r"[A-Za-z0-9+/=\s]{40,}|[A-Za-z0-9_\-=\s]{40,}")

NETWORK_PREFIXES: Final = (
    "requests.", "urllib.request.", "urllib2.", "urllib3.", "http.client.", "httplib.", "httpx.", "aiohttp.",
    "socket.socket", "socket.create_connection", "dns.resolver.", "ftplib.", "smtplib.", "telnetlib.", "websocket.",
    "websockets.", "pycurl.", "urllib.urlopen", "urllib.urlretrieve", "socket.gethostbyname", "socket.getaddrinfo",
)  # fmt: skip
DNS_CALLS: Final = ("socket.gethostbyname", "socket.getaddrinfo", "dns.resolver.")
SOCKET_SEND_METHODS: Final = frozenset({"send", "sendall", "sendto", "connect", "connect_ex"})
SUBPROCESS_CALLS: Final = (
    "subprocess.", "os.system", "os.popen", "os.exec", "os.spawn", "os.startfile", "os.posix_spawn", "pty.spawn",
    "commands.", "asyncio.create_subprocess_", "popen2.",
)  # fmt: skip
EXEC_CALLS: Final = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile",
                               "__builtin__.eval", "execfile", "types.FunctionType", "runpy.run_path"})  # fmt: skip
DECODE_CALLS: Final = (
    "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
    "base64.decodebytes", "base64.decodestring", "base64.urlsafe_b64decode", "binascii.unhexlify",
    "binascii.a2b_base64", "binascii.a2b_hex", "bytes.fromhex", "codecs.decode", "zlib.decompress",
    "gzip.decompress", "bz2.decompress", "lzma.decompress", "marshal.loads", "pickle.loads", "cryptography.fernet",
)  # fmt: skip
RECON_CALLS: Final = frozenset({"getpass.getuser", "socket.gethostname", "socket.getfqdn", "os.getlogin",
                                "platform.node", "os.uname", "platform.uname"})  # fmt: skip
# ``dict(os.environ)`` is how benign code copies the environment for a child
# process: it is a taint source, not a signal by itself.
SERIALISERS: Final = frozenset({"json.dumps", "str", "repr", "print", "base64.b64encode",
                                "urllib.parse.urlencode", "pickle.dumps", "json.dump", "yaml.dump"})  # fmt: skip
#: Desktop-client injection: a browser started with a side-loaded extension through its shortcuts,
#: Discord's desktop core rewritten (the client then runs the attacker's JavaScript with the user's token).
CLIENT_INJECTION_MARKERS: Final = (
    ("extension", re.compile(r"--load-extension")),
    ("shortcut", re.compile(r"\.lnk\b|WScript\.Shell|TargetPath", re.IGNORECASE)),
    ("discord-core", re.compile(r"discord_desktop_core", re.IGNORECASE)),
    ("client-js", re.compile(r"(?:^|[\\/])index\.js$|core\.asar|app\.asar", re.IGNORECASE)),
)
_CLIENT_HINT: Final = re.compile(r"--load-extension|\.lnk|WScript|TargetPath|discord_desktop_core|index\.js|\.asar")
PROCESS_AND_WRITE_SINKS: Final = ("subprocess.", "os.system", "os.popen", "open", "io.open", "os.path.join")
CLIPBOARD_MARKERS: Final = ("pyperclip.", "clipboard.", "win32clipboard.", "pyclip.", "klembord.")
INSTALL_COMMANDS: Final = frozenset(
    {"install", "develop", "egg_info", "build_py", "sdist", "bdist_egg", "easy_install"}
)
PACKER_CALLS: Final = frozenset({"__pyarmor__", "pyarmor", "__armor_wrap__"})
WALLET_LITERAL: Final = re.compile(r"^(bc1[a-z0-9]{25,60}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[a-fA-F0-9]{40})$")
HIDDEN_PAST_EDGE: Final = re.compile(r"\S[ \t]{150,}\S")
STRING_LITERAL: Final = re.compile(r"""'[^'\n]{3,300}'|"[^"\n]{3,300}\"""")
FALLBACK_DECODE_EXEC: Final = re.compile(
    r"\b(?:exec|eval)\b[^\n]{0,200}\b(?:b64decode|decodestring|unhexlify|decompress|marshal\.loads)"
)
FALLBACK_NETWORK: Final = re.compile(r"\b(?:urlopen|requests\.(?:get|post)|socket\.socket)\b")
#: Every credential, endpoint and wallet pattern needs one of these characters or words.
_STRING_HINTS: Final = re.compile(
    r"[/\\:]|\.(?:aws|ssh|npmrc|pypirc|kube|docker)|ROBLOSECURITY|Data|wallet|Exodus|Electrum|MetaMask|tdata|\^|bc1|0x"
)
TAINT_TRIGGERS: Final = re.compile(
    r"environ|getuser|gethostname|getfqdn|getlogin|platform\.node|uname|\.ssh|id_rsa|\.aws|npmrc|pypirc|credentials"
    r"|passwd|shadow|leveldb|Login Data|Web Data|key4|logins|Cookies|User Data|Firefox|wallet|Exodus|Electrum"
    r"|MetaMask|discord|Telegram|tdata|_history|\.docker|\.kube|gh|seed_?phrase|mnemonic|priv_?key|private_?key|xprv"
    r"|getenv|TOKEN|SECRET|PASSWORD|_KEY|ROBLOSECURITY|169\.254\.169\.254|metadata",
    re.IGNORECASE,
)
LISTING_CALLS: Final = frozenset({"os.listdir", "os.scandir", "os.walk", "glob.glob", "glob.iglob"})
LISTING_METHODS: Final = frozenset({"iterdir", "glob", "rglob", "walk"})
#: Calls that overwrite or delete the path in their first argument (``open`` only in a writing mode).
DESTRUCTIVE_CALLS: Final = frozenset({"os.remove", "os.unlink", "os.truncate", "shutil.rmtree", "open", "io.open"})
DESTRUCTIVE_METHODS: Final = frozenset({"write_text", "write_bytes", "unlink"})
HOME_DIRECTORY_CALLS: Final = frozenset({"pathlib.Path.home()", "Path.home()"})
WORKING_DIRECTORY_CALLS: Final = frozenset({"os.getcwd()", "pathlib.Path.cwd()", "Path.cwd()"})
DECODE_TRIGGERS: Final = re.compile(
    r"b64|base64|b32|b85|a85|hex|zlib|gzip|bz2|lzma|marshal|pickle|codecs|decode|chr|decrypt"
)


@dataclass(slots=True)
class _Scope:
    name: str
    taint: dict[str, str] = field(default_factory=dict)  # variable → what it holds ("credential file", …)
    network_fetch_line: int | None = None
    runs_process_line: int | None = None
    socket_connect_line: int | None = None
    dup2_line: int | None = None
    listings: dict[str, str] = field(default_factory=dict)  # variable → whose directory entries it holds
    directories: dict[str, str] = field(default_factory=dict)  # variable → the directory it names


_INT_OPS: Final[dict[type[ast.operator], Callable[[int, int], int | None]]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b if b else None, ast.Mod: lambda a, b: a % b if b else None,
    ast.BitOr: lambda a, b: a | b, ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b,
    ast.LShift: lambda a, b: a << b if 0 <= b <= 64 else None, ast.RShift: lambda a, b: a >> b if b >= 0 else None,
}  # fmt: skip
#: ``str(oct)``, ``copyright.__str__()``: text a builtin prints, indexed to spell names without literals.
_BUILTIN_TEXT: Final = {"copyright": "Copyright (c) 2001 Python Software Foundation.", "credits": "    Thanks to CWI"}


def fold_int(node: ast.AST, depth: int = 0) -> int | None:
    """The integer a constant arithmetic expression computes (``(3 << 5) + 1``), or None."""
    if depth > 40:
        return None
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value if abs(node.value) < 1 << 64 else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Invert, ast.UAdd)):
        value = fold_int(node.operand, depth + 1)
        if value is None:
            return None
        return -value if isinstance(node.op, ast.USub) else ~value if isinstance(node.op, ast.Invert) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
        left, right = fold_int(node.left, depth + 1), fold_int(node.right, depth + 1)
        if left is None or right is None:
            return None
        result = _INT_OPS[type(node.op)](left, right)
        return result if result is not None and abs(result) < 1 << 64 else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ord" and node.args:
        text = fold(node.args[0], depth + 1)
        return ord(text) if text is not None and len(text) == 1 else None
    return None


def _builtin_text(node: ast.AST) -> str | None:
    """``oct.__str__()`` / ``str(oct)`` → ``<built-in function oct>``."""
    target: ast.AST | None = None
    if isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("__str__", "__repr__"):
            target = node.func.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("str", "repr")
        and len(node.args) == 1
    ):
        target = node.args[0]
    if not isinstance(target, ast.Name):
        return None
    if target.id in _BUILTIN_TEXT:
        return _BUILTIN_TEXT[target.id]
    if target.id in _BUILTIN_FUNCTIONS:
        return f"<built-in function {target.id}>"
    if target.id in _BUILTIN_TYPES:
        return f"<class '{target.id}'>"
    return None


_BUILTIN_FUNCTIONS: Final = frozenset({
    "abs", "all", "any", "ascii", "bin", "callable", "chr", "compile", "delattr", "dir", "divmod", "eval", "exec",
    "format", "getattr", "globals", "hasattr", "hash", "hex", "id", "input", "isinstance", "issubclass", "iter",
    "len", "locals", "max", "min", "next", "oct", "open", "ord", "pow", "print", "repr", "round", "setattr",
    "sorted", "sum", "vars", "__import__",
})  # fmt: skip
_BUILTIN_TYPES: Final = frozenset({
    "bool", "bytearray", "bytes", "complex", "dict", "enumerate", "filter", "float", "frozenset", "int", "list",
    "map", "memoryview", "object", "property", "range", "reversed", "set", "slice", "str", "super", "tuple", "type",
    "zip",
})  # fmt: skip


def _is_chr_function(node: ast.AST) -> bool:
    """``chr``, or ``getattr(__builtins__, <something folding to "chr">)``."""
    if isinstance(node, ast.Name):
        return node.id == "chr"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id in ("__builtins__", "builtins")
        and fold(node.args[1]) == "chr"
    )


def fold(node: ast.AST, depth: int = 0) -> str | None:
    """The constant string an expression builds, or None when not constant."""
    if depth > 40:
        return None
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        if isinstance(node.value, bytes):
            return node.value.decode("latin-1")
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = fold(node.left, depth + 1), fold(node.right, depth + 1)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue):
                inner = fold(value.value, depth + 1)
                if inner is None:
                    return None
                parts.append(inner)
            else:
                return None
        return "".join(parts)
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        base = fold(node.value, depth + 1)
        index = fold_int(node.slice)
        if base is not None and index is not None and -len(base) <= index < len(base):
            return base[index]
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        base = fold(node.value, depth + 1)
        step = node.slice.step
        if (
            base is not None
            and isinstance(step, ast.UnaryOp)
            and isinstance(step.op, ast.USub)
            and isinstance(step.operand, ast.Constant)
            and step.operand.value == 1
            and not node.slice.lower
        ):
            return base[::-1]
        return None
    if isinstance(node, ast.Call):
        func = node.func
        builtin = _builtin_text(node)
        if builtin is not None:
            return builtin
        if _is_chr_function(func) and len(node.args) == 1:
            code = fold_int(node.args[0])
            return chr(code) if code is not None and 0 <= code < 0x110000 else None
        if isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1:
            sep = fold(func.value, depth + 1)
            arg = node.args[0]
            if sep is None:
                return None
            if isinstance(arg, (ast.List, ast.Tuple)):
                items = [fold(elt, depth + 1) for elt in arg.elts]
                return sep.join(i for i in items if i is not None) if all(i is not None for i in items) else None
            iterable: ast.AST | None = None
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) and _is_chr_map(arg):
                iterable = arg.generators[0].iter
            elif (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Name)
                and arg.func.id == "map"
                and len(arg.args) == 2
                and _is_chr_function(arg.args[0])
            ):
                iterable = arg.args[1]  # ''.join(map(chr, [...]))
            if isinstance(iterable, (ast.List, ast.Tuple)):
                codes = [fold_int(e) for e in iterable.elts]
                if all(c is not None and 0 <= c < 0x110000 for c in codes):
                    return sep.join(chr(c) for c in codes if c is not None)
        if isinstance(func, ast.Attribute) and func.attr == "decode" and not node.args:
            return fold(func.value, depth + 1)
    return None


def _is_chr_map(comp: ast.GeneratorExp | ast.ListComp) -> bool:
    elt = comp.elt
    return isinstance(elt, ast.Call) and _is_chr_function(elt.func) and len(comp.generators) == 1


def _is_constructed(node: ast.AST) -> bool:
    """A string built at run time: concatenation, f-string, %/format, join."""
    if isinstance(node, (ast.BinOp, ast.JoinedStr)):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join")


def _has_blob(node: ast.AST) -> bool:
    """An embedded constant payload (a literal of 16+ characters) inside the expression."""
    return any(
        isinstance(sub, ast.Constant) and isinstance(sub.value, (str, bytes)) and len(sub.value) >= 16
        for sub in ast.walk(node)
    )


def _is_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant)


def decode_blob(text: str) -> str | None:
    """What a base64 (or hex) literal of 40+ characters says, when it is text; None for binary or not encoded."""
    # fast refusals first: this runs on every long string literal of every parsed file
    if len(text) < 40 or len(text) > 4 * MAX_EMBEDDED_BYTES or " " in text or not _BLOB_HEAD.match(text):
        return None
    compact = "".join(text.split())
    raw: bytes | None = None
    if len(compact) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in compact[:200]):
        try:
            raw = bytes.fromhex(compact)
        except ValueError:
            raw = None
    if raw is None and BASE64_BLOB.fullmatch(text):
        padded = compact + "=" * (-len(compact) % 4)
        try:
            raw = base64.b64decode(
                padded, altchars=b"-_" if ("-" in compact or "_" in compact) else None, validate=True
            )
        except (ValueError, binascii.Error):
            return None
    if raw is None:
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\r\n\t" for c in decoded[:4000])
    return decoded if printable >= 0.95 * min(len(decoded), 4000) else None


class PythonAnalyzer(ast.NodeVisitor):
    """Collects :class:`Signal` records from one Python source file."""

    def __init__(
        self, path: str, source: str, context: Context, *, setup_script: bool = False, nesting: int = 0
    ) -> None:
        self.nesting = nesting  # code found inside a string of code (embedded payloads), at most twice
        self.docstrings: set[int] = set()
        self.char_code_strings: list[int] = []
        self.client_markers: dict[str, int] = {}
        self.path = path
        self.source = source
        self.lines = source.splitlines()
        self.base_context = context
        self.setup_script = setup_script
        self.aliases: dict[str, str] = {}
        self.scopes: list[_Scope] = [_Scope("<module>")]
        self.signals: list[Signal] = []
        self.parents: dict[int, ast.AST] = {}
        self.clipboard_lines: list[int] = []
        self.wallet_lines: list[int] = []
        self.install_reasons: list[tuple[int, str]] = []
        self.may_taint = True
        self.may_decode = True
        self.wallet = WalletSecrets(source)
        self.may_destroy = python_may_destroy(source)
        self._secret_arguments: dict[str, dict[int, str]] = {}  # local function → parameter index → secret

    # ------------------------------------------------------------------ entry

    def run(self) -> list[Signal]:
        if len(self.source) > MAX_AST_BYTES:
            return self._fallback()
        try:
            with warnings.catch_warnings():
                # Invalid escapes etc. in scanned code are the package's business, not the user's.
                warnings.simplefilter("ignore")
                tree = ast.parse(self.source, filename=self.path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return self._fallback()
        self.may_taint = bool(TAINT_TRIGGERS.search(self.source))
        self.may_decode = bool(DECODE_TRIGGERS.search(self.source))
        if self.may_taint and self.wallet.possible:
            self._find_secret_arguments(tree)
        if "environ" in self.source:
            # only the os.environ checks need parents; building them costs a full walk
            for parent in ast.walk(tree):
                if isinstance(parent, (ast.Subscript, ast.Attribute)):
                    for child in ast.iter_child_nodes(parent):
                        self.parents[id(child)] = parent
        try:
            self.visit(tree)
        except RecursionError:
            return self._fallback()
        self._finish()
        return self.signals

    def _fallback(self) -> list[Signal]:
        """Python 2 or otherwise unparsable code: whole-text scans mapped back to lines."""
        position = {"offset": 0, "line": 1}

        def line_of(offset: int) -> int:
            # matches arrive in order: count newlines incrementally, O(n) overall
            position["line"] += self.source.count("\n", position["offset"], offset)
            position["offset"] = offset
            return position["line"]

        if _STRING_HINTS.search(self.source):
            for match in STRING_LITERAL.finditer(self.source):
                value = match.group(0)[1:-1]
                if _STRING_HINTS.search(value):
                    self._string_signals(value, line_of(match.start()))
        position.update(offset=0, line=1)
        for match in FALLBACK_DECODE_EXEC.finditer(self.source):
            self._emit("malicious-decode-exec", line_of(match.start()), "executes decoded data (unparsed source)")
        network = FALLBACK_NETWORK.search(self.source)
        if network:
            position.update(offset=0, line=1)
            self._emit("capability-network", line_of(network.start()), "network call (unparsed source)")
        self._hidden_past_edge()
        return self.signals

    # ---------------------------------------------------------------- helpers

    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    def _context(self) -> Context:
        if self.base_context is Context.IMPORT and len(self.scopes) > 1:
            return Context.RUNTIME
        return self.base_context

    def _emit(
        self,
        rule_id: str,
        line: int,
        why: str,
        *,
        flow: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        self.signals.append(
            Signal(
                rule_id=rule_id,
                path=self.path,
                line=line,
                snippet=snippet_of(self.lines, line),
                why=why,
                context=self._context(),
                scope=self.scope.name,
                flow=flow,
                severity=severity,
            )
        )

    def qual(self, node: ast.AST, depth: int = 0) -> str | None:
        """Dotted name of an expression through import aliases (``b64.b64decode`` → ``base64.b64decode``)."""
        if depth > 30:
            return None
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qual(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.qual(node.func, depth + 1)
            if func in ("__import__", "importlib.import_module") and node.args:
                return fold(node.args[0])
            if func == "getattr" and len(node.args) >= 2:
                owner = self.qual(node.args[0], depth + 1)
                attr = fold(node.args[1])
                if owner and attr:
                    return f"{owner}.{attr}".replace("__builtins__.", "builtins.")
            return f"{func}()" if func else None
        if isinstance(node, ast.Subscript):
            owner = self.qual(node.value, depth + 1)
            key = fold(node.slice)
            if owner in ("__builtins__", "builtins.__dict__", "__builtins__.__dict__", "globals()") and key:
                return key if key in ("exec", "eval", "compile", "__import__") else f"builtins.{key}"
        return None

    def _names_in(self, node: ast.AST) -> Iterator[str]:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                yield sub.id

    def _taint_of(self, node: ast.AST) -> str | None:
        """What secret-ish data an expression carries, if any."""
        if not self.may_taint:
            return None
        for sub in ast.walk(node):
            taint = self.scope.taint.get(sub.id) if isinstance(sub, ast.Name) else None
            if taint is not None and taint != "network response" and not taint.startswith("decoded"):
                return taint
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                label = credential_label(sub.value)
                if label:
                    return f"{label} ({sub.value[:60]!r})"
            if isinstance(sub, ast.Call):
                name = self.qual(sub.func)
                joined = self._joined_path(sub, name)
                if joined:
                    return joined
                if name in RECON_CALLS:
                    return f"host identity ({name}())"
                if name in ("os.environ.copy", "os.environ.items", "os.environ.keys", "os.environ.values") or (
                    name in ("dict", "json.dumps", "str", "repr")
                    and sub.args
                    and self.qual(sub.args[0]) == "os.environ"
                ):
                    return "the whole environment (os.environ)"
            if isinstance(sub, ast.Attribute) and self.wallet.possible and (secret := self.wallet.label(sub.attr)):
                return secret
            if (secret_variable := self._credential_variable(sub)) is not None:
                return secret_variable
            if isinstance(sub, ast.Attribute) and self.qual(sub) == "os.environ":
                parent = self.parents.get(id(sub))
                if not isinstance(parent, ast.Subscript) and not (
                    isinstance(parent, ast.Attribute) and parent.attr in ("get", "setdefault", "pop")
                ):
                    return "the whole environment (os.environ)"
        return None

    def _credential_variable(self, node: ast.AST) -> str | None:
        """``os.environ["NPM_TOKEN"]``, ``os.getenv("AWS_SECRET_ACCESS_KEY")``: a credential, by its name."""
        key: str | None = None
        if isinstance(node, ast.Subscript) and self.qual(node.value) == "os.environ":
            key = fold(node.slice)
        elif isinstance(node, ast.Call) and node.args and self.qual(node.func) in ("os.getenv", "os.environ.get"):
            key = fold(node.args[0])
        if key and CREDENTIAL_ENV_NAME.search(key):
            return f"credential variable ${key}"
        return None

    def _joined_path(self, call: ast.Call, name: str | None) -> str | None:
        """``os.path.join(appdata, "discord", "Local Storage", "leveldb")``: the secret store it reaches."""
        if name not in ("os.path.join", "posixpath.join", "ntpath.join", "pathlib.Path", "Path"):
            return None
        parts = [fold(arg) or "" for arg in call.args]
        text = "/".join(p for p in parts if p)
        label = credential_label(text)
        return f"{label} ({text[:60]!r})" if label else None

    def _network_data(self, node: ast.AST) -> bool:
        if "network response" not in self.scope.taint.values():
            return False
        return any(
            isinstance(sub, ast.Name) and self.scope.taint.get(sub.id) == "network response" for sub in ast.walk(node)
        )

    def _asset_read(self, node: ast.AST) -> str | None:
        """``open("logo.png", "rb").read()``, ``Path("font.ttf").read_bytes()``: data out of a non-code file."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and sub.args:
                name = (self.qual(sub.func) or "").rsplit(".", 1)[-1]
                if name in ("open", "Path", "PurePath", "read_file") and (
                    label := asset_label(self._path_text(sub.args[0]))
                ):
                    return label
        return None

    def _path_text(self, node: ast.AST) -> str | None:
        """A literal path, or the last literal part of ``os.path.join(here, "logo.png")`` / ``here / "x.png"``."""
        text = fold(node)
        if text is not None:
            return text
        if isinstance(node, ast.Call) and node.args and (self.qual(node.func) or "").endswith("path.join"):
            return fold(node.args[-1])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return fold(node.right)
        return None

    def _decoded(self, node: ast.AST) -> str | None:
        if (asset := self._asset_read(node)) is not None:
            return asset
        if not self.may_decode:
            return next(
                (
                    self.scope.taint[sub.id]
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Name)
                    and self.scope.taint.get(sub.id, "").startswith("decoded data (a non-code")
                ),
                None,
            )
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name = self.qual(sub.func) or ""
                if name.startswith(DECODE_CALLS) or name.endswith(".decrypt"):
                    return name
                if isinstance(sub.func, ast.Attribute) and sub.func.attr == "decode" and sub.args:
                    codec = fold(sub.args[0]) or ""
                    if codec.replace("_", "").lower() in ("rot13", "hex", "base64", "zlib", "bz2"):
                        return f".decode({codec!r})"
                if isinstance(sub.func, ast.Attribute) and sub.func.attr == "join" and sub.args:
                    arg = sub.args[0]
                    if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) and _is_chr_map(arg):
                        return "''.join(chr(…))"
            if isinstance(sub, ast.Name) and self.scope.taint.get(sub.id, "").startswith("decoded"):
                return self.scope.taint[sub.id]
        return None

    # ---------------------------------------------------------------- visitors

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        scope = _Scope(f"{self.scope.name}.{node.name}")
        if self.may_taint and self.wallet.possible:
            arguments = node.args
            passed_in = self._secret_arguments.get(node.name, {})
            for index, argument in enumerate([*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]):
                secret = self.wallet.label(argument.arg) or passed_in.get(index)
                if secret:
                    scope.taint[argument.arg] = secret
        self.scopes.append(scope)
        self.generic_visit(node)
        self._close_scope()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.setup_script:
            for base in node.bases:
                name = (self.qual(base) or "").split(".")[-1]
                if name in INSTALL_COMMANDS:
                    self.install_reasons.append((node.lineno, f"overrides the {name!r} command (cmdclass)"))
        self.generic_visit(node)

    def _close_scope(self) -> None:
        scope = self.scopes.pop()
        self._judge_scope(scope)

    def _judge_scope(self, scope: _Scope) -> None:
        saved = self.scopes
        self.scopes = [*saved, scope]
        if scope.network_fetch_line and scope.runs_process_line:
            line = max(scope.network_fetch_line, scope.runs_process_line)
            self._emit(
                "malicious-download-exec",
                line,
                f"downloads at line {scope.network_fetch_line} and executes/chmods at line {scope.runs_process_line}",
            )
        if scope.socket_connect_line and scope.dup2_line:
            self._emit(
                "malicious-reverse-shell",
                scope.dup2_line,
                f"socket connected at line {scope.socket_connect_line}, its descriptors handed to a shell",
            )
        self.scopes = saved

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assign(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assign([node.target], node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assign([node.target], node.value)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._assign([item.optional_vars], item.context_expr)
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._assign([node.target], node.iter)
        self.generic_visit(node)

    def _find_secret_arguments(self, tree: ast.AST) -> None:
        """Local functions called with a wallet secret: ``check(private_key)`` taints ``check``'s parameter."""
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                continue
            for index, argument in enumerate(call.args):
                name = argument.id if isinstance(argument, ast.Name) else getattr(argument, "attr", None)
                secret = self.wallet.label(name)
                if secret:
                    passed = f"{secret[:-1]}, passed in at line {call.lineno})"
                    self._secret_arguments.setdefault(call.func.id, {})[index] = passed

    def _assign(self, targets: list[ast.expr], value: ast.AST) -> None:
        names = [n for t in targets for n in self._names_in(t)]
        if self.may_destroy:
            listed = self._listing_of(value)
            if listed:
                self.scope.listings.update(dict.fromkeys(names, listed))
            elif directory := self._directory_label(value):
                self.scope.directories.update(dict.fromkeys(names, directory))
        taint = self._taint_of(value)
        decoded = self._decoded(value)
        call_name = self.qual(value.func) if isinstance(value, ast.Call) else None
        for name in names:
            if taint:
                self.scope.taint[name] = taint
            elif decoded:
                blob = ", embedded blob" if _has_blob(value) else ""
                self.scope.taint[name] = f"decoded data ({decoded}{blob})"
            elif (
                call_name and call_name.startswith(NETWORK_PREFIXES) and not call_name.startswith("socket.socket")
            ) or self._network_data(value):
                self.scope.taint[name] = "network response"
            if isinstance(value, ast.Call) and call_name and len(targets) == 1 and isinstance(targets[0], ast.Name):
                # ``s = socket.socket()`` lets ``s.connect`` resolve to ``socket.socket().connect``;
                # ``m = __import__("o" + "s")`` makes ``m`` the module ``os``.
                self.aliases[name] = self.qual(value) or f"{call_name}()"
            elif (
                isinstance(value, (ast.Name, ast.Attribute)) and len(targets) == 1 and isinstance(targets[0], ast.Name)
            ):
                resolved = self.qual(value)
                if resolved and resolved != name and "." in resolved:
                    self.aliases[name] = resolved

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            self.docstrings.add(id(node.value))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # One cheap regex decides whether the full credential/endpoint/wallet checks are worth running.
        if isinstance(node.value, str) and len(node.value) >= 3 and _STRING_HINTS.search(node.value):
            self._string_signals(node.value, node.lineno)
        if isinstance(node.value, str) and _CLIENT_HINT.search(node.value):
            self._client_markers(node.value, node.lineno)
        if id(node) in self.docstrings or not isinstance(node.value, (str, bytes)) or len(node.value) < 20:
            return
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        decoded = decode_blob(text)
        if decoded is not None and EMBEDDED_CODE_HINT.search(decoded):
            self._emit("malicious-obfuscation", node.lineno, f"code hidden in an encoded literal: {decoded[:80]!r}")
            self._embedded(decoded, node.lineno, "encoded literal", as_commands=True)
        elif EMBEDDED_CODE_HINT.search(text):
            self._embedded(text, node.lineno, "string literal", as_commands=False)

    def _embedded(self, text: str, line: int, where: str, *, as_commands: bool) -> None:
        """Threats in code carried as data (written to a file and run, decoded and run): judged as code."""
        if self.nesting >= 2 or len(text) > MAX_EMBEDDED_BYTES:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            parsed = None
        if parsed is not None and any(isinstance(n, ast.Call) for n in ast.walk(parsed)):
            nested = PythonAnalyzer(self.path, text, self._context(), nesting=self.nesting + 1).run()
            for signal in nested:
                if signal.rule_id.startswith("malicious-"):
                    self._emit(signal.rule_id, line, f"{where} holds code that {signal.why}", flow=signal.flow)
            return
        if as_commands:
            for command in text.replace("&&", "\n").replace(" & ", "\n").splitlines()[:500]:
                for rule_id, why in shell_command_signals(command.strip()[:2000]):
                    if rule_id.startswith("malicious-"):
                        self._emit(rule_id, line, f"{where} holds a command that {why}")

    def _string_signals(self, text: str, line: int) -> None:
        label = credential_label(text)
        if label:
            self._emit("malicious-credential-access", line, f"names {label}: {text[:80]!r}")
        endpoint = exfil_label(text)
        if endpoint:
            self._emit("malicious-exfil-endpoint", line, endpoint)
        if WALLET_ADDRESS.search(text) or WALLET_LITERAL.match(text):
            self.wallet_lines.append(line)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qual(node.func) or ""
        line = node.lineno
        self._check_hidden_names(node, name)
        if name == "marshal.loads" and node.args and _has_blob(node.args[0]):
            self._emit(
                "malicious-obfuscation", line, "compiled code hidden in a data literal (marshal.loads of a blob)"
            )
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join" and node.args:
            built = fold(node)
            if built is not None and not isinstance(node.args[0], (ast.List, ast.Tuple)):
                # ''.join(map(chr, [(3 << 5) + 1, …])): text spelled in character codes
                self.char_code_strings.append(line)
                if len(built) >= 3:
                    self._string_signals(built, line)
                    self._client_markers(built, line)
        elif name.startswith(PROCESS_AND_WRITE_SINKS) and node.args:
            for arg in node.args:
                built = fold(arg)
                if built is not None:
                    self._client_markers(built, line)
        if name.rsplit(".", 1)[-1] in PACKER_CALLS and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, bytes) for arg in node.args
        ):
            # ``__pyarmor__(__name__, __file__, b'PY…')``: the module body is an encrypted blob
            self._emit("malicious-obfuscation", line, f"module body is a PyArmor-encrypted blob passed to {name}()")
        if name in EXEC_CALLS or (name.split(".")[-1] in ("exec", "eval") and name.startswith("builtins")):
            self._check_exec(node, name)
        elif name.startswith(NETWORK_PREFIXES) or (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in SOCKET_SEND_METHODS
            and (self.qual(node.func.value) or "").startswith("socket.")
        ):
            self._check_network(node, name)
        elif name.startswith(SUBPROCESS_CALLS):
            self._check_process(node, name)
        elif name in ("os.chmod", "os.startfile") and self.scope.network_fetch_line:
            self.scope.runs_process_line = line
        elif name == "os.dup2":
            self.scope.dup2_line = line
        if name.startswith(CLIPBOARD_MARKERS) or (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("clipboard_append", "clipboard_get")
        ):
            self.clipboard_lines.append(line)
        joined = self._joined_path(node, name)
        if joined:
            self._emit("malicious-credential-access", line, f"builds a path to {joined}")
        if name in SERIALISERS and node.args and self.qual(node.args[0]) == "os.environ":
            self._emit("malicious-env-exfiltration", line, f"serialises the whole environment with {name}()")
        if isinstance(node.func, ast.Attribute) and node.func.attr == "write" and self._network_data(node):
            self.scope.network_fetch_line = line
        if self.may_destroy:
            self._check_destructive(node, name)
        self.generic_visit(node)

    def _client_markers(self, text: str, line: int) -> None:
        for marker, pattern in CLIENT_INJECTION_MARKERS:
            if pattern.search(text):
                self.client_markers.setdefault(marker, line)

    def _check_hidden_names(self, node: ast.Call, name: str) -> None:
        index = {"getattr": 1, "__import__": 0, "importlib.import_module": 0}.get(name)
        if index is None or len(node.args) <= index:
            return
        arg = node.args[index]
        hidden = fold(arg)
        if hidden is not None and not _is_literal(arg):
            self._emit(
                "malicious-obfuscation", node.lineno, f"{name}() of a name hidden by string building: {hidden!r}"
            )
        elif (
            name == "getattr"
            and self.qual(node.args[0]) in ("__builtins__", "builtins")
            and hidden in ("exec", "eval", "compile", "__import__")
        ):
            # ``exec_ = getattr(builtins, "exec")`` is the Python 2/3 compatibility idiom (future, six): the
            # name is in plain sight, so it is dynamic execution, not hiding.
            self._emit("capability-dynamic-exec", node.lineno, f"reaches {hidden}() through getattr on the builtins")

    def _check_exec(self, node: ast.Call, name: str) -> None:
        first = node.args[0] if node.args else None
        if first is None or (isinstance(first, ast.Constant) and not isinstance(first.value, bytes)):
            return
        arg = node.args[0]
        decoded = self._decoded(arg)
        if self._network_data(arg) or any(
            (self.qual(sub.func) or "").startswith(NETWORK_PREFIXES)
            for sub in ast.walk(arg)
            if isinstance(sub, ast.Call)
        ):
            self._emit("malicious-download-exec", node.lineno, f"{name}() of code fetched from the network")
        elif decoded and "a non-code file" in decoded:
            self._emit("malicious-decode-exec", node.lineno, f"{name}() of code hidden in {decoded}")
        elif decoded and (_has_blob(arg) or "embedded blob" in decoded):
            self._emit("malicious-decode-exec", node.lineno, f"{name}() of an embedded payload decoded by {decoded}")
        elif decoded:
            # marshal/pickle IPC (PyInstaller, multiprocessing) decodes data it was handed, not a hidden blob
            self._emit(
                "malicious-decode-exec",
                node.lineno,
                f"{name}() of data decoded at run time by {decoded} (no embedded payload)",
                severity=Severity.MEDIUM,
            )
        else:
            self._emit("capability-dynamic-exec", node.lineno, f"{name}() of a computed value")
            if self.setup_script:
                self.install_reasons.append((node.lineno, f"setup.py runs {name}()"))

    def _check_network(self, node: ast.Call, name: str) -> None:
        line = node.lineno
        self._emit("capability-network", line, f"network call {name}()")
        if self.setup_script:
            self.install_reasons.append((line, f"setup.py makes a network call {name}()"))
        if name.endswith((".connect", ".connect_ex")) or name.startswith("socket.create_connection"):
            self.scope.socket_connect_line = line
        if name.endswith("urlretrieve"):
            self.scope.network_fetch_line = line
        taint = None
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            taint = self._taint_of(arg)
            if taint:
                break
        if taint is None:
            return
        sink = "DNS lookup" if name.startswith(DNS_CALLS) else f"{name}()"
        flow = f"{taint} → {sink}"
        if taint.startswith("credential variable") and self._context() is not Context.INSTALL:
            return  # SDKs send their API key from the environment: only an install hook has no business to
        if taint.startswith("host identity") and name.startswith(DNS_CALLS):
            # resolving one's own hostname is ordinary; building a name from it is the probe
            if node.args and _is_constructed(node.args[0]):
                self._emit("malicious-dns-probe", line, f"DNS lookup of a name built from {taint}", flow=flow)
            return
        # identity alone is a medium; install/import time raises it
        rule_id, why, severity = egress_signal(taint)
        self._emit(rule_id, line, why, flow=flow, severity=severity)

    def _directory_label(self, node: ast.AST) -> str | None:
        """Which directory ``node`` names, when its entries are not a package's to touch."""
        if isinstance(node, ast.Name):
            return self.scope.directories.get(node.id)
        text = fold(node)
        name = self.qual(node) or ""
        if isinstance(node, ast.Call) and name.split(".")[-1] in ("Path", "PurePath") and node.args:
            return self._directory_label(node.args[0])
        if text in ROOT_AND_HOME:
            return repr(text)
        if name in HOME_DIRECTORY_CALLS or self._home_variable(node):
            return f"the home directory ({ast.unparse(node)[:60]})"
        decoded = self._decoded(node)
        if decoded:
            revealed = self._literal_decoded(node)
            return f"a path hidden by {decoded}" + (f" ({revealed!r})" if revealed is not None else "")
        if text in WORKING_DIRECTORY or name in WORKING_DIRECTORY_CALLS:
            return f"{WORKING_DIRECTORY_LABEL} ({text or name})"
        return None

    def _literal_decoded(self, node: ast.AST) -> str | None:
        """What ``base64.b64decode("Li8=")`` or ``bytes.fromhex("2e2f")`` inside ``node`` decodes to."""
        for call in ast.walk(node):
            if not isinstance(call, ast.Call) or not call.args:
                continue
            text = fold(call.args[0])
            name = self.qual(call.func) or ""
            if text is not None and name in ("base64.b64decode", "base64.decodebytes", "base64.standard_b64decode"):
                return decode_literal(text, "base64")
            if text is not None and name in ("bytes.fromhex", "binascii.unhexlify"):
                return decode_literal(text, "hex")
        return None

    def _home_variable(self, node: ast.AST) -> bool:
        """``os.path.expanduser("~")``, ``os.environ["HOME"]``, ``os.getenv("USERPROFILE")``."""
        if isinstance(node, ast.Subscript) and self.qual(node.value) == "os.environ":
            return fold(node.slice) in ("HOME", "USERPROFILE")
        if isinstance(node, ast.Call) and node.args:
            function = self.qual(node.func)
            argument = fold(node.args[0])
            return (function == "os.path.expanduser" and argument in ("~", "~/")) or (
                function in ("os.getenv", "os.environ.get") and argument in ("HOME", "USERPROFILE")
            )
        return False

    def _listing_of(self, node: ast.AST) -> str | None:
        """The directory whose entries ``node`` evaluates to (``os.listdir(d)``, a variable holding them)."""
        if isinstance(node, ast.Name):
            return self.scope.listings.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        name = self.qual(node.func) or ""
        if name in LISTING_CALLS and node.args:
            return self._directory_label(node.args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr in LISTING_METHODS:
            return self._directory_label(node.func.value)
        if name in ("sorted", "list", "enumerate", "reversed", "filter") and node.args:
            return self._listing_of(node.args[-1])
        return None

    def _check_destructive(self, node: ast.Call, name: str) -> None:
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name in DESTRUCTIVE_CALLS and node.args:
            target: ast.AST = node.args[0]
            if name in ("open", "io.open"):
                mode = (
                    node.args[1]
                    if len(node.args) > 1
                    else next((k.value for k in node.keywords if k.arg == "mode"), None)
                )
                if not (mode is not None and (fold(mode) or "").startswith(("w", "a"))):
                    return
        elif method in DESTRUCTIVE_METHODS and isinstance(node.func, ast.Attribute):
            target = node.func.value
        else:
            return
        entry_of = next((self.scope.listings[n] for n in self._names_in(target) if n in self.scope.listings), None)
        call = name if name in DESTRUCTIVE_CALLS else f"Path.{method}"
        tree_of = self._directory_label(target) if not entry_of and name == "shutil.rmtree" else None
        judged = destructive_write(call, entry_of, tree_of, "network response" in self.scope.taint.values())
        if judged is not None:
            why, flow, severity = judged
            self._emit("malicious-destructive-write", node.lineno, why, flow=flow, severity=severity)

    def _check_process(self, node: ast.Call, name: str) -> None:
        line = node.lineno
        self._emit("capability-subprocess", line, f"starts a process with {name}()")
        if any(self._network_data(arg) for arg in node.args):
            # DNS TXT records, HTTP bodies, socket reads: the attacker types the command
            self._emit("malicious-download-exec", line, f"{name}() of a command received from the network")
        if self.setup_script:
            self.install_reasons.append((line, f"setup.py runs {name}()"))
        self.scope.runs_process_line = line
        command_parts: list[str] = []
        for arg in node.args:
            if isinstance(arg, (ast.List, ast.Tuple)):
                command_parts.extend(p for p in (fold(e) for e in arg.elts) if p is not None)
            else:
                text = fold(arg)
                if text is not None:
                    command_parts.append(text)
        command = " ".join(command_parts)
        for rule_id, why in shell_command_signals(command):
            if rule_id != "capability-network":
                self._emit(rule_id, line, f"{why}: {command[:120]!r}")
            else:
                self.scope.network_fetch_line = line
        if re.search(r"\bstart\s+/b\b|\bnohup\b.*&\s*$|-WindowStyle\s+Hidden|pythonw", command, re.IGNORECASE):
            self._emit("malicious-silent-process", line, f"starts a hidden/detached process: {command[:100]!r}")
        for keyword in node.keywords:
            if keyword.arg == "creationflags":
                flags = ast.unparse(keyword.value)
                if re.search(r"CREATE_NO_WINDOW|DETACHED_PROCESS|0x0*8000000|0x0*8\b|134217728", flags):
                    self._emit("malicious-silent-process", line, f"hidden window / detached process ({flags})")
            if (
                keyword.arg in ("stdin", "stdout")
                and isinstance(keyword.value, ast.Call)
                and (self.qual(keyword.value.func) or "").endswith("fileno")
            ):
                self.scope.dup2_line = line

    # ------------------------------------------------------------------ finish

    def _finish(self) -> None:
        self._judge_scope(self.scopes[0])
        if len(self.char_code_strings) >= 3:
            self._emit(
                "malicious-obfuscation",
                self.char_code_strings[0],
                f"{len(self.char_code_strings)} strings spelled in character codes (''.join(map(chr, …)))",
            )
        markers = self.client_markers
        if ("extension" in markers and "shortcut" in markers) or ("discord-core" in markers and "client-js" in markers):
            line = min(markers.values())
            what = "a browser's shortcuts to side-load an extension" if "extension" in markers else "Discord's client"
            self._emit("malicious-client-injection", line, f"rewrites {what} to run its own code")
        if self.clipboard_lines and self.wallet_lines:
            self._emit(
                "malicious-clipboard-hijack",
                self.clipboard_lines[0],
                f"clipboard access next to a wallet-address pattern at line {self.wallet_lines[0]}",
            )
        if self.setup_script and self.install_reasons:
            line, why = self.install_reasons[0]
            more = f" (and {len(self.install_reasons) - 1} more)" if len(self.install_reasons) > 1 else ""
            self._emit("capability-install-hook", line, f"{why}{more}")
        self._hidden_past_edge()

    def _hidden_past_edge(self) -> None:
        for number, line in enumerate(self.lines, 1):
            if len(line) > 150 and HIDDEN_PAST_EDGE.search(line):
                self._emit(
                    "malicious-obfuscation", number, "code hidden past the right edge of the screen by whitespace"
                )
                break


def analyze_python(path: str, source: str, context: Context) -> list[Signal]:
    """Signals for one ``.py`` file; ``setup.py`` at the package root is install-time code."""
    name = path.rsplit("/", 1)[-1]
    setup_script = name == "setup.py" and path.count("/") <= 1
    if setup_script and context is not Context.TEST:
        context = Context.INSTALL
    return PythonAnalyzer(path, source, context, setup_script=setup_script).run()


def analyze_pth(path: str, source: str) -> list[Signal]:
    """A ``.pth`` file: lines starting with ``import`` run at every interpreter start."""
    code_lines = [(n, line) for n, line in enumerate(source.splitlines(), 1) if line.lstrip().startswith("import")]
    if not code_lines:
        return []
    lines = source.splitlines()
    signals = [
        Signal(
            rule_id="capability-install-hook",
            path=path,
            line=code_lines[0][0],
            snippet=snippet_of(lines, code_lines[0][0]),
            why=".pth line runs Python code at every interpreter start",
            context=Context.INSTALL,
        )
    ]
    # Keep line numbers: blank out the non-code lines instead of dropping them.
    code = "\n".join(line if line.lstrip().startswith("import") else "" for line in lines)
    signals.extend(PythonAnalyzer(path, code, Context.INSTALL).run())
    return signals
