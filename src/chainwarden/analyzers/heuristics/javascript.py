"""JavaScript heuristics with a real parser (esprima), and a tokenizer fallback.

esprima gives an ESTree with line numbers, so ``require`` aliases, template
strings and simple taint (``const d = JSON.stringify(process.env)`` →
``https.request(…, d)``) are followed precisely. Code esprima cannot parse
(newer syntax, broken or huge minified bundles) falls back to a token/regex
scan that still reports capabilities and threats, but never claims a flow.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

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
    js_may_destroy,
    shell_command_signals,
    snippet_of,
)
from chainwarden.models import Severity

#: esprima is pure Python (~100 KB/s): bigger files go to the tokenizer.
MAX_PARSE_BYTES: Final = 256 * 1024
#: Wallet libraries are where key-stealing backdoors hide (solana/web3.js 1.95.6, xrpl 4.2.1): their
#: unminified builds run to several hundred KB, and only a parse follows a key into a request.
MAX_WALLET_PARSE_BYTES: Final = 1024 * 1024
MAX_SCAN_BYTES: Final = 8 * 1024 * 1024
INSTALL_SCRIPTS: Final = ("preinstall", "install", "postinstall")

NETWORK_MODULES: Final = frozenset({
    "http", "https", "net", "tls", "dgram", "dns", "http2", "axios", "node-fetch", "request", "got", "undici",
    "superagent", "needle", "ws", "socket.io-client", "dns.promises", "node:http", "node:https", "node:net",
    "node:dns", "node:tls",
})  # fmt: skip
#: Globals, and modules bound by require/import, that are themselves the request function.
DIRECT_NETWORK_CALLS: Final = frozenset({"fetch", "XMLHttpRequest()", "WebSocket()"})
DIRECT_NETWORK_MODULES: Final = frozenset({"node-fetch", "axios", "got", "request", "superagent", "needle"})
PROCESS_MODULES: Final = frozenset({"child_process", "node:child_process", "execa", "shelljs", "cross-spawn"})
EXEC_NAMES: Final = frozenset({
    "eval", "Function", "vm.runInThisContext", "vm.runInNewContext", "vm.runInContext", "vm.Script",
    "vm.compileFunction", "module._compile", "setTimeout", "setInterval",
})  # fmt: skip
#: URL decoding (decodeURIComponent, unescape) is how query strings are read, not how payloads are unpacked.
#: require and the ways around it; a module name built at run time hides what is loaded.
LOADERS: Final = ("require", "module.constructor._load", "module.require", "process.mainModule.require",
                  "Module._load")  # fmt: skip
SENSITIVE_MODULES: Final = frozenset({
    "child_process", "fs", "net", "http", "https", "dns", "vm", "os", "crypto", "tls", "dgram", "worker_threads",
})  # fmt: skip
DNS_TXT_EXEC: Final = re.compile(
    r"resolveTxt\s*\([^;]{0,200}?(?:=>|function)[\s\S]{0,400}?\b(?:exec|execSync|spawn|eval|Function)\s*\("
)
DECODE_MARKERS: Final = ("atob", "Buffer.from", "String.fromCharCode",
                         "zlib.inflateSync", "zlib.gunzipSync", "zlib.inflateRawSync", "zlib.brotliDecompressSync",
                         "crypto.createDecipher", "crypto.createDecipheriv")  # fmt: skip
#: Who and where the machine is; ``os.platform()``/``os.arch()`` are what binary installers send to pick a download.
RECON_CALLS: Final = frozenset({"os.hostname", "os.userInfo", "os.networkInterfaces", "os.homedir"})
SERIALISERS: Final = frozenset({"JSON.stringify", "Object.entries", "Object.values",
                                "querystring.stringify", "Buffer.from", "qs.stringify", "btoa"})  # fmt: skip
_FS_MODULES: Final = ("fs", "fs.promises", "fs/promises", "fs-extra", "graceful-fs")
LISTING_CALLS: Final = frozenset(
    {f"{module}.{method}" for module in _FS_MODULES for method in ("readdir", "readdirSync")}
    | {"glob.sync", "glob.globSync", "glob", "fast-glob.sync", "fast-glob", "globby.sync", "globby"}
)
#: Calls that overwrite or delete the path in their first argument.
DESTRUCTIVE_CALLS: Final = frozenset(
    {
        f"{module}.{method}"
        for module in _FS_MODULES
        for method in ("writeFile", "writeFileSync", "unlink", "unlinkSync", "rm", "rmSync", "truncate",
                       "truncateSync", "createWriteStream", "remove", "removeSync", "outputFile", "outputFileSync")
    }
    | {"rimraf", "rimraf.sync", "rimraf.rimrafSync", "del", "del.sync", "del.deleteSync"}
)  # fmt: skip
#: Calls that delete a whole directory tree.
RECURSIVE_DELETE_CALLS: Final = frozenset(
    {
        f"{module}.{method}"
        for module in _FS_MODULES
        for method in ("rm", "rmSync", "rmdir", "rmdirSync", "remove", "removeSync", "emptyDir", "emptyDirSync")
    }
    | {"rimraf", "rimraf.sync", "rimraf.rimrafSync", "del", "del.sync", "del.deleteSync"}
)
HOME_DIRECTORY_NAMES: Final = frozenset({"os.homedir()", "process.env.HOME", "process.env.USERPROFILE"})
#: Modules that run code or reach out, required by a literal name (obfuscators leave ``require('fs')``).
SENSITIVE_REQUIRE: Final = re.compile(
    r"""\brequire\(\s*['"]((?:node:)?(?:child_process|net|http|https|dns|vm|dgram|tls|node-fetch|axios))['"]\s*\)"""
)
#: ``require(_0x1f2a(0x1b))``: the module name itself comes out of the obfuscator's string table.
HIDDEN_REQUIRE: Final = re.compile(r"\brequire\(\s*[\w$]+\(\s*(?:0x[0-9a-fA-F]+|\d+)")
#: A secret crawler: walks the user's home, reads what it finds, looks for keys and seed phrases, sends.
CRAWL_HOME: Final = re.compile(r"\bhomedir\(\)|process\.env\.(?:HOME|USERPROFILE)\b")
CRAWL_LIST: Final = re.compile(r"\breaddir(?:Sync)?\(|\bglob(?:Sync|\.sync)?\(")
CRAWL_READ: Final = re.compile(r"\breadFile(?:Sync)?\(")
CRAWL_SECRET: Final = re.compile(
    r"validateMnemonic|mnemonicToSeed|fromSecretKey|['\"]privatekey=|BEGIN (?:RSA |OPENSSH |EC )?PRIVATE KEY"
    r"|seed ?phrase",
    re.IGNORECASE,
)
CRAWL_WINDOW: Final = 4000
CRAWL_SEND: Final = re.compile(r"\bfetch\(|\.request\(|\baxios\b|\.post\(|\bXMLHttpRequest\b")
#: What taint starts from: a file with none of these has nothing to pass into its helpers.
TAINT_SOURCES: Final = re.compile(r"process\.env|hostname|userInfo|homedir|networkInterfaces|\.ssh|\.aws|\.npmrc")
#: A form skimmer (Magecart on npm: device-mqtt, stream-combine 2019): reads the page's password and card
#: fields and cookies when a form is submitted, encodes them and sends them away, all in one stretch.
SKIM_FIELD: Final = re.compile(r"""['"](?:cardnumber|card_?number|cc-?number|cvc|cvv|cc-?csc)['"]""", re.IGNORECASE)
SKIM_PARTS: Final = (
    re.compile(r"document\.forms|addEventListener\(\s*['\"]submit['\"]|querySelectorAll\(\s*['\"](?:input|form)"),
    re.compile(r"document\.cookie"),
    re.compile(r"\bbtoa\(|encodeURIComponent\("),
    re.compile(r"\.action\s*=|\.href\s*=|\.src\s*=|\bfetch\(|sendBeacon\(|XMLHttpRequest"),
)
SKIM_WINDOW: Final = 3000
RECON_TEXT: Final = re.compile(r"\bos\.(?:hostname|userInfo|networkInterfaces)\(\s*\)|\b(?:hostname|userInfo)\(\s*\)")
OBFUSCATED_IDENTIFIER: Final = re.compile(r"\b_0x[0-9a-f]{4,6}\b")
OBFUSCATOR_THRESHOLD: Final = 15
#: obfuscator.io's string-array rotation: ``while(!![]){try{…}catch(e){arr['push'](arr['shift']())}}``.
#: It exists only to make the strings (module names, URLs, commands) unreadable.
STRING_ARRAY_ROTATION: Final = re.compile(
    r"""\[\s*['"]push['"]\s*\]\s*\(\s*[\w$]+\s*\[\s*['"]shift['"]\s*\]\s*\(\s*\)\s*\)"""
    r"|\.push\(\s*[\w$]+\.shift\(\s*\)\s*\)"
)
#: JS-Confuser-style index arithmetic: ``x<0x4a?x<0x4a?x-0x3e:x-0x14:x+0x6`` (opaque predicates
#: around every string-table lookup); minifiers write decimals and never nest such ternaries.
HEX_TERNARY_INDEX: Final = re.compile(
    r"(?<![\w$])[\w$]{1,40}\s*[<>]=?\s*-?0x[0-9a-fA-F]+\s*\?\s*[\w$]{1,40}\s*[-+]\s*0x[0-9a-fA-F]+\s*:"
)
HEX_TERNARY_THRESHOLD: Final = 8
#: A string literal written entirely in ``\xNN``/``\uNNNN`` escapes: text spelled so a reader (and a
#: grep for "http" or "child_process") does not see it.
ESCAPED_LITERAL: Final = re.compile(r"""(['"])((?:\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}){8,})\1""")
#: Hidden text that is a URL or names what runs code.
HIDDEN_TEXT_MEANING: Final = re.compile(
    r"://|^(?:node:)?(?:child_process|eval|Function|exec|execSync|spawn|require|vm|fs|net|https?|dns)$"
)
#: Globals reached by ``this[…]`` at module level, ``global[…]``: a computed name there hides which one.
GLOBAL_OBJECTS: Final = frozenset({"global", "globalThis", "window", "self"})
#: Array methods whose callback receives the elements.
ITERATION_METHODS: Final = frozenset({"forEach", "map", "filter", "some", "every", "find", "flatMap", "reduce"})
HIDDEN_PAST_EDGE: Final = re.compile(r"[;})\]\w][ \t]{150,}\S")
#: exec-like call whose argument (within 120 characters) decodes: minified lines are whole files.
TOKEN_DECODE_EXEC: Final = re.compile(
    r"\b(?:eval|Function|runInThisContext|runInNewContext|_compile)\s*\(\s*[^;]{0,120}?"
    r"(?:atob\(|Buffer\.from\([^)]{0,80}['\"](?:base64|hex)['\"]|fromCharCode|createDecipher)"
)


def _children(node: Any) -> Iterator[Any]:
    for key, value in vars(node).items():
        if key in ("loc", "type", "range", "regex"):
            continue
        if isinstance(value, list):
            for item in value:
                if item is not None and hasattr(item, "type"):
                    yield item
        elif value is not None and hasattr(value, "type"):
            yield value


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(_children(current))


def _line(node: Any) -> int:
    loc = getattr(node, "loc", None)
    return int(loc.start.line) if loc is not None else 0


def fold_js(node: Any, depth: int = 0) -> str | None:
    """The constant string a JS expression builds; interpolations become ``$(…)``."""
    if depth > 40 or node is None:
        return None
    kind = node.type
    if kind == "Literal" and isinstance(node.value, str):
        return str(node.value)  # esprima nodes are untyped
    if kind == "TemplateLiteral":
        out = []
        for index, quasi in enumerate(node.quasis):
            out.append(str(quasi.value.cooked or ""))
            if index < len(node.expressions):
                inner = fold_js(node.expressions[index], depth + 1)
                out.append(inner if inner is not None else "$(…)")
        return "".join(out)
    if kind == "BinaryExpression" and node.operator == "+":
        left, right = fold_js(node.left, depth + 1), fold_js(node.right, depth + 1)
        if left is None and right is None:
            return None
        return (left if left is not None else "$(…)") + (right if right is not None else "$(…)")
    if (
        kind == "CallExpression"
        and node.callee.type == "MemberExpression"
        and not node.callee.computed
        and getattr(node.callee.property, "name", None) in ("join", "reverse", "concat")
    ):
        # ['child', 'process'].join('_'), 'ssecorp_dlihc'.split('').reverse().join('')
        method = node.callee.property.name
        target = node.callee.object
        if method == "join":
            sep = fold_js(node.arguments[0], depth + 1) if node.arguments else ","
            if target.type == "ArrayExpression" and sep is not None:
                parts = [fold_js(e, depth + 1) for e in target.elements]
                return sep.join(p for p in parts if p is not None) if all(p is not None for p in parts) else None
            inner = _reversed_split(target, depth)
            return inner if inner is not None and sep == "" else None
        if method == "concat":
            base = fold_js(target, depth + 1)
            rest = [fold_js(a, depth + 1) for a in node.arguments]
            return base + "".join(r for r in rest if r) if base is not None and all(rest) else None
    return None


def _reversed_split(node: Any, depth: int) -> str | None:
    """``'abc'.split('').reverse()`` → ``'cba'``."""
    if (
        node.type == "CallExpression"
        and node.callee.type == "MemberExpression"
        and getattr(node.callee.property, "name", None) == "reverse"
    ):
        split = node.callee.object
        if (
            split.type == "CallExpression"
            and split.callee.type == "MemberExpression"
            and getattr(split.callee.property, "name", None) == "split"
        ):
            text = fold_js(split.callee.object, depth + 1)
            return text[::-1] if text is not None else None
    return None


@dataclass(slots=True)
class _Scope:
    name: str
    taint: dict[str, str] = field(default_factory=dict)
    network_line: int | None = None
    write_line: int | None = None
    run_line: int | None = None
    socket_line: int | None = None
    shell_pipe_line: int | None = None
    verified: bool = False  # hashes what it downloaded (a pinned binary, not a payload that can change)
    decoded_write_line: int | None = None  # writes decoded data to a file
    listings: dict[str, str] = field(default_factory=dict)  # variable → whose directory entries it holds
    directories: dict[str, str] = field(default_factory=dict)  # variable → the directory it names


class JavaScriptAnalyzer:
    """Collects :class:`Signal` records from one JavaScript file."""

    def __init__(self, path: str, source: str, context: Context) -> None:
        self.path = path
        self.source = source
        self.lines = source.splitlines()
        self.context = context
        self.aliases: dict[str, str] = {}
        self.scopes: list[_Scope] = [_Scope("<module>")]
        self.signals: list[Signal] = []
        self.clipboard_line: int | None = None
        self.wallet_line: int | None = None
        self.parsed = False
        self._network_callbacks: set[int] = set()
        self._listing_callbacks: dict[int, str] = {}  # fs.readdir(dir, (err, names) => …) → dir
        self.wallet = WalletSecrets(source)
        self.may_destroy = js_may_destroy(source)
        self._secret_arguments: dict[str, dict[int, str]] = {}  # local function → parameter index → secret
        self.decoder_functions: set[str] = set()  # local functions that return decoded data
        self.constants: dict[str, str] = {}  # variable → the string literal it was given
        self._method_names: dict[int, str] = {}  # id(function of a class method or object property) → its key
        self._local_functions: dict[str, Any] = {}  # name → function node (declarations, const f = () => …)
        #: id(function) → parameter index → taint: local functions called with secrets or identity. Found
        #: while visiting, after the function was read; a second pass over the same tree applies them.
        self._param_taints: dict[int, dict[int, str]] = {}
        self._read_again = False
        self._tainted_callbacks: dict[int, str] = {}  # id(callback) → what the iterated array holds
        self.hidden_globals: dict[str, str] = {}  # variable → ``this[…]`` it was read from
        self.verifier_functions: set[str] = set()  # local functions that hash their input
        self.hashes = "createHash" in source or ".digest(" in source or "ssri" in source
        self.downloaders: set[str] = set()  # local functions that download and write a file
        self._called_locals: set[str] = set()

    # ------------------------------------------------------------------ entry

    def run(self) -> list[Signal]:
        if len(self.source) > MAX_SCAN_BYTES:
            self.source = self.source[:MAX_SCAN_BYTES]
            self.lines = self.source.splitlines()
        limit = MAX_WALLET_PARSE_BYTES if self.wallet.possible else MAX_PARSE_BYTES
        tree = self._parse() if len(self.source) <= limit and not _minified(self.source) else None
        if tree is None:
            self._tokenizer_scan()
            self._finish()
            return self.signals
        self.parsed = True
        self._analyze(tree)
        if self._read_again:
            again = JavaScriptAnalyzer(self.path, self.source, self.context)
            again._param_taints = self._param_taints
            again.downloaders = self.downloaders
            again.parsed = True
            again._analyze(tree)
            again._finish()
            return again.signals
        self._finish()
        return self.signals

    def _analyze(self, tree: Any) -> None:
        if self.wallet.possible or TAINT_SOURCES.search(self.source):
            self._index_functions(tree)  # only a file that reads secrets or identity can pass them to a helper
        if self.wallet.possible:
            self._find_secret_arguments(tree)
        self._visit(tree)
        self._close(self.scopes[0])
        self._text_checks()

    def _finish(self) -> None:
        if self.clipboard_line and self.wallet_line:
            self._emit(
                "malicious-clipboard-hijack",
                self.clipboard_line,
                f"clipboard access next to a wallet-address pattern at line {self.wallet_line}",
            )
        self._identity_to_exfil_service()

    def _index_functions(self, tree: Any) -> None:
        """Local functions by name, and the key of every method, for passing taint into their parameters."""
        for node in _walk(tree):
            kind = node.type
            if kind == "FunctionDeclaration" and getattr(node, "id", None) is not None:
                self._local_functions.setdefault(str(node.id.name), node)
            elif (
                kind == "VariableDeclarator"
                and node.id.type == "Identifier"
                and node.init is not None
                and node.init.type in ("FunctionExpression", "ArrowFunctionExpression")
            ):
                self._local_functions.setdefault(str(node.id.name), node.init)
            elif kind in ("MethodDefinition", "Property") and getattr(node, "value", None) is not None:
                key = getattr(node.key, "name", None) or getattr(node.key, "value", None)
                if isinstance(key, str) and node.value.type in ("FunctionExpression", "ArrowFunctionExpression"):
                    self._method_names[id(node.value)] = key

    def _identity_to_exfil_service(self) -> None:
        """Host identity collected in a file that talks to a callback or webhook service (the
        dependency-confusion beacon: ``os.hostname()`` → hex → DNS labels under ``*.oast.fun``)."""
        services = [s for s in self.signals if s.rule_id == "malicious-exfil-endpoint" and "service" in s.why]
        if not services or any(s.rule_id == "malicious-env-exfiltration" and s.flow for s in self.signals):
            return
        recon = RECON_TEXT.search(self.source)
        if recon is None:
            return
        line = self.source.count("\n", 0, recon.start()) + 1
        self._emit(
            "malicious-env-exfiltration",
            services[0].line,
            f"collects host identity ({recon.group(0)} at line {line}) in a file that talks to an {services[0].why}",
            severity=Severity.HIGH,
        )

    def _parse(self) -> Any:
        import esprima

        text = self.source
        if text.startswith("#!"):
            text = "//" + text[2:]  # keep line numbers
        # Rewritten syntax is never valid ES2017, so when the rewrite changed anything the original fails
        # anyway: parse only the rewrite.
        text = _downlevel(text) or text
        for parse in (esprima.parseScript, esprima.parseModule):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # esprima's own regex FutureWarnings
                    return parse(text, {"loc": True, "tolerant": True})
            except (esprima.Error, RecursionError, ValueError, TypeError, AttributeError, IndexError, KeyError):
                continue
        return None

    def _emit(
        self, rule_id: str, line: int, why: str, *, flow: str | None = None, severity: Severity | None = None
    ) -> None:
        context = self.context
        if context is Context.IMPORT and len(self.scopes) > 1:
            context = Context.RUNTIME
        self.signals.append(
            Signal(
                rule_id=rule_id,
                path=self.path,
                line=line,
                snippet=snippet_of(self.lines, line),
                why=why,
                context=context,
                scope=self.scopes[-1].name,
                flow=flow,
                severity=severity,
            )
        )

    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    # ---------------------------------------------------------------- names

    def qual(self, node: Any, depth: int = 0) -> str | None:
        if node is None or depth > 30:
            return None
        kind = node.type
        if kind == "Identifier":
            identifier = str(node.name)
            return self.aliases.get(identifier, identifier)
        if kind == "MemberExpression":
            base = self.qual(node.object, depth + 1)
            if node.computed:
                prop = fold_js(node.property)
                if prop is None:
                    return None
            else:
                prop = getattr(node.property, "name", None)
            return f"{base}.{prop}" if base and prop else None
        if kind == "CallExpression":
            callee = self.qual(node.callee, depth + 1)
            if callee in ("require", "import") and node.arguments:
                return fold_js(node.arguments[0])
            return f"{callee}()" if callee else None
        if kind == "NewExpression":
            callee = self.qual(node.callee, depth + 1)
            return f"{callee}()" if callee else None
        if kind == "ImportExpression":
            return fold_js(getattr(node, "source", None))
        if kind == "AwaitExpression":
            return self.qual(node.argument, depth + 1)
        return None

    def _module_of(self, name: str | None) -> str:
        return (name or "").split(".")[0].removeprefix("node:")

    def _is_network(self, name: str | None) -> bool:
        if not name:
            return False
        head = self._module_of(name)
        return (
            head in {m.removeprefix("node:") for m in NETWORK_MODULES}
            or name in ("fetch", "XMLHttpRequest()", "WebSocket()")
            or name.startswith(("fetch", "navigator.sendBeacon"))
        )

    def _is_process(self, name: str | None) -> bool:
        return bool(name) and self._module_of(name) in {m.removeprefix("node:") for m in PROCESS_MODULES}

    # ---------------------------------------------------------------- taint

    def _taint_of(self, node: Any) -> str | None:
        for sub in self._walk_taint(node):
            kind = sub.type
            if kind == "Identifier" and _secret(self.scope.taint.get(sub.name)):
                return self.scope.taint[sub.name]
            if kind == "Literal" and isinstance(sub.value, str):
                label = credential_label(sub.value)
                if label:
                    return f"{label} ({sub.value[:60]!r})"
            if kind == "CallExpression":
                name = self.qual(sub.callee)
                joined = self._joined_path(sub, name)
                if joined:
                    return joined
                if name in RECON_CALLS:
                    return f"host identity ({name}())"
                if name in SERIALISERS and sub.arguments and self.qual(sub.arguments[0]) == "process.env":
                    return "the whole environment (process.env)"
            if kind == "SpreadElement" and self.qual(sub.argument) == "process.env":
                return "the whole environment (process.env)"
            if kind == "Property" and self.qual(sub.value) == "process.env":
                return "the whole environment (process.env)"
            if kind in ("CallExpression", "NewExpression") and any(
                self.qual(arg) == "process.env" for arg in sub.arguments
            ):
                return "the whole environment (process.env)"
            if kind == "MemberExpression" and self.qual(sub) in ("process.env.USER", "process.env.USERNAME"):
                return "host identity (process.env.USER)"
            if kind == "MemberExpression" and (qualified := self.qual(sub) or "").startswith("process.env."):
                variable = qualified.removeprefix("process.env.")
                if CREDENTIAL_ENV_NAME.search(variable):
                    return f"credential variable ${variable}"
            if (
                kind == "MemberExpression"
                and sub.computed
                and self.qual(sub.object) == "process.env"
                and sub.property.type == "Literal"
                and CREDENTIAL_ENV_NAME.search(str(sub.property.value))
            ):
                return f"credential variable ${sub.property.value}"
            if kind == "MemberExpression" and not sub.computed:
                secret = self.wallet.label(getattr(sub.property, "name", None))
                if secret:
                    return secret
        return None

    def _walk_taint(self, node: Any) -> Iterator[Any]:
        """Sub-expressions that carry data, leaving out the arguments of one-way functions: a signature,
        a hash or a public key made from a wallet key is not the key."""
        stack = [node]
        while stack:
            current = stack.pop()
            yield current
            if current.type == "CallExpression":
                callee = self.qual(current.callee)
                if _one_way(callee) or self._is_process(callee) or self._is_network(callee):
                    # a signature is not the key; a child process or a request object is not its options
                    stack.append(current.callee)
                    continue
            stack.extend(_children(current))

    def _joined_path(self, call: Any, name: str | None) -> str | None:
        """``path.join(home, ".aws", "credentials")``: the secret store a path is built to reach."""
        if name not in ("path.join", "path.resolve", "path.posix.join", "path.win32.join"):
            return None
        parts = [fold_js(arg) or "" for arg in call.arguments]
        text = "/".join(p for p in parts if p)
        label = credential_label(text)
        return f"{label} ({text[:60]!r})" if label else None

    def _decoded(self, node: Any) -> str | None:
        for sub in _walk(node):
            if sub.type == "CallExpression":
                name = self.qual(sub.callee) or ""
                if name.rsplit(".", 1)[-1] in ("readFileSync", "readFile") and sub.arguments:
                    label = asset_label(fold_js(sub.arguments[0]))
                    if label:
                        return label
                if name in self.decoder_functions:
                    return f"{name}() (decodes its argument)"
                if name == "String.fromCharCode" and not _spells_literal_codes(sub):
                    continue  # String.fromCharCode(c) of a variable is an encoder's loop, not a hidden string
                if name.endswith((".update", ".final")) and "Decipher" not in name:
                    continue  # hash.update(): hashing, not decrypting
                if name.startswith(DECODE_MARKERS) or name.endswith((".toString", ".update", ".final")):
                    if name.startswith("Buffer.from") and (
                        name != "Buffer.from"
                        or len(sub.arguments) < 2
                        or (
                            sub.arguments[1].type == "Literal"
                            and str(sub.arguments[1].value).lower() not in ("base64", "hex", "base64url")
                        )
                    ):
                        continue  # Buffer.from(text) / .slice(): bytes of data, not a decoding
                    if name.endswith(".toString") and not any(
                        (self.qual(s.callee) or "").startswith(DECODE_MARKERS)
                        for s in _walk(sub.callee)
                        if s.type == "CallExpression"
                    ):
                        continue
                    return name
            if sub.type == "Identifier" and self.scope.taint.get(sub.name, "").startswith("decoded"):
                return self.scope.taint[sub.name]
        return None

    def _network_data(self, node: Any) -> bool:
        return any(
            sub.type == "Identifier" and self.scope.taint.get(sub.name) == "network response" for sub in _walk(node)
        )

    # ---------------------------------------------------------------- visit

    def _visit(self, node: Any) -> None:
        stack: list[tuple[Any, bool]] = [(node, False)]
        while stack:
            current, leaving = stack.pop()
            if leaving:
                self._close(self.scopes.pop())
                continue
            kind = current.type
            if kind in ("FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"):
                name = getattr(getattr(current, "id", None), "name", None) or f"fn@{_line(current)}"
                inner = _Scope(
                    f"{self.scope.name}.{name}",
                    dict(self.scope.taint),
                    listings=dict(self.scope.listings),
                    directories=dict(self.scope.directories),
                )
                inner.socket_line = self.scope.socket_line  # callbacks of net.connect use the socket
                parameters = [
                    ident.name
                    for param in getattr(current, "params", []) or []
                    for ident in _walk(param)
                    if ident.type == "Identifier"
                ]
                method = self._method_names.get(id(current))
                passed_in = dict(self._secret_arguments.get(name, {}) if current.type == "FunctionDeclaration" else {})
                if method:
                    passed_in.update(self._secret_arguments.get(method, {}))
                passed_in.update(self._param_taints.get(id(current), {}))
                if id(current) in self._tainted_callbacks:
                    passed_in.setdefault(0, self._tainted_callbacks[id(current)])
                for index, parameter in enumerate(parameters):
                    secret = self.wallet.label(parameter) or passed_in.get(index)
                    if secret:
                        inner.taint[parameter] = secret
                listed = self._listing_callbacks.get(id(current))
                if listed:
                    inner.listings.update(dict.fromkeys(parameters, listed))
                if id(current) in self._network_callbacks:
                    # https.get(url, res => …) / res.on('data', chunk => …): the parameters carry the response
                    for param in getattr(current, "params", []) or []:
                        for ident in _walk(param):
                            if ident.type == "Identifier":
                                inner.taint[ident.name] = "network response"
                self.scopes.append(inner)
                stack.append((current, True))
            self._inspect(current)
            stack.extend((child, False) for child in reversed(list(_children(current))))

    def _inspect(self, node: Any) -> None:
        kind = node.type
        if kind == "FunctionDeclaration" and getattr(node, "id", None) is not None:
            returns = [n.argument for n in _walk(node.body) if n.type == "ReturnStatement" and n.argument is not None]
            if any(self._decoded(value) for value in returns):
                self.decoder_functions.add(str(node.id.name))
            if self.hashes and any(
                sub.type == "CallExpression" and (self.qual(sub.callee) or "").endswith(HASH_CALLS)
                for sub in _walk(node.body)
            ):
                self.verifier_functions.add(str(node.id.name))
        if kind == "VariableDeclarator" and node.init is not None:
            self._assign(node.id, node.init)
        elif kind in ("ForOfStatement", "ForInStatement") and self.may_destroy:
            listed = self._listing_of(node.right)
            if listed:
                for ident in _walk(node.left):
                    if ident.type == "Identifier":
                        self.scope.listings[ident.name] = listed
        elif kind == "AssignmentExpression":
            self._assign(node.left, node.right)
        elif kind == "ImportDeclaration":
            module = str(node.source.value)
            for spec in node.specifiers:
                imported = getattr(getattr(spec, "imported", None), "name", None)
                self.aliases[spec.local.name] = f"{module}.{imported}" if imported else module
        elif kind in ("CallExpression", "NewExpression"):
            self._call(node)
        elif kind == "Literal":
            if isinstance(node.value, str) and len(node.value) >= 3:
                self._string(node.value, _line(node))
            regex = getattr(node, "regex", None)
            if regex is not None and WALLET_ADDRESS.search(str(regex.pattern)):
                self.wallet_line = self.wallet_line or _line(node)
        elif kind == "TemplateLiteral":
            text = fold_js(node)
            if text:
                self._string(text, _line(node))
        elif kind == "MemberExpression":
            name = self.qual(node) or ""
            if name.startswith(("navigator.clipboard", "clipboardy", "electron.clipboard")):
                self.clipboard_line = self.clipboard_line or _line(node)

    def _assign(self, target: Any, value: Any) -> None:
        names = [n.name for n in _walk(target) if n.type == "Identifier"]
        # ``var data = process.env || {}``: the fallback does not change what the name holds
        core = value
        while core.type == "LogicalExpression" and core.operator in ("||", "??"):
            core = core.left
        required = self.qual(core)
        if (
            target.type == "Identifier"
            and required
            and core.type in ("CallExpression", "MemberExpression", "Identifier")
        ):
            self.aliases[target.name] = required
        if target.type == "Identifier":
            text = fold_js(core)
            if text is not None and "$(" not in text:
                self.constants[target.name] = text
            hidden = self._hidden_global(core)
            if hidden:
                self.hidden_globals[target.name] = hidden
        elif target.type == "ObjectPattern" and required:
            for prop in target.properties:
                key = getattr(getattr(prop, "key", None), "name", None)
                local = getattr(getattr(prop, "value", None), "name", None)
                if key and local:
                    self.aliases[local] = f"{required}.{key}"
        if self.may_destroy:
            listed = self._listing_of(value)
            if listed:
                self.scope.listings.update(dict.fromkeys(names, listed))
            elif directory := self._directory_label(value):
                self.scope.directories.update(dict.fromkeys(names, directory))
        taint = self._taint_of(value)
        decoded = self._decoded(value)
        network = (
            self._network_data(value)
            or (value.type in ("CallExpression", "AwaitExpression") and self._is_network(required))
            or any(
                sub.type == "MemberExpression"
                and re.fullmatch(
                    r"(req|request|ctx\.request)\.(headers|body|query|cookies|params)", self.qual(sub) or ""
                )
                for sub in _walk(value)
            )
        )
        label = taint or (f"decoded data ({decoded})" if decoded else "network response" if network else None)
        if label is None:
            return
        if label.startswith("host identity") and core.type in ("TemplateLiteral", "BinaryExpression"):
            label += ", in a built name"  # `${name}.${os.hostname()}.attacker.tld`: a DNS label to leak
        for name in names:
            # Closures write to variables of enclosing functions (``let body = ''; res.on('data', d => body += d)``).
            # Over-approximated: the name is tainted in every enclosing scope.
            for scope in self.scopes:
                scope.taint[name] = label

    def _string(self, text: str, line: int) -> None:
        label = credential_label(text)
        if label:
            self._emit("malicious-credential-access", line, f"names {label}: {text[:80]!r}")
        endpoint = exfil_label(text)
        if endpoint:
            self._emit("malicious-exfil-endpoint", line, endpoint)
        if WALLET_ADDRESS.search(text) or re.fullmatch(r"0x[a-fA-F0-9]{40}|bc1[a-z0-9]{25,60}", text):
            self.wallet_line = self.wallet_line or line

    def _hidden_global(self, node: Any) -> str | None:
        """``this[…]``/``global[…]`` with a key that only exists at run time: which global it is, hidden."""
        if node.type != "MemberExpression" or not node.computed:
            return None
        folded = fold_js(node.property)
        if folded is not None and "$(" not in folded:
            return None
        owner = node.object
        spelled = _spelled_name(node.property)
        if owner.type == "ThisExpression" and (spelled or len(self.scopes) <= 2):
            # this[name] in a method is dispatch; spelling "Function" out of typeof results is not
            where = "this[…]"
        elif owner.type == "Identifier" and owner.name in GLOBAL_OBJECTS:
            where = f"{owner.name}[…]"
        else:
            return None
        if spelled:
            self._emit("malicious-obfuscation", _line(node), f"spells the name of a global at run time ({where})")
        return where

    def _call(self, node: Any) -> None:
        name = self.qual(node.callee) or ""
        line = _line(node)
        args = list(node.arguments)
        self._pass_taint(node, name, args)
        if name.endswith(HASH_CALLS) or name in self.verifier_functions:
            self.scope.verified = True
        hidden = self._hidden_global(node.callee) or (
            self.hidden_globals.get(node.callee.name) if node.callee.type == "Identifier" else None
        )
        if hidden and args:
            payload = next((a for a in args if self._network_data(a)), None)
            decoded = next((d for d in (self._decoded(a) for a in args) if d), None)
            if payload is not None:
                self._emit(
                    "malicious-download-exec",
                    line,
                    f"calls a global looked up by a name computed at run time ({hidden}) on code fetched "
                    "from the network",
                )
            elif decoded:
                self._emit(
                    "malicious-decode-exec",
                    line,
                    f"calls a global looked up by a name computed at run time ({hidden}) on {decoded}",
                )
        callee_object = getattr(node.callee, "object", None)
        if self._is_network(name) or (
            callee_object is not None
            and callee_object.type == "Identifier"
            and self.scope.taint.get(callee_object.name) == "network response"
        ):
            for arg in args:
                if arg.type in ("FunctionExpression", "ArrowFunctionExpression"):
                    self._network_callbacks.add(id(arg))
        if name in LOADERS and args and args[0].type != "Literal":
            decoded = self._decoded(args[0])
            built = fold_js(args[0])
            if decoded:
                self._emit("malicious-obfuscation", line, f"require() of a module name decoded at run time ({decoded})")
            elif built is not None and "$(" not in built and built.removeprefix("node:") in SENSITIVE_MODULES:
                self._emit(
                    "malicious-obfuscation", line, f"{name}() of a module name hidden by string building: {built!r}"
                )
        elif name in ("module.constructor._load", "Module._load") and args:
            self._emit("malicious-obfuscation", line, f"loads a module through {name}(), around require")
        if (
            node.callee.type == "MemberExpression"
            and node.callee.computed
            and node.callee.property.type != "Literal"
            and (hidden := fold_js(node.callee.property)) in ("eval", "Function", "exec", "execSync", "spawn")
        ):
            self._emit("malicious-obfuscation", line, f"calls {hidden}() through a name hidden by string building")
        if node.type == "NewExpression" and name in ("module.constructor", "Module", "module.constructor()"):
            self._emit("capability-dynamic-exec", line, "creates a fresh Module to compile code from a string")
        if name in EXEC_NAMES or name.endswith("._compile"):
            self._exec(node, name, args)
        elif self._is_process(name) and name.count(".") >= 1:
            self._process(node, name, args)
        elif self._is_network(name) and (
            name.count(".") >= 1
            or name in DIRECT_NETWORK_CALLS
            or (name in DIRECT_NETWORK_MODULES and getattr(node.callee, "name", None) in self.aliases)
        ):
            self._network(node, name, args)
        if name.startswith(("fs.writeFile", "fs.createWriteStream", "fs.promises.writeFile", "fs.appendFile")):
            self.scope.write_line = line
            if len(args) >= 2:
                self._written_script(line, args[1])
                if self._decoded(args[1]):
                    self.scope.decoded_write_line = line
        if node.callee.type == "Identifier":
            self._called_locals.add(str(node.callee.name))
        if node.callee.type == "Identifier" and node.callee.name in self.downloaders:
            # download(url, dest) then exec(dest): the helper fetched and wrote, the caller runs
            self.scope.network_line = self.scope.network_line or line
            self.scope.write_line = self.scope.write_line or line
        if self.may_destroy:
            self._listing_callback(node, name, args)
            if args and name in DESTRUCTIVE_CALLS:
                self._destructive(node, name, args[0])
        if name.startswith("fs.chmod"):
            self.scope.run_line = self.scope.run_line or line
        if name.endswith(".pipe") and args:
            target = self.qual(args[0]) or ""
            if target.endswith(("stdin", "stdout")) and self.scope.socket_line:
                self.scope.shell_pipe_line = line
        joined = self._joined_path(node, name)
        if joined:
            self._emit("malicious-credential-access", line, f"builds a path to {joined}")
        if name in SERIALISERS and args and self.qual(args[0]) == "process.env":
            self._emit("malicious-env-exfiltration", line, f"serialises the whole environment with {name}()")
        if name.startswith(("clipboardy", "navigator.clipboard")):
            self.clipboard_line = self.clipboard_line or line

    def _pass_taint(self, node: Any, name: str, args: list[Any]) -> None:
        """Carry taint into callbacks over a tainted array and into local functions given tainted data."""
        callee = node.callee
        if callee.type == "MemberExpression" and getattr(callee.property, "name", None) in ITERATION_METHODS:
            taint = self._taint_of(callee.object)
            if taint and _secret(taint):
                for arg in args:
                    if arg.type in ("FunctionExpression", "ArrowFunctionExpression"):
                        self._tainted_callbacks[id(arg)] = taint
        if callee.type != "Identifier" or callee.name not in self._local_functions:
            return
        function = self._local_functions[callee.name]
        for index, arg in enumerate(args):
            taint = self._taint_of(arg)
            if not taint or not _secret(taint):
                continue
            known = self._param_taints.setdefault(id(function), {})
            if index not in known:
                known[index] = taint
                self._read_again = True

    def _written_script(self, line: int, content: Any) -> None:
        """``fs.writeFile('x.bat', '@echo off\ncurl -o … && rundll32 …')``: a dropper writes its next stage."""
        text = fold_js(content)
        if text is None and content.type == "Identifier":
            text = self.constants.get(content.name)
        if not text or len(text) > 20_000:
            return
        for rule_id, why in shell_command_signals(text):
            if rule_id in ("malicious-download-exec", "malicious-reverse-shell", "malicious-obfuscation"):
                self._emit(rule_id, line, f"writes a script that {why.removeprefix('shell command ')}")

    def _find_secret_arguments(self, tree: Any) -> None:
        """Local functions called with a wallet secret: ``check(privateKey)`` taints ``check``'s parameter."""
        for call in _walk(tree):
            if call.type != "CallExpression":
                continue
            if call.callee.type == "Identifier":
                callee = str(call.callee.name)
            elif call.callee.type == "MemberExpression" and not call.callee.computed:
                callee = str(getattr(call.callee.property, "name", ""))  # Loader.addToQueue(secretKey)
            else:
                continue
            for index, argument in enumerate(call.arguments):
                if argument.type == "Identifier":
                    secret = self.wallet.label(argument.name)
                elif argument.type == "MemberExpression" and not argument.computed:
                    secret = self.wallet.label(getattr(argument.property, "name", None))
                else:
                    continue
                if secret:
                    passed = f"{secret[:-1]}, passed in at line {_line(call)})"
                    self._secret_arguments.setdefault(callee, {})[index] = passed

    # ------------------------------------------------------- destructive writes

    def _directory_label(self, node: Any) -> str | None:
        """Which directory ``node`` names, when its entries are not a package's to touch."""
        if node.type == "Identifier" and node.name in self.scope.directories:
            return self.scope.directories[node.name]
        if (
            node.type == "CallExpression"
            and node.callee.type == "MemberExpression"
            and getattr(node.callee.property, "name", None) in ("toString", "trim")
        ):
            return self._directory_label(node.callee.object)  # dir.toString("utf8") names dir
        text = fold_js(node)
        name = self.qual(node)
        if text in ROOT_AND_HOME:
            return repr(text)
        if name in HOME_DIRECTORY_NAMES:
            return f"the home directory ({name})"
        decoded = self._decoded(node)
        if decoded:
            revealed = self._literal_decoded(node)
            return f"a path hidden by {decoded}" + (f" ({revealed!r})" if revealed is not None else "")
        if text in WORKING_DIRECTORY or name == "process.cwd()":
            return f"{WORKING_DIRECTORY_LABEL} ({text or name})"
        return None

    def _literal_decoded(self, node: Any) -> str | None:
        """What ``Buffer.from("Li8=", "base64")`` or ``atob("Li8=")`` inside ``node`` decodes to."""
        for call in _walk(node):
            if call.type != "CallExpression" or not call.arguments or call.arguments[0].type != "Literal":
                continue
            name = self.qual(call.callee)
            text = call.arguments[0].value
            encoding = fold_js(call.arguments[1]) if len(call.arguments) > 1 else None
            if isinstance(text, str) and name == "Buffer.from" and encoding in ("base64", "hex"):
                return decode_literal(text, encoding)
            if isinstance(text, str) and name == "atob":
                return decode_literal(text, "base64")
        return None

    def _listing_of(self, node: Any) -> str | None:
        """The directory whose entries ``node`` evaluates to (``fs.readdirSync(dir)``, a variable holding them)."""
        if node.type == "AwaitExpression":
            return self._listing_of(node.argument)
        if node.type == "Identifier":
            return self.scope.listings.get(node.name)
        if node.type != "CallExpression":
            return None
        name = self.qual(node.callee) or ""
        if name in LISTING_CALLS and node.arguments:
            return self._directory_label(node.arguments[0])
        if node.callee.type == "MemberExpression" and name.endswith((".filter", ".map", ".slice", ".concat")):
            return self._listing_of(node.callee.object)
        return None

    def _listing_callback(self, node: Any, name: str, args: list[Any]) -> None:
        """Callbacks that receive directory entries: ``fs.readdir(dir, cb)``, ``names.forEach(cb)``."""
        listed = None
        if name in LISTING_CALLS and len(args) >= 2:
            listed = self._directory_label(args[0])
        elif node.callee.type == "MemberExpression" and name.endswith((".forEach", ".map", ".filter")):
            listed = self._listing_of(node.callee.object)
        if listed:
            for arg in args:
                if arg.type in ("FunctionExpression", "ArrowFunctionExpression"):
                    self._listing_callbacks[id(arg)] = listed

    def _destructive(self, node: Any, name: str, target: Any) -> None:
        entry_of = next(
            (
                self.scope.listings[sub.name]
                for sub in _walk(target)
                if sub.type == "Identifier" and sub.name in self.scope.listings
            ),
            None,
        )
        tree_of = self._directory_label(target) if not entry_of and name in RECURSIVE_DELETE_CALLS else None
        judged = destructive_write(name, entry_of, tree_of, "network response" in self.scope.taint.values())
        if judged is not None:
            why, flow, severity = judged
            self._emit("malicious-destructive-write", _line(node), why, flow=flow, severity=severity)

    def _exec(self, node: Any, name: str, args: list[Any]) -> None:
        line = _line(node)
        if not args or (args[0].type == "Literal" and name not in ("Function",)):
            return
        if name in ("setTimeout", "setInterval") and args[0].type not in (
            "Identifier",
            "TemplateLiteral",
            "BinaryExpression",
            "CallExpression",
        ):
            return  # a function or a method reference runs, not a string
        if name in ("setTimeout", "setInterval") and args[0].type == "CallExpression" and not self._decoded(args[0]):
            return  # fn.bind(x), makeHandler(): a function
        if name in ("setTimeout", "setInterval", "Function") and all(a.type == "Literal" for a in args):
            return
        payload = args[-1] if name == "Function" else args[0]
        decoded = self._decoded(payload)
        if self._network_data(payload):
            self._emit("malicious-download-exec", line, f"{name}() of code fetched from the network")
        elif decoded and "a non-code file" in decoded:
            self._emit("malicious-decode-exec", line, f"{name}() of code hidden in {decoded}")
        elif decoded:
            self._emit("malicious-decode-exec", line, f"{name}() of data decoded by {decoded}")
        elif name not in ("setTimeout", "setInterval"):
            self._emit("capability-dynamic-exec", line, f"{name}() of a computed value")

    def _process(self, node: Any, name: str, args: list[Any]) -> None:
        line = _line(node)
        self._emit("capability-subprocess", line, f"starts a process with {name}()")
        self.scope.run_line = line
        parts: list[str] = []
        for arg in args:
            if arg.type == "ArrayExpression":
                parts.extend(p for p in (fold_js(e) for e in arg.elements if e is not None) if p)
            else:
                text = fold_js(arg) or (self.constants.get(arg.name) if arg.type == "Identifier" else None)
                if text:
                    parts.append(text)
        command = " ".join(parts)
        for rule_id, why in shell_command_signals(command):
            if rule_id == "capability-network":
                self.scope.network_line = line
                continue
            self._emit(rule_id, line, f"{why}: {command[:120]!r}")
        if "$(…)" in command and re.search(r"\b(nslookup|dig|host|ping)\b", command):
            self._emit("malicious-dns-probe", line, f"DNS lookup of a name built at run time: {command[:120]!r}")
        options = next((a for a in args if a.type == "ObjectExpression"), None)
        if options is not None:
            keys = {
                getattr(p.key, "name", None) or getattr(p.key, "value", None): getattr(p.value, "value", None)
                for p in options.properties
                if getattr(p, "key", None) is not None
            }
            if keys.get("detached") is True and keys.get("stdio") == "ignore":
                self._emit("malicious-silent-process", line, "detached process with all output discarded")

    def _network(self, node: Any, name: str, args: list[Any]) -> None:
        line = _line(node)
        self._emit("capability-network", line, f"network call {name}()")
        self.scope.network_line = line
        if name.endswith((".connect", ".createConnection", "Socket()")):
            self.scope.socket_line = line
        taint = None
        for arg in args:
            taint = self._taint_of(arg)
            if taint:
                break
        if taint is None:
            return
        dns = self._module_of(name) in ("dns",) or ".dns" in name
        flow = f"{taint} → {'DNS lookup' if dns else name + '()'}"
        if taint.startswith("host identity") and dns:
            if args and (args[0].type in ("BinaryExpression", "TemplateLiteral") or "in a built name" in taint):
                self._emit("malicious-dns-probe", line, f"DNS lookup of a name built from {taint}", flow=flow)
            return
        if taint.startswith("credential variable") and self.context is not Context.INSTALL:
            return  # SDKs send their API key from the environment: only an install hook has no business to
        if _local_destination(args):
            return  # a request to 127.0.0.1 (a worker, a dev server) does not leave the machine
        rule_id, why, severity = egress_signal(taint)
        self._emit(rule_id, line, why, flow=flow, severity=severity)

    def _close(self, scope: _Scope) -> None:
        if scope.network_line and scope.write_line and not scope.run_line and not scope.verified:
            # the innermost named function: ``function download(){ return new Promise(() => …) }``
            named = [part for part in scope.name.split(".")[1:] if not part.startswith("fn@")]
            if named and named[-1] not in self.downloaders:
                self.downloaders.add(named[-1])
                if named[-1] in self._called_locals:
                    self._read_again = True  # called before it was read: read the file again
        if scope.decoded_write_line and scope.run_line:
            self.scopes.append(scope)
            self._emit(
                "malicious-decode-exec",
                max(scope.decoded_write_line, scope.run_line),
                f"writes decoded data to a file (line {scope.decoded_write_line}) and runs a process "
                f"(line {scope.run_line})",
            )
            self.scopes.pop()
        if scope.network_line and scope.write_line and scope.run_line and not scope.verified:
            line = max(scope.network_line, scope.write_line, scope.run_line)
            self.scopes.append(scope)
            self._emit(
                "malicious-download-exec",
                line,
                f"downloads (line {scope.network_line}), writes a file (line {scope.write_line}) and "
                f"runs or chmods it (line {scope.run_line})",
            )
            self.scopes.pop()
        if scope.shell_pipe_line:
            self.scopes.append(scope)
            self._emit("malicious-reverse-shell", scope.shell_pipe_line, "socket piped into a spawned shell")
            self.scopes.pop()

    # ------------------------------------------------------------- text-level

    def _dns_txt_commands(self) -> None:
        """``dns.resolveTxt(name, (e, records) => exec(records…))``: DNS TXT records as a command channel."""
        for match in DNS_TXT_EXEC.finditer(self.source[:MAX_SCAN_BYTES]):
            line = self.source.count("\n", 0, match.start()) + 1
            self._emit("malicious-download-exec", line, "runs commands read from DNS TXT records")
            break

    def _text_checks(self) -> None:
        if "resolveTxt" in self.source:
            self._dns_txt_commands()
        text = self.source[:MAX_SCAN_BYTES]
        identifiers = len(OBFUSCATED_IDENTIFIER.findall(text))
        if identifiers >= OBFUSCATOR_THRESHOLD:
            first = next((n for n, line in enumerate(self.lines, 1) if OBFUSCATED_IDENTIFIER.search(line)), 1)
            rotation = STRING_ARRAY_ROTATION.search(text)
            why = f"obfuscator.io-style code ({identifiers} _0x… identifiers)"
            if rotation:
                why += " with a rotated string array that hides every string and module name"
            self._obfuscation(first, why, hides_strings=rotation is not None, rotated=rotation is not None)
        ternaries = len(HEX_TERNARY_INDEX.findall(text)) if "0x" in text else 0
        if ternaries >= HEX_TERNARY_THRESHOLD:
            first = next((n for n, line in enumerate(self.lines, 1) if HEX_TERNARY_INDEX.search(line)), 1)
            why = f"JS-Confuser-style code ({ternaries} string-table lookups behind hex arithmetic)"
            self._obfuscation(first, why, hides_strings=True)
        if "\\x" in text or "\\u" in text:
            self._escaped_literals(text)
        self._secret_crawler(text)
        if "document.cookie" in text:
            self._form_skimmer(text)
        for number, line in enumerate(self.lines, 1):
            if len(line) > 150 and HIDDEN_PAST_EDGE.search(line[:20000]):
                self._emit(
                    "malicious-obfuscation", number, "code hidden past the right edge of the screen by whitespace"
                )
                break

    def _obfuscation(self, line: int, why: str, *, hides_strings: bool, rotated: bool = False) -> None:
        """Obfuscated code: worse when it also loads what runs or reaches out, or hides which modules it loads.
        obfuscator.io's rotated string array is high on its own: none of the popular packages of the benign
        half of ``bench/vet_vs_guarddog.py`` (javascript-obfuscator itself among them) ships it."""
        text = self.source[:MAX_SCAN_BYTES]
        loads = SENSITIVE_REQUIRE.search(text)
        hidden_loads = HIDDEN_REQUIRE.search(text)
        severity = Severity.HIGH if rotated else None
        if hides_strings and (loads or hidden_loads):
            severity = Severity.HIGH
            why += f", and loads {loads.group(1) if loads else 'modules whose names it hides'}"
        self._emit("malicious-obfuscation", line, why, severity=severity)

    def _form_skimmer(self, text: str) -> None:
        """Card and CVC fields read on submit, with the cookies, encoded and sent: one stretch of code."""
        for field_match in SKIM_FIELD.finditer(text):
            start = max(0, field_match.start() - SKIM_WINDOW)
            window = text[start : field_match.end() + SKIM_WINDOW]
            if all(part.search(window) for part in SKIM_PARTS):
                line = text.count("\n", 0, field_match.start()) + 1
                self._emit(
                    "malicious-credential-access",
                    line,
                    f"reads the page's payment fields ({field_match.group(0)}) and cookies when a form is "
                    "submitted, encodes them and sends them away",
                    severity=Severity.HIGH,
                )
                return

    def _secret_crawler(self, text: str) -> None:
        """Walks the home directory, reads the files it finds, matches keys or seed phrases, and sends: all
        within one stretch of code (a bundle holding a crypto library and a CLI's file walker is not one)."""
        if "homedir" not in text and "HOME" not in text and "USERPROFILE" not in text:
            return
        for secret in CRAWL_SECRET.finditer(text):
            window = text[max(0, secret.start() - CRAWL_WINDOW) : secret.end() + CRAWL_WINDOW]
            if all(pattern.search(window) for pattern in (CRAWL_HOME, CRAWL_LIST, CRAWL_READ, CRAWL_SEND)):
                break
        else:
            return
        line = text.count("\n", 0, secret.start()) + 1
        self._emit(
            "malicious-credential-access",
            line,
            f"searches the files under the home directory for keys or seed phrases ({secret.group(0)!r}) "
            "and sends over the network",
            severity=Severity.HIGH,
        )

    def _escaped_literals(self, text: str) -> None:
        """``"\\x68\\x74\\x74\\x70…"``: a URL or module name spelled in escapes so it cannot be read or grepped."""
        for match in ESCAPED_LITERAL.finditer(text):
            try:
                decoded = json.loads('"' + match.group(2).replace("\\x", "\\u00") + '"')
            except ValueError:
                continue
            if not decoded.isprintable() or not HIDDEN_TEXT_MEANING.search(decoded):
                continue
            line = text.count("\n", 0, match.start()) + 1
            self._emit("malicious-obfuscation", line, f"text hidden in escape sequences: {decoded[:80]!r}")
            self._string(decoded, line)
            return

    def _tokenizer_scan(self) -> None:
        """Fallback for code esprima cannot parse: per-line tokens, no flows."""
        text = self.source
        modules = set(re.findall(r"""require\(\s*['"]([\w:./@-]+)['"]\s*\)|from\s+['"]([\w:./@-]+)['"]""", text))
        names = {m for pair in modules for m in pair if m}
        lines = self.lines
        runs_processes = bool(names & PROCESS_MODULES) or self.context is Context.INSTALL
        for number, line in enumerate(lines, 1):
            chunk = line[:20000]
            if TOKEN_DECODE_EXEC.search(chunk):
                self._emit("malicious-decode-exec", number, "executes decoded data (tokenizer scan)")
            # Object.keys(process.env).filter(...) is how debug/dotenv read their options: names, not values
            if re.search(r"JSON\.stringify\(\s*process\.env\s*\)", chunk):
                self._emit("malicious-env-exfiltration", number, "serialises the whole environment (tokenizer scan)")
            for literal in re.findall(r"""'([^'\n]{3,300})'|"([^"\n]{3,300})"|`([^`]{3,300})`""", chunk):
                value = next(part for part in literal if part)
                self._string(value, number)
                # a command in a string is documentation (UI bundles show install snippets) unless the
                # file can run it
                if (
                    runs_processes
                    and re.search(r"\b(curl|wget|nslookup|powershell|bash|sh)\b", value)
                    and re.search(r"\b(?:exec|execSync|spawn|spawnSync|execFile|execFileSync)\s*\(", chunk)
                ):
                    for rule_id, why in shell_command_signals(value):
                        if rule_id != "capability-network":
                            self._emit(rule_id, number, f"{why} (tokenizer scan)")
        if names & {m.removeprefix("node:") for m in NETWORK_MODULES} | names & NETWORK_MODULES:
            at = next(
                (n for n, text in enumerate(lines, 1) if re.search(r"require\(\s*['\"](node:)?(https?|net|dns)", text)),
                1,
            )
            self._emit("capability-network", at, "requires a network module (tokenizer scan)")
        if names & PROCESS_MODULES:
            at = next((n for n, text in enumerate(lines, 1) if "child_process" in text), 1)
            self._emit("capability-subprocess", at, "requires child_process (tokenizer scan)")
        self._text_checks()


def capability_scan(path: str, source: str, context: Context) -> list[Signal]:
    """Capabilities only, from ``require``/``import`` of network modules or fetch (no parse)."""
    analyzer = JavaScriptAnalyzer(path, source[:MAX_SCAN_BYTES], context)
    found = re.findall(
        r"""require\(\s*['"](?:node:)?([\w./@-]+)['"]\s*\)|from\s+['"](?:node:)?([\w./@-]+)['"]""", source
    )
    modules = {m for pair in found for m in pair if m}
    network = modules & {m.removeprefix("node:") for m in NETWORK_MODULES}
    if network or re.search(r"\bfetch\(|XMLHttpRequest|new WebSocket", source):
        line = next(
            (n for n, text in enumerate(analyzer.lines, 1) if re.search(r"http|net|dns|fetch|WebSocket", text)), 1
        )
        analyzer._emit("capability-network", line, f"uses {', '.join(sorted(network)) or 'fetch/XHR'} (token scan)")
    return analyzer.signals


#: Functions whose result does not reveal their input (signatures, hashes, MACs, public keys, ciphertexts).
#: Hashing a download before writing it: an installer checking a pinned binary.
HASH_CALLS: Final = ("createHash", "createHash()", ".digest", "ssri.checkData", "ssri.checkStream")
ONE_WAY_NAMES: Final = frozenset({
    "sign", "signMessage", "signTransaction", "signTypedData", "signBytes", "detached", "hash", "digest",
    "createHash", "createHmac", "hmac", "sha256", "sha512", "keccak256", "keccak", "ripemd160", "blake2b",
    "getPublicKey", "publicKeyCreate", "publicKeyConvert", "derivePublicKey", "verify", "encrypt", "seal",
})  # fmt: skip


_LOCAL_HOSTS: Final = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0)$", re.IGNORECASE)


