"""Version ordering per ecosystem, as OSV ranges need it.

Each scheme turns a version string into a sort key once (results are cached by
the caller); keys of one scheme compare with ``<``/``==`` and nothing else.

* PyPI: PEP 440 through :mod:`packaging` (pre, post, dev and local segments);
  a version that is not PEP 440 (``0.9-doduo``, ``trunk``, ``1.0beta6.1``) is
  a *legacy* version, ordered as setuptools' old ``parse_version`` ordered it
  and below every PEP 440 version, which is what OSV does (osv-scalibr's
  ``semantic`` package gives legacy versions epoch -1).
* npm and OSV ``SEMVER`` ranges: SemVer 2.0.0 precedence (build metadata is
  ignored, pre-releases sort below their release, numeric identifiers below
  alphanumeric ones), read as leniently as OSV reads them: fewer or more than
  three numeric components (``1.2`` is ``1.2.0``; a fourth and later component
  joins the pre-release part), numbers of any size, a pre-release part without
  its hyphen (``1.36.0rc1``).
* Debian: dpkg ordering (epoch, then upstream and revision with ``~`` sorting
  before everything, even the end of the string), checked in the tests against
  ``dpkg --compare-versions`` itself.

All three are checked line by line against OSV's own ordering fixtures
(osv-scalibr ``semantic/testdata``, committed under ``tests/fixtures``).

A string a scheme cannot order raises :class:`UncomparableVersion`: the caller
reports the package as "could not compare" instead of guessing. Where OSV would
still place a string chainwarden refuses it: an empty string, one with
whitespace or control characters inside, and for SemVer one that does not
start with a number (``latest``, ``^1.2.3``), since those are not versions but
input errors (OSV reads ``latest`` as ``0.0.0-latest``).
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from typing import Any

from packaging.version import InvalidVersion, Version


class UncomparableVersion(ValueError):
    """A version string the scheme cannot place in its order."""


#: Longer strings are not versions (and Python's int() refuses numbers over 4,300 digits).
MAX_VERSION_LENGTH = 1024


class VersionScheme(ABC):
    """Sort keys and exact-match normalisation for one ecosystem's versions."""

    #: short name used in messages ("PEP 440", "SemVer", "dpkg")
    name: str = ""

    @abstractmethod
    def key(self, version: str) -> Any:
        """A sort key for ``version``; raises :class:`UncomparableVersion`."""

    @abstractmethod
    def exact(self, version: str) -> str:
        """A string equal for versions the scheme calls equal (for ``versions`` lists).

        Never raises: a version the scheme cannot parse is returned stripped, so
        that an exact string match still works for it.
        """


PEP440Key = tuple[int, tuple[int, ...], tuple[Any, ...], tuple[int, ...], tuple[int, ...], tuple[Any, ...]]


LegacyKey = tuple[int, str]


class PEP440Scheme(VersionScheme):
    name = "PEP 440"

    def key(self, version: str) -> PEP440Key | LegacyKey:
        """packaging parses; the key is packaging's own ordering as plain tuples.

        A scan compares and sorts tens of thousands of keys: tuples of ints and
        strings compare in C, ``Version`` objects through Python methods.
        Built from ``Version``'s public fields with the order of its
        ``_cmpkey`` (checked against ``Version`` comparisons in the tests).
        A legacy version's key starts with -1, below every PEP 440 epoch.
        """
        if len(version) > MAX_VERSION_LENGTH:
            raise UncomparableVersion(f"'{version[:40]}…' is not a PEP 440 version (too long)")
        try:
            parsed = Version(version)
        except InvalidVersion:
            return (-1, _legacy_key(version))
        return pep440_key(parsed)

    def exact(self, version: str) -> str:
        return _pep440_exact(version)


