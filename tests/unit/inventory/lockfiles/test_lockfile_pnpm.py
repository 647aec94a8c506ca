"""pnpm-lock.yaml 5.4, 6.0 and 9.0."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainwarden.inventory.lockfiles._common import LockfileFormatError
from chainwarden.inventory.lockfiles.pnpm import PnpmLockCataloger, parse_package_key
from chainwarden.models import Location, Scope
from unit.inventory.lockfiles.lockfile_testing import by_name, catalog, line_of

PNPM_V5 = """\
lockfileVersion: 5.4

specifiers:
  '@babel/core': ^7.20.0
  express: ^4.18.2
  react-dom: ^18.2.0

dependencies:
  express: 4.18.2
  react-dom: 18.2.0_react@18.2.0

devDependencies:
  '@babel/core': 7.20.0

packages:

  /@babel/core/7.20.0:
    resolution: {integrity: sha512-Xt0r6S2Dn9CROUx4JfrcdIsBjv5tfbIDiuUVxf+cWMBfFlp6Ic7k5HsYoD6aRgXSs6R6xFZoSNdTSDbE5YYcmA==}
    engines: {node: '>=6.9.0'}
    dev: true

  /express/4.18.2:
    resolution: {integrity: sha512-5/PsL6iGPdfQ/lKM1UuielYgv3BUoJfz1aUwU9vHZ+J7gyvwdQXFEBIEIaxeGf0GIcreATNyBExtalisDbuMqQ==}
    engines: {node: '>= 0.10.0'}
    dependencies:
      ms: 2.0.0
    dev: false

  /ms/2.0.0:
    resolution: {integrity: sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A==}
    dev: false

  /react-dom/18.2.0_react@18.2.0:
    resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
    peerDependencies:
      react: ^18.2.0
    dependencies:
      react: 18.2.0
    dev: false

  /react/18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}
    dev: false
"""


def test_v5(tmp_path: Path) -> None:
    result = catalog(PnpmLockCataloger(), tmp_path, {"pnpm-lock.yaml": PNPM_V5})
    assert result.skipped == []
    packages = by_name(result)
    assert {n: (p.version, p.scope, p.direct) for n, p in packages.items()} == {
        "@babel/core": ("7.20.0", Scope.DEV, True),
        "express": ("4.18.2", Scope.PROD, True),
        "ms": ("2.0.0", Scope.PROD, False),
        "react-dom": ("18.2.0", Scope.PROD, True),
        "react": ("18.2.0", Scope.PROD, False),
    }
    core = packages["@babel/core"]
    assert core.purl == "pkg:npm/%40babel/core@7.20.0"
    assert core.locations == (Location("pnpm-lock.yaml", line=line_of(PNPM_V5, "/@babel/core/7.20.0:")),)
    assert core.hashes[0].startswith("sha512-Xt0r6S2D")
    assert all(p.pinned and p.found_by == "pnpm-lock" for p in packages.values())


PNPM_V6 = """\
lockfileVersion: '6.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      lodash:
        specifier: ^4.17.21
        version: 4.17.21
      shared:
        specifier: workspace:*
        version: link:packages/shared
    devDependencies:
      typescript:
        specifier: ^5.4.0
        version: 5.4.3

  packages/shared:
    dependencies:
      react-dom:
        specifier: ^18.2.0
        version: 18.2.0(react@18.2.0)
    optionalDependencies:
      fsevents:
        specifier: ^2.3.3
        version: 2.3.3