def _local_destination(args: list[Any]) -> bool:
    """Whether the request goes to this machine: a loopback URL, or ``{hostname: '127.0.0.1'}``."""
    if not args:
        return False
    first = args[0]
    if first.type == "ObjectExpression":
        for prop in first.properties:
            key_node = getattr(prop, "key", None)
            key = getattr(key_node, "name", None) or getattr(key_node, "value", None)
            if key in ("host", "hostname"):
                host = fold_js(getattr(prop, "value", None))
                return host is not None and _LOCAL_HOSTS.match(host.split(":")[0]) is not None
        return False
    url = fold_js(first)
    match = re.match(r"^[a-z]+://([^/:?#]+|\[[^\]]+\])", url or "", re.IGNORECASE)
    return match is not None and _LOCAL_HOSTS.match(match.group(1)) is not None


def _one_way(name: str | None) -> bool:
    return bool(name) and any(part.removesuffix("()") in ONE_WAY_NAMES for part in (name or "").split("."))


def _spelled_name(key: Any) -> bool:
    """A computed key assembled from ``typeof`` results or character operations: a name spelled to hide it
    (``(typeof x).charAt(0).toUpperCase() + …`` is "Function"), not a dispatch on data."""
    for sub in _walk(key):
        if sub.type == "UnaryExpression" and sub.operator == "typeof":
            return True
        if (
            sub.type == "CallExpression"
            and sub.callee.type == "MemberExpression"
            and getattr(sub.callee.property, "name", None) in ("charAt", "fromCharCode", "charCodeAt", "reverse")
        ):
            return True
    return False