# setuptools' legacy parse_version (pkg_resources before PEP 440), as osv-scalibr
# ports it: runs of digits, runs of letters, "." and "-"; everything else is noise
_LEGACY_PART = re.compile(r"[0-9]+|[a-z]+|\.|-")
_LEGACY_REPLACE = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}
# whitespace or control characters inside a version are an input error, not a version
_NOT_A_VERSION = re.compile(r"[\x00-\x20\x7f-\x9f\s]")


def _legacy_key(version: str) -> str:
    """The legacy sort string: parts joined, compared as one string (osv-scalibr's compareLegacy)."""
    text = version.strip()
    if not text or _NOT_A_VERSION.search(text):
        raise UncomparableVersion(f"'{version}' is not a PEP 440 version")
    parts: list[str] = []
    for found in [*_LEGACY_PART.findall(text.lower()), "final"]:
        if found == ".":
            continue
        word = _LEGACY_REPLACE.get(found, found)
        # numbers are zero-padded so that they compare as numbers inside the string
        part = word.rjust(8, "0") if word[0].isdigit() else "*" + word
        if part.startswith("*"):
            if part < "*final":
                # a pre-release marker drops the "-" separators before it
                while parts and parts[-1] == "*final-":
                    parts.pop()
            # trailing zeros before a word do not count: 1.0-beta == 1-beta
            while parts and parts[-1] == "00000000":
                parts.pop()
        parts.append(part)
    return "".join(parts)


def pep440_key(parsed: Version) -> PEP440Key:
    """The sort key of a parsed version, equal exactly when the versions are equal."""
    release = parsed.release
    end = len(release)
    while end and release[end - 1] == 0:
        end -= 1  # trailing zeros do not count: 1.0 == 1.0.0
    pre, post, dev, local = parsed.pre, parsed.post, parsed.dev, parsed.local
    # (0,) and (2,) stand for packaging's NegativeInfinity and Infinity
    if pre is None and post is None and dev is not None:
        pre_key: tuple[Any, ...] = (0,)  # 1.0.dev0 sorts before 1.0a0
    elif pre is None:
        pre_key = (2,)
    else:
        pre_key = (1, pre[0], pre[1])
    post_key = (0,) if post is None else (1, post)
    dev_key = (1,) if dev is None else (0, dev)
    if local is None:
        local_key: tuple[Any, ...] = (0,)
    else:
        # packaging: numeric segments compare as numbers and above alphanumeric ones
        local_key = (1, tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in local.split(".")))
    return (parsed.epoch, release[:end], pre_key, post_key, dev_key, local_key)