packages:

  /fsevents@2.3.3:
    resolution: {integrity: sha512-5xoDfX+fL7faATnagmWPpbFtwh/R77WmMMqqHGS65C3vvB0YHrgF+B1YmZ3441tMj5n63k0212XNoJwzlhffQw==}
    engines: {node: ^8.16.0 || ^10.6.0 || >=11.0.0}
    os: [darwin]
    requiresBuild: true
    dev: false
    optional: true

  /lodash@4.17.21:
    resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==}
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
    peerDependencies:
      react: ^18.2.0
    dependencies:
      react: 18.2.0
    dev: false

  /react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}
    dev: false

  /typescript@5.4.3:
    resolution: {integrity: sha512-KrPd3PKaCLr78MalgiwJnA25Nm8HAmdwN3mYUYZgG/wizIo9EainNVQI9/yDavtVFRN2h3k8uf3GLHuhDMgEHg==}
    engines: {node: '>=14.17'}
    hasBin: true
    dev: true

  github.com/acme/tool/0123456789abcdef0123456789abcdef01234567:
    resolution: {tarball: https://codeload.github.com/acme/tool/tar.gz/0123456789abcdef0123456789abcdef01234567}
    name: tool
    version: 1.0.0
    dev: false
"""


def test_v6_importers_workspaces_and_non_registry(tmp_path: Path) -> None:
    result = catalog(PnpmLockCataloger(), tmp_path, {"web/pnpm-lock.yaml": PNPM_V6})
    assert result.skipped == []
    packages = by_name(result)
    assert {n: (p.version, p.scope, p.direct, p.pinned) for n, p in packages.items()} == {
        "fsevents": ("2.3.3", Scope.OPTIONAL, True, True),
        "lodash": ("4.17.21", Scope.PROD, True, True),
        "react-dom": ("18.2.0", Scope.PROD, True, True),
        "react": ("18.2.0", Scope.PROD, False, True),
        "typescript": ("5.4.3", Scope.DEV, True, True),
        # not reached from any importer: the dev flag decides
        "tool": ("1.0.0", Scope.PROD, False, False),
    }
    assert packages["react-dom"].locations == (
        Location("web/pnpm-lock.yaml", line=line_of(PNPM_V6, "/react-dom@18.2.0(react@18.2.0):")),
    )


PNPM_V9 = """\
lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      '@tanstack/react-query':
        specifier: ^5.28.0
        version: 5.28.4(react@18.2.0)
      string-width-cjs:
        specifier: npm:string-width@^4.2.0
        version: string-width@4.2.3
    devDependencies:
      react:
        specifier: ^18.2.0
        version: 18.2.0

packages:

  '@tanstack/query-core@5.28.4':
    resolution: {integrity: sha512-uQZqOFqLWUvXNIQZ63XdKzg22NtHzgCBUfDmjDHi3BoF+nUYeBNvMi/xFPtFrMhqRzG2Ir4mYaGsWZzmiEjXpA==}

  '@tanstack/react-query@5.28.4':
    resolution: {integrity: sha512-BErcoB/QQG6YwLSUKnaGxF+lSc270RH2w3kMBpG0i4YzDCsFs2pdxPX1WVknQvFk9bNgukMb158hc2Zb4SdwSA==}
    peerDependencies:
      react: ^18.0.0

  js-tokens@4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}

  loose-envify@1.4.0:
    resolution: {integrity: sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q==}
    hasBin: true

  react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}

  string-width@4.2.3:
    resolution: {integrity: sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g==}
    engines: {node: '>=8'}

snapshots:

  '@tanstack/query-core@5.28.4': {}

  '@tanstack/react-query@5.28.4(react@18.2.0)':
    dependencies:
      '@tanstack/query-core': 5.28.4
      react: 18.2.0

  js-tokens@4.0.0: {}

  loose-envify@1.4.0:
    dependencies:
      js-tokens: 4.0.0

  react@18.2.0:
    dependencies:
      loose-envify: 1.4.0

  string-width@4.2.3: {}