def _spells_literal_codes(call: Any) -> bool:
    """``String.fromCharCode(104, 105, …)`` or ``(...[104, 105])``: text spelled in literal character codes."""
    args = list(call.arguments)
    numbers = sum(1 for a in args if a.type == "Literal" and isinstance(a.value, (int, float)))
    if numbers >= 3:
        return True
    for arg in args:
        inner = arg.argument if arg.type == "SpreadElement" else arg
        if inner is not None and inner.type == "ArrayExpression" and len(inner.elements) >= 3:
            return True
    return False


def _secret(taint: str | None) -> bool:
    """Taints that must not leave the machine (not merely downloaded/decoded data)."""
    return taint is not None and taint != "network response" and not taint.startswith("decoded")


#: Syntax newer than esprima's ES2017, rewritten to an older form that means the same to this analysis
#: (which names flow where), line numbers kept: optional catch bindings, optional chaining, nullish
#: coalescing, logical assignment, numeric separators, BigInt literals, ``for await``.
_DOWNLEVEL: Final = (
    (re.compile(r"\bcatch\s*\{"), "catch (_cw_e) {"),
    (re.compile(r"\?\.(?=[\[(])"), ""),
    (re.compile(r"\?\.(?!\d)"), "."),
    (re.compile(r"(\?\?|\|\||&&)="), "="),
    (re.compile(r"\?\?"), "||"),
    (re.compile(r"(?<=\d)_(?=\d)"), ""),
    (re.compile(r"\b(\d+)n\b"), r"\1"),
    (re.compile(r"\bfor\s+await\s*\("), "for ("),
)