@functools.lru_cache(maxsize=65536)
def _pep440_exact(version: str) -> str:
    # advisories repeat the same long version lists; the cache makes import cheap
    text = version.strip()
    if _SIMPLE_RELEASE.fullmatch(text):
        # the common "1.2.0" case without a full parse: PEP 440 ignores
        # trailing zero release components when comparing
        parts = text.split(".")
        while len(parts) > 1 and parts[-1] == "0":
            parts.pop()
        return ".".join(parts)
    if len(text) > MAX_VERSION_LENGTH:
        return text
    try:
        parsed = Version(text)
    except InvalidVersion:
        try:
            # a legacy version: its sort string, equal exactly when the versions
            # are; it always holds a "*", which no PEP 440 form does
            return _legacy_key(text)
        except UncomparableVersion:
            return text
    release = list(parsed.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    canonical = ".".join(str(part) for part in release)
    if parsed.epoch:
        canonical = f"{parsed.epoch}!{canonical}"
    if parsed.pre is not None:
        canonical += f"{parsed.pre[0]}{parsed.pre[1]}"
    if parsed.post is not None:
        canonical += f".post{parsed.post}"
    if parsed.dev is not None:
        canonical += f".dev{parsed.dev}"
    if parsed.local is not None:
        canonical += f"+{parsed.local}"
    return canonical


_SIMPLE_RELEASE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")

# npm's tolerance of a leading "v"/"=" and surrounding whitespace (node-semver's
# loose parsing of installed versions); what follows must start with a number
_SEMVER_PREFIX = re.compile(r"^\s*[v=]?\s*(?=[0-9])")
# Go's big.Int SetString in base 10, which osv-scalibr uses to call an identifier numeric
_NUMERIC_IDENT = re.compile(r"-?[0-9]+")
# "-01" is valid SemVer (alphanumeric) but a number to OSV: its exact form is "-1"
_NEGATIVE_IDENT = re.compile(r"(?:^|\.)-[0-9]+(?:\.|$)")

SemVerIdent = tuple[int, int, str]
SemVerKey = tuple[int, int, int, int, tuple[SemVerIdent, ...]]


# semver.org's recommended expression with the same loose prefix: the common case, read
# without the character walk below (both readings agree on every string this matches)
_STRICT_SEMVER = re.compile(
    r"^\s*[v=]?\s*"
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\s*$",
    re.ASCII,
)


def _semver_parts(version: str) -> tuple[tuple[int, int, int], tuple[str, ...] | None]:
    """Three numeric components and the pre-release identifiers (None for a release).

    The reading of osv-scalibr's ``parseSemverLike``: dot-separated runs of
    digits are components until the first other character, which starts the
    pre-release/build text; components after the third are appended to that
    text (``1.1.3.4.5`` has the pre-release ``.4.5``); build metadata after
    ``+`` is dropped and one leading ``-`` removed. For a valid SemVer 2
    version this is exactly SemVer precedence.
    """
    strict = _STRICT_SEMVER.match(version) if len(version) <= MAX_VERSION_LENGTH else None
    if strict is not None:
        pre = strict["pre"]
        core = (int(strict["major"]), int(strict["minor"]), int(strict["patch"]))
        return core, (tuple(pre.split(".")) if pre else None)
    prefix = _SEMVER_PREFIX.match(version)
    text = version[prefix.end() :].rstrip() if prefix else ""
    if not text or len(text) > MAX_VERSION_LENGTH or _NOT_A_VERSION.search(text):
        raise UncomparableVersion(f"'{version}' is not a SemVer 2 version")
    numbers: list[str] = []
    run = ""
    rest = ""
    for index, char in enumerate(text):
        if "0" <= char <= "9":
            run += char
            continue
        if run:
            numbers.append(run)
            run = ""
        if char != ".":
            rest = text[index:]
            break
    else:
        if run:
            numbers.append(run)
    values = [int(number) for number in numbers]
    rest += "".join(f".{value}" for value in values[3:])
    values = [*values, 0, 0, 0][:3]
    pre = rest.split("+", 1)[0].removeprefix("-")
    return (values[0], values[1], values[2]), (tuple(pre.split(".")) if pre else None)


def _semver_ident(ident: str) -> SemVerIdent:
    # numeric identifiers sort numerically and below alphanumeric ones (SemVer 2 §11.4)
    return (0, int(ident), "") if _NUMERIC_IDENT.fullmatch(ident) else (1, 0, ident)


class SemVerScheme(VersionScheme):
    name = "SemVer"

    def key(self, version: str) -> SemVerKey:
        (major, minor, patch), pre = _semver_parts(version)
        if pre is None:
            # a release sorts above all of its pre-releases (SemVer 2 §11.3)
            return (major, minor, patch, 1, ())
        return (major, minor, patch, 0, tuple(_semver_ident(ident) for ident in pre))

    def exact(self, version: str) -> str:
        return _semver_exact(version)


@functools.lru_cache(maxsize=65536)
def _semver_exact(version: str) -> str:
    # advisories repeat the same version lists; the cache keeps import cheap
    strict = _STRICT_SEMVER.match(version) if len(version) <= MAX_VERSION_LENGTH else None
    if strict is not None and not _NEGATIVE_IDENT.search(strict["pre"] or ""):
        # already the canonical spelling, apart from a prefix and build metadata
        text = f"{strict['major']}.{strict['minor']}.{strict['patch']}"
        return f"{text}-{strict['pre']}" if strict["pre"] else text
    try:
        (major, minor, patch), pre = _semver_parts(version)
    except UncomparableVersion:
        return version.strip()
    text = f"{major}.{minor}.{patch}"
    if pre is None:
        return text
    # numeric identifiers in their numeric form: 1.0.0-01 is 1.0.0-1 to OSV
    idents = (str(int(ident)) if _NUMERIC_IDENT.fullmatch(ident) else ident for ident in pre)
    return f"{text}-{'.'.join(idents)}"


# dpkg accepts these characters (deb-version(7)); anything else is not a version
_DPKG_VERSION = re.compile(r"^(?:(?P<epoch>[0-9]+):)?(?P<rest>[A-Za-z0-9.+~:-]+)$")
_DPKG_REVISION = re.compile(r"^[A-Za-z0-9.+~]+$")
_DPKG_PART = re.compile(r"([^0-9]*)([0-9]*)")

DpkgPartKey = tuple[tuple[int, ...], ...]
DpkgKey = tuple[int, DpkgPartKey, DpkgPartKey]

# The sentinel that ends every part key. It sorts between elements standing for a
# negative token ("~", -1) and elements for positive ones: the end of a string
# compares like an endless run of zeros in dpkg's verrevcmp().
_END: tuple[int, ...] = (0,)


def _dpkg_order(char: str) -> int:
    """dpkg's order(): '~' before the end of string, letters before other marks."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _dpkg_part_key(text: str) -> DpkgPartKey:
    """A sort key for an upstream version or a revision, equivalent to verrevcmp().

    verrevcmp() reads alternating non-digit and digit runs; non-digit runs are
    compared character by character (with the end of the run as 0) and digit
    runs numerically (empty as 0). Flattened, that is a stream of integer tokens
    compared position by position with an endless tail of zeros. Python compares
    tuples with "shorter is smaller" instead, so the stream is stored as its
    non-zero tokens, each with the count of zeros before it, encoded so that a
    token against a zero compares by its sign; the end marker sorts between.
    """
    tokens: list[int] = []
    for non_digits, digits in _DPKG_PART.findall(text):
        if not non_digits and not digits:
            continue
        tokens.extend(_dpkg_order(char) for char in non_digits)
        tokens.append(0)  # end of the non-digit run
        tokens.append(int(digits) if digits else 0)
    elements: list[tuple[int, ...]] = []
    zeros = 0
    for token in tokens:
        if token == 0:
            zeros += 1
            continue
        sign = 1 if token > 0 else -1
        # a positive token after fewer zeros sorts higher; a negative one lower
        elements.append((sign, -zeros * sign, token))
        zeros = 0
    elements.append(_END)
    return tuple(elements)


class DpkgScheme(VersionScheme):
    name = "dpkg"

    def key(self, version: str) -> DpkgKey:
        text = version.strip()
        match = _DPKG_VERSION.match(text) if len(text) <= MAX_VERSION_LENGTH else None
        if match is None:
            raise UncomparableVersion(f"'{version}' is not a Debian version")
        epoch = int(match["epoch"]) if match["epoch"] else 0
        rest = match["rest"]
        upstream, sep, revision = rest.rpartition("-")
        if not sep:
            upstream, revision = rest, ""
        if not upstream or (sep and not _DPKG_REVISION.match(revision)):
            raise UncomparableVersion(f"'{version}' is not a Debian version")
        if ":" in upstream and not match["epoch"]:
            # a colon in the upstream part needs an explicit epoch (deb-version(7))
            raise UncomparableVersion(f"'{version}' is not a Debian version")
        return (epoch, _dpkg_part_key(upstream), _dpkg_part_key(revision))

    def exact(self, version: str) -> str:
        """dpkg's equality as text: no zero epoch, no zero revision, numbers without leading zeros.

        ``1.0``, ``0:1.0``, ``1.0-0`` and ``01.00`` are one version to dpkg (and to
        OSV's fixtures), so they share one form; a version dpkg rejects is kept as it is.
        """
        return _dpkg_exact(version)


@functools.lru_cache(maxsize=65536)
def _dpkg_exact(version: str) -> str:
    # advisories repeat the same version lists; the cache and the fast path keep import cheap
    text = version.strip()
    dash = text.rfind("-")
    if (
        _DPKG_ALREADY_CANONICAL.fullmatch(text)
        and not _DPKG_LEADING_ZERO.search(text)
        and (dash < 0 or (text[dash - 1].isdigit() and text[dash + 1 :].strip("0") != ""))
    ):
        return text  # what the long way below would give back unchanged
    return _dpkg_exact_slow(text)


# no epoch or a non-zero one without leading zeros, ending in a digit
_DPKG_ALREADY_CANONICAL = re.compile(r"(?:[1-9][0-9]*:)?[0-9][A-Za-z0-9.+~-]*[0-9]|[0-9]", re.ASCII)
_DPKG_LEADING_ZERO = re.compile(r"(?<![0-9])0[0-9]")


def _dpkg_exact_slow(text: str) -> str:
    try:
        DPKG.key(text)
    except UncomparableVersion:
        return text
    epoch, sep, rest = text.partition(":")
    if not sep:
        epoch, rest = "0", text
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    canonical = _dpkg_canonical(upstream)
    if _dpkg_part_key(revision) != _dpkg_part_key(""):
        canonical += "-" + _dpkg_canonical(revision)
    return canonical if int(epoch) == 0 else f"{int(epoch)}:{canonical}"


def _dpkg_canonical(part: str) -> str:
    """``part`` with every number written without leading zeros, ending in a number.

    verrevcmp() compares digit runs numerically and an absent final run as 0, so
    ``1.`` and ``1.0`` are equal (as are ``1.0a`` and ``1.0a0``); no other
    spelling differences are.
    """
    runs = [(marks, str(int(digits)) if digits else "") for marks, digits in _DPKG_PART.findall(part)]
    runs = [run for run in runs if run != ("", "")]
    if runs and not runs[-1][1]:
        runs[-1] = (runs[-1][0], "0")
    return "".join(marks + digits for marks, digits in runs)


PEP440 = PEP440Scheme()
SEMVER = SemVerScheme()
DPKG = DpkgScheme()


def scheme_for(ecosystem: str, range_type: str = "ECOSYSTEM") -> VersionScheme | None:
    """The scheme for an OSV ecosystem name and range type, or None if unsupported."""
    if range_type == "SEMVER":
        return SEMVER
    if range_type != "ECOSYSTEM":
        return None
    if ecosystem == "PyPI":
        return PEP440
    if ecosystem == "npm":
        return SEMVER
    if ecosystem == "Debian" or ecosystem.startswith("Debian:"):
        return DPKG
    return os_scheme_for(ecosystem)


def compare(scheme: VersionScheme, left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` sorts before, equal to or after ``right``."""
    a, b = scheme.key(left), scheme.key(right)
    return -1 if a < b else (1 if a > b else 0)


# -- OS packages and Go: Alpine (apk-tools), RPM (rpmvercmp) -------------------------------------
# Kept in their own classes, below the language schemes: each is checked line by line
# against OSV's fixtures (osv-scalibr semantic/testdata) and RPM against rpm itself.

_APK_NUMBERS = re.compile(r"^(?:[0-9]+\.?)*")
_APK_SUFFIX = re.compile(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)([0-9]*)")
_APK_HASH = re.compile(r"^~[0-9a-f]+")
_APK_BUILD = re.compile(r"^-r([0-9]*)")
# apk-tools: *alpha*, *beta*, *pre*, *rc*, <no suffix>, *cvs*, *svn*, *git*, *hg*, *p*
_APK_SUFFIX_WEIGHT = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "": 4, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}
_APK_NO_SUFFIX = (4, 0)
#: longest version string ordered (apk caps package versions far below this)
MAX_OS_VERSION_LENGTH = 1024


@functools.total_ordering
class ApkVersion:
    """An apk version: ``number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}``.

    apk-tools does not define a total order (``1.0`` equals ``1`` and ``1.00``,
    which differ: after the first component a leading zero compares as text), so
    this is a comparison object rather than a tuple key. It orders as OSV does
    (osv-scalibr ``semantic/version-alpine.go``): numbers, letter, suffixes, the
    ``-rN`` build number, then a valid version above one with trailing garbage;
    two invalid versions compare as strings. The ``~hash`` is ignored.
    """

    __slots__ = ("build", "components", "invalid", "letter", "original", "remainder", "suffixes")

    def __init__(self, text: str) -> None:
        self.original = text
        rest = text
        numbers = _APK_NUMBERS.match(rest)
        self.components: tuple[str, ...] = ()
        if numbers and numbers.group(0):
            digits = []
            for part in numbers.group(0).split("."):
                if not part:
                    break  # apk tolerates a dot not followed by a digit
                digits.append(part)
            self.components = tuple(digits)
            rest = rest[numbers.end() :]
        self.letter = rest[0] if rest and "a" <= rest[0] <= "z" else ""
        rest = rest[len(self.letter) :]
        suffixes: list[tuple[int, int]] = []
        for match in _APK_SUFFIX.finditer(rest):
            # like OSV: each recognised suffix found anywhere is taken off the front
            suffixes.append((_APK_SUFFIX_WEIGHT[match.group(1)], int(match.group(2) or "0")))
            rest = rest.removeprefix(match.group(0))
        self.suffixes = tuple(suffixes)
        hashed = _APK_HASH.match(rest)
        if hashed:
            rest = rest[hashed.end() :]
        self.invalid = False
        self.build = 0
        if rest:
            build = _APK_BUILD.match(rest)
            if build is None:
                self.invalid = True
            else:
                self.build = int(build.group(1) or "0")
                rest = rest[build.end() :]
        self.remainder = rest

    def _cmp(self, other: ApkVersion) -> int:
        if self.invalid and other.invalid:
            return (self.original > other.original) - (self.original < other.original)
        for i in range(max(len(self.components), len(other.components))):
            diff = _apk_component_cmp(self.components, other.components, i)
            if diff:
                return diff
        if self.letter != other.letter:
            if not self.letter or not other.letter:
                return -1 if not self.letter else 1
            return -1 if self.letter < other.letter else 1
        for i in range(max(len(self.suffixes), len(other.suffixes))):
            mine = self.suffixes[i] if i < len(self.suffixes) else _APK_NO_SUFFIX
            theirs = other.suffixes[i] if i < len(other.suffixes) else _APK_NO_SUFFIX
            if mine != theirs:
                return -1 if mine < theirs else 1
        if self.build != other.build:
            return -1 if self.build < other.build else 1
        if bool(self.remainder) != bool(other.remainder):
            return -1 if self.remainder else 1
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApkVersion) and self._cmp(other) == 0

    def __lt__(self, other: ApkVersion) -> bool:
        return self._cmp(other) < 0

    def __hash__(self) -> int:
        # equal versions share their first number (compared numerically, absent as 0)
        return hash(int(self.components[0]) if self.components else 0)

    def __repr__(self) -> str:
        return f"ApkVersion({self.original!r})"


