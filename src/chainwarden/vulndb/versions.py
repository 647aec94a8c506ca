"""Version ordering per ecosystem, as OSV ranges need it.

Each scheme turns a version string into a sort key once (results are cached by
the caller); keys of one scheme compare with ``<``/``==`` and nothing else.

* PyPI: PEP 440 through :mod:`packaging` (pre, post, dev and local segments).
* npm and OSV ``SEMVER`` ranges: SemVer 2.0.0 precedence (build metadata is
  ignored, pre-releases sort below their release, numeric identifiers below
  alphanumeric ones).
* Debian: dpkg ordering (epoch, then upstream and revision with ``~`` sorting
  before everything, even the end of the string), checked in the tests against
  ``dpkg --compare-versions`` itself.

A string a scheme cannot order raises :class:`UncomparableVersion`: the caller
reports the package as "could not compare" instead of guessing.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from typing import Any

from packaging.version import InvalidVersion, Version


class UncomparableVersion(ValueError):
    """A version string the scheme cannot place in its order."""


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


class PEP440Scheme(VersionScheme):
    name = "PEP 440"

    def key(self, version: str) -> PEP440Key:
        """packaging parses; the key is packaging's own ordering as plain tuples.

        A scan compares and sorts tens of thousands of keys: tuples of ints and
        strings compare in C, ``Version`` objects through Python methods.
        Built from ``Version``'s public fields with the order of its
        ``_cmpkey`` (checked against ``Version`` comparisons in the tests).
        """
        try:
            parsed = Version(version)
        except InvalidVersion as exc:
            raise UncomparableVersion(f"'{version}' is not a PEP 440 version") from exc
        return pep440_key(parsed)

    def exact(self, version: str) -> str:
        return _pep440_exact(version)


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
    try:
        parsed = Version(text)
    except InvalidVersion:
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

# semver.org's recommended expression, plus npm's tolerance of a leading "v"/"="
# and surrounding whitespace (node-semver's loose parsing of installed versions)
_SEMVER = re.compile(
    r"^\s*[v=]?\s*"
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\s*$"
)

SemVerKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


class SemVerScheme(VersionScheme):
    name = "SemVer"

    def key(self, version: str) -> SemVerKey:
        match = _SEMVER.match(version)
        if match is None:
            raise UncomparableVersion(f"'{version}' is not a SemVer 2 version")
        major, minor, patch = int(match["major"]), int(match["minor"]), int(match["patch"])
        pre = match["pre"]
        if pre is None:
            # a release sorts above all of its pre-releases (SemVer 2 §11.3)
            return (major, minor, patch, 1, ())
        identifiers = tuple(
            # numeric identifiers sort numerically and below alphanumeric ones (§11.4)
            (0, int(ident), "") if ident.isdigit() else (1, 0, ident)
            for ident in pre.split(".")
        )
        return (major, minor, patch, 0, identifiers)

    def exact(self, version: str) -> str:
        match = _SEMVER.match(version)
        if match is None:
            return version.strip()
        text = f"{match['major']}.{match['minor']}.{match['patch']}"
        return f"{text}-{match['pre']}" if match["pre"] else text


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
        match = _DPKG_VERSION.match(text)
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
        text = version.strip()
        return text[2:] if text.startswith("0:") else text


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