def _downlevel(text: str) -> str | None:
    """``text`` with post-ES2017 syntax rewritten for esprima, or None when there was none to rewrite."""
    rewritten = text
    for pattern, replacement in _DOWNLEVEL:
        rewritten = pattern.sub(replacement, rewritten)
    return rewritten if rewritten != text else None


def _minified(source: str) -> bool:
    """Bundles with very long lines: esprima is slow on them and flows are meaningless."""
    if len(source) < 20_000:
        return False
    lines = source.count("\n") + 1
    return len(source) / lines > 1000


def analyze_javascript(path: str, source: str, context: Context) -> tuple[list[Signal], bool]:
    """Signals for one JS file, and whether the real parser (not the tokenizer) read it."""
    analyzer = JavaScriptAnalyzer(path, source, context)
    signals = analyzer.run()
    return signals, analyzer.parsed


@dataclass(frozen=True, slots=True)
class PackageJsonInfo:
    """What ``package.json`` says about install-time code."""

    name: str
    version: str
    install_scripts: dict[str, str]
    install_files: tuple[str, ...]  # files install scripts run with node
    main: str | None
    dependencies: dict[str, str]
    bin_names: tuple[str, ...] = ()  # commands the package puts on PATH


def parse_package_json(text: str) -> PackageJsonInfo | None:
    """Tolerant reading of package.json; None when it is not a JSON object."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    scripts = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
    assert isinstance(scripts, dict)
    hooks = {k: str(v) for k, v in scripts.items() if k in INSTALL_SCRIPTS and isinstance(v, str)}
    files: list[str] = []
    for command in hooks.values():
        for match in re.finditer(r"\bnode\s+(?:--?[\w-]+\s+)*([\w./@-]+\.(?:c|m)?js|[\w./@-]+)", command):
            target = match.group(1).removeprefix("./")
            if target not in ("-e", "-p", "--eval"):
                files.append(target if target.endswith((".js", ".cjs", ".mjs")) else f"{target}.js")
    for command in hooks.values():
        for match in re.finditer(
            r"(?:^|[\s&|;])(?:(?:ba|z)?sh\s+|cmd(?:\.exe)?\s+/c\s+)?\.?/?([\w./-]+\.(?:sh|bat|cmd|ps1))\b", command
        ):
            files.append(match.group(1).removeprefix("./"))
    deps = data.get("dependencies") if isinstance(data.get("dependencies"), dict) else {}
    assert isinstance(deps, dict)
    main = data.get("main") if isinstance(data.get("main"), str) else None
    return PackageJsonInfo(
        name=str(data.get("name", "")),
        version=str(data.get("version", "")),
        install_scripts=hooks,
        install_files=tuple(files),
        main=main,
        dependencies={str(k): str(v) for k, v in deps.items()},
        bin_names=_bin_names(data),
    )


def _bin_names(data: dict[str, object]) -> tuple[str, ...]:
    """``"bin": {"aws": "x.js"}``, or ``"bin": "x.js"`` (the command is the unscoped package name)."""
    declared = data.get("bin")
    if isinstance(declared, dict):
        return tuple(str(k) for k in declared)
    if isinstance(declared, str):
        return (str(data.get("name", "")).rsplit("/", 1)[-1],)
    return ()


def analyze_package_json(path: str, text: str) -> list[Signal]:
    """Install hooks and what they run."""
    info = parse_package_json(text)
    if info is None:
        return []
    lines = text.splitlines()
    signals: list[Signal] = []
    for hook, command in info.install_scripts.items():
        line = next((n for n, content in enumerate(lines, 1) if f'"{hook}"' in content), 1)

        def add(rule_id: str, why: str, line: int = line, hook: str = hook) -> None:
            signals.append(Signal(rule_id, path, line, snippet_of(lines, line), why, Context.INSTALL, scope=hook))

        add("capability-install-hook", f"npm runs {hook!r} on install: {command[:120]!r}")
        for rule_id, why in shell_command_signals(command):
            add(rule_id, f"{hook} script {why}")
        inline = re.search(r"\bnode\s+(?:-e|--eval|-p)\s+(['\"])(.*)\1", command)
        if inline:
            for signal in JavaScriptAnalyzer(path, inline.group(2), Context.INSTALL).run():
                add(signal.rule_id, f"{hook} inline code: {signal.why}")
    return signals