def _apk_component_cmp(mine: tuple[str, ...], theirs: tuple[str, ...], index: int) -> int:
    a = mine[index] if index < len(mine) else None
    b = theirs[index] if index < len(theirs) else None
    if a is not None and b is not None and index > 0 and (a[0] == "0" or b[0] == "0"):
        # apk: after the first number a leading zero makes both compare as text (1.02 < 1.1)
        return (a > b) - (a < b)
    x, y = int(a) if a else 0, int(b) if b else 0
    return (x > y) - (x < y)


class ApkScheme(VersionScheme):
    """apk-tools' version ordering (Alpine's ``apk version -t``), as OSV applies it."""

    name = "apk"

    def key(self, version: str) -> ApkVersion:
        text = version.strip()
        if not text or len(text) > MAX_OS_VERSION_LENGTH or not text.isascii() or any(c.isspace() for c in text):
            raise UncomparableVersion(f"'{version}' is not an Alpine package version")
        return ApkVersion(text)

    def exact(self, version: str) -> str:
        return version.strip()


# rpmvercmp as a tuple key: separators vanish; then, position by position,
# "~" < end of string < "^" < letters (strcmp) < digits (numeric).
_RPM_TILDE: tuple[int, ...] = (0,)
_RPM_END: tuple[int, ...] = (1,)
_RPM_CARET: tuple[int, ...] = (2,)
_RPM_EMPTY: tuple[tuple[int, ...], ...] = ((-1,),)  # an absent part sorts below any present one
_RPM_TOKEN = re.compile(r"~|\^|[0-9]+|[A-Za-z]+|[^A-Za-z0-9~^]+")
_RPM_EPOCH = re.compile(r"^([0-9]+):")  # ASCII digits only: str.isdigit() would take "¹"