"""


def test_v9_packages_and_snapshots(tmp_path: Path) -> None:
    result = catalog(PnpmLockCataloger(), tmp_path, {"pnpm-lock.yaml": PNPM_V9})
    assert result.skipped == []
    packages = by_name(result)
    # react is a dev dependency of the project but a dependency of react-query, which ships
    assert {n: (p.version, p.scope, p.direct) for n, p in packages.items()} == {
        "@tanstack/query-core": ("5.28.4", Scope.PROD, False),
        "@tanstack/react-query": ("5.28.4", Scope.PROD, True),
        "js-tokens": ("4.0.0", Scope.PROD, False),
        "loose-envify": ("1.4.0", Scope.PROD, False),
        "react": ("18.2.0", Scope.PROD, True),
        "string-width": ("4.2.3", Scope.PROD, True),
    }
    query = packages["@tanstack/react-query"]
    assert query.purl == "pkg:npm/%40tanstack/react-query@5.28.4"
    assert query.locations[0].line == line_of(PNPM_V9, "'@tanstack/react-query@5.28.4':")


def test_v9_dev_only_subtree(tmp_path: Path) -> None:
    text = PNPM_V9.replace(
        "    dependencies:\n      '@tanstack/react-query':\n        specifier: ^5.28.0\n"
        "        version: 5.28.4(react@18.2.0)\n",
        "    dependencies:\n",
    )
    packages = by_name(catalog(PnpmLockCataloger(), tmp_path, {"pnpm-lock.yaml": text}))
    assert packages["react"].scope is Scope.DEV
    assert packages["loose-envify"].scope is Scope.DEV
    assert packages["@tanstack/react-query"].scope is None  # nothing reaches it any more
    assert packages["@tanstack/react-query"].direct is False


@pytest.mark.parametrize(
    ("key", "major", "expected"),
    [
        ("/express/4.18.2", 5, ("express", "4.18.2")),
        ("/@babel/core/7.20.0", 5, ("@babel/core", "7.20.0")),
        ("/react-dom/18.2.0_react@18.2.0", 5, ("react-dom", "18.2.0")),
        ("/@babel/core@7.20.0", 6, ("@babel/core", "7.20.0")),
        ("/react-dom@18.2.0(react@18.2.0)", 6, ("react-dom", "18.2.0")),
        ("@types/react@18.2.0", 9, ("@types/react", "18.2.0")),
        ("a@1.0.0(b@2.0.0(c@3.0.0))", 9, ("a", "1.0.0")),
    ],
)
def test_parse_package_key(key: str, major: int, expected: tuple[str, str]) -> None:
    assert parse_package_key(key, major) == expected


@pytest.mark.parametrize(
    ("key", "major"),
    [("/express", 5), ("/a/b/c/d", 5), ("noversion", 9), ("@scope/x", 6), ("file:../x", 5), ("link:../x", 6)],
)
def test_parse_package_key_rejects(key: str, major: int) -> None:
    with pytest.raises(LockfileFormatError):
        parse_package_key(key, major)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lockfileVersion: '4.0'\n", "lockfileVersion '4.0' is not supported (5.x, 6.x, 9.x are)"),
        ("lockfileVersion: [1]\n", "lockfileVersion is a list"),
        ("packages: {}\n", "lockfileVersion is null"),
        ("lockfileVersion: '9.0'\npackages: [1, 2]\n", "'packages' is a list, expected a mapping"),
        ("- just\n- a list\n", "the document is a list, expected a mapping"),
        ("lockfileVersion: '9.0'\npackages:\n  x: !!python/object:os.system {}\n", "invalid YAML"),
    ],
)
def test_bad_documents(tmp_path: Path, text: str, reason: str) -> None:
    result = catalog(PnpmLockCataloger(), tmp_path, {"pnpm-lock.yaml": text})
    assert result.packages == []
    assert len(result.skipped) == 1
    assert result.skipped[0].reason.startswith(reason)


@pytest.mark.parametrize(
    ("key", "major", "expected"),
    [
        ("registry.example/foo/1.1.0", 5, ("foo", "1.1.0")),
        ("registry.example/@foo/bar/1.1.0_baz@2.0.0", 5, ("@foo/bar", "1.1.0")),
        ("registry.example/foo@1.1.0(baz@2.0.0)", 6, ("foo", "1.1.0")),
    ],
)
def test_parse_package_key_drops_a_registry_host(key: str, major: int, expected: tuple[str, str]) -> None:
    assert parse_package_key(key, major) == expected


PNPM_V5_EXOTIC = """\
lockfileVersion: 5.3

packages:
  /foo/1.0.0:
  registry.example/foo/1.1.0:
  github.com/kevva/is-positive:
  file:../named:
    resolution: {directory: ../named, type: directory}
    name: named
    version: 1.0.0
  file:../nameless:
    resolution: {directory: ../nameless, type: directory}
    version: 1.0.0
  file:projects/package-a.tgz:
    resolution: {integrity: sha512-IGZcvUzTIN7kALye9n4gFuh8nWXFrWp4P/UT2btEHCRDJvVODIGJgVsFNOGnDYc543OmTs8keZBa5tkMMoHIgg==, tarball: file:projects/package-a.tgz}
    name: from-tarball
    version: 0.0.0
"""


def test_v5_empty_entries_other_registries_and_local_folders(tmp_path: Path) -> None:
    result = catalog(PnpmLockCataloger(), tmp_path, {"pnpm-lock.yaml": PNPM_V5_EXOTIC})
    assert {(p.name, p.version, p.pinned) for p in result.packages} == {
        ("foo", "1.0.0", True),
        ("foo", "1.1.0", True),  # from another registry: still npm's foo
        ("named", "1.0.0", False),  # a local folder: its version is no registry release
        ("from-tarball", "0.0.0", False),
    }
    assert [(s.what, s.reason) for s in result.skipped] == [
        ("github.com/kevva/is-positive", "key 'github.com/kevva/is-positive' names no version"),
        ("file:../nameless", "a local dependency without a 'name'"),  # never a package named "file:.."
    ]