RpmPartKey = tuple[tuple[Any, ...], ...]
RpmKey = tuple[int, RpmPartKey, RpmPartKey]


def rpm_part_key(text: str) -> RpmPartKey:
    """A sort key for a version or release equivalent to rpmvercmp(3)."""
    if not text:
        return _RPM_EMPTY
    tokens: list[tuple[Any, ...]] = []
    for part in _RPM_TOKEN.findall(text):
        if part == "~":
            tokens.append(_RPM_TILDE)
        elif part == "^":
            tokens.append(_RPM_CARET)
        elif "0" <= part[0] <= "9":
            tokens.append((4, int(part)))
        elif part[0].isascii() and part[0].isalpha():
            tokens.append((3, part))
    tokens.append(_RPM_END)
    return tuple(tokens)


class RpmScheme(VersionScheme):
    """rpm's ordering: epoch, then version and release by rpmvercmp (``~``, ``^``, segments).

    ``[epoch:]version[-release]``; a missing epoch is 0. Checked against OSV's
    fixtures and against rpm's own ``labelCompare`` in the tests.
    """

    name = "rpm"

    def key(self, version: str) -> RpmKey:
        text = version.strip()
        if not text or len(text) > MAX_OS_VERSION_LENGTH or any(c.isspace() for c in text):
            raise UncomparableVersion(f"'{version}' is not an RPM version")
        epoch = 0
        match = _RPM_EPOCH.match(text)
        if match:
            epoch = int(match.group(1))
            text = text[match.end() :]
        upstream, sep, release = text.partition("-")
        return (epoch, rpm_part_key(upstream), rpm_part_key(sep + release))

    def exact(self, version: str) -> str:
        text = version.strip()
        return text[2:] if text.startswith("0:") else text


APK = ApkScheme()
RPM = RpmScheme()

#: OSV ecosystems (before any ``:release``) ordered by rpm
RPM_OSV_ECOSYSTEMS = ("Red Hat", "AlmaLinux", "Rocky Linux", "openSUSE", "SUSE", "Mageia", "openEuler", "Azure Linux")


def os_scheme_for(ecosystem: str) -> VersionScheme | None:
    """The scheme for an OSV ``ECOSYSTEM`` range of Alpine, the rpm family or Go."""
    base = ecosystem.split(":", 1)[0]
    if base in ("Alpine", "Wolfi", "Chainguard"):
        return APK
    if base in RPM_OSV_ECOSYSTEMS:
        return RPM
    if ecosystem == "Go":
        return SEMVER
    return None
