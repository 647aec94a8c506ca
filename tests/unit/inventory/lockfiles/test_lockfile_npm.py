"""package-lock.json v1, v2, v3 and npm-shrinkwrap.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.inventory.lockfiles.npm import NpmPackageLockCataloger
from chainwarden.models import Ecosystem, Location, Package, Scope
from unit.inventory.lockfiles.lockfile_testing import by_name, catalog, line_of

# npm 6: nested dependencies, no root entry
LOCK_V1 = """\
{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 1,
  "requires": true,
  "dependencies": {
    "@babel/code-frame": {
      "version": "7.12.13",
      "resolved": "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.12.13.tgz",
      "integrity": "sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZlVG2VgK+rSOOFhLEjSJ2oc/gYWYRQOC6m3edY9CzL4wM/YLxKrnAS3g==",
      "dev": true,
      "requires": {
        "@babel/highlight": "^7.12.13"
      }
    },
    "debug": {
      "version": "4.3.4",
      "resolved": "https://registry.npmjs.org/debug/-/debug-4.3.4.tgz",
      "integrity": "sha512-PRWFHuSU3eDtQJPvnNY7Jcket1j0t5OuOsFzPPzsekD52Zl8qUfFIPEiswXqIvHWGVHOgX+7G/vCNNhehwxfkQ==",
      "requires": {
        "ms": "2.1.2"
      }
    },
    "express": {
      "version": "4.17.1",
      "resolved": "https://registry.npmjs.org/express/-/express-4.17.1.tgz",
      "integrity": "sha512-mHJ9O79RqluphRrcw2X/GTh3k9tVv8YcoyY4Kkh4WDMUYKRZUq0h1o0w2rrrxBqM7VoeUVqgb27xlEMXTnYt4g==",
      "requires": {
        "debug": "2.6.9"
      },
      "dependencies": {
        "debug": {
          "version": "2.6.9",
          "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
          "integrity": "sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==",
          "requires": {
            "ms": "2.0.0"
          }
        },
        "ms": {
          "version": "2.0.0",
          "resolved": "https://registry.npmjs.org/ms/-/ms-2.0.0.tgz",
          "integrity": "sha1-VgiurfwAvmwpAd9fmGF4jeDVl8g="
        }
      }
    },
    "fsevents": {
      "version": "2.3.2",
      "resolved": "https://registry.npmjs.org/fsevents/-/fsevents-2.3.2.tgz",
      "integrity": "sha512-xiqMQR4xAeHTuB9uWm+fFRcIOgKBMiOBP+eXiyT7jsgVCq1bkVygt00oASowB7EdtpOHaaPgKt812P9ab+DDKA==",
      "optional": true
    },
    "left-pad": {
      "version": "github:stevemao/left-pad#5e1a5f8a6d6b8c5c3f0f0d2a1b3c4d5e6f7a8b9c",
      "from": "github:stevemao/left-pad"
    },
    "ms": {
      "version": "2.1.2",
      "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.2.tgz",
      "integrity": "sha512-sGkPx+VjMtmA6MX27oA4FBFELFCZZ4S4XqeGOXCv68tT+jb3vk/RyaKWP0PTKyWtmLSM0b+adUTEvbs1PEaH2w=="
    },
    "str": {
      "version": "npm:string-width@4.2.3",
      "resolved": "https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz",
      "integrity": "sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g=="
    }
  }
}
"""

PACKAGE_JSON_V1 = json.dumps(
    {
        "name": "web",
        "version": "1.0.0",
        "dependencies": {"express": "^4.17.1", "left-pad": "github:stevemao/left-pad", "str": "npm:string-width@^4"},
        "devDependencies": {"@babel/code-frame": "^7.12.13"},
        "optionalDependencies": {"fsevents": "^2.3.2"},
    },
    indent=2,
)


def _where(packages: list[Package]) -> set[tuple[str, str, int | None]]:
    return {(p.name, p.version, p.locations[0].line) for p in packages}


def test_v1_nested_dependencies(tmp_path: Path) -> None:
    result = catalog(
        NpmPackageLockCataloger(), tmp_path, {"package-lock.json": LOCK_V1, "package.json": PACKAGE_JSON_V1}
    )
    assert result.skipped == []
    lines = LOCK_V1.splitlines()
    nested_debug = next(i for i, line in enumerate(lines, 1) if '"debug": {' in line and line.startswith(" " * 8))
    nested_ms = next(i for i, line in enumerate(lines, 1) if '"ms": {' in line and line.startswith(" " * 8))
    assert _where(result.packages) == {
        ("@babel/code-frame", "7.12.13", line_of(LOCK_V1, '"@babel/code-frame": {')),
        ("debug", "4.3.4", line_of(LOCK_V1, '"debug": {')),
        ("express", "4.17.1", line_of(LOCK_V1, '"express": {')),
        ("debug", "2.6.9", nested_debug),
        ("ms", "2.0.0", nested_ms),
        ("fsevents", "2.3.2", line_of(LOCK_V1, '"fsevents": {')),
        ("left-pad", "", line_of(LOCK_V1, '"left-pad": {')),
        ("ms", "2.1.2", line_of(LOCK_V1, '    "ms": {', exact=True)),
        ("string-width", "4.2.3", line_of(LOCK_V1, '"str": {')),
    }
    packages = {(p.name, p.version): p for p in result.packages}
    babel = packages[("@babel/code-frame", "7.12.13")]
    assert babel.purl == "pkg:npm/%40babel/code-frame@7.12.13"
    assert babel.ecosystem is Ecosystem.NPM
    assert (babel.scope, babel.direct) == (Scope.DEV, True)
    assert babel.hashes == (
        "sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZlVG2VgK+rSOOFhLEjSJ2oc/gYWYRQOC6m3edY9CzL4wM/YLxKrnAS3g==",
    )
    assert packages[("fsevents", "2.3.2")].scope is Scope.OPTIONAL
    assert (packages[("debug", "2.6.9")].direct, packages[("debug", "4.3.4")].direct) == (False, False)
    assert packages[("express", "4.17.1")].direct is True
    assert packages[("left-pad", "")].pinned is False
    assert packages[("string-width", "4.2.3")].direct is True  # the alias "str" is declared
    assert packages[("ms", "2.0.0")].hashes == ("sha1-VgiurfwAvmwpAd9fmGF4jeDVl8g=",)


# npm 7/8: "packages" plus the v1-compatible "dependencies"
LOCK_V2 = """\
{
  "name": "api",
  "version": "2.0.0",
  "lockfileVersion": 2,
  "requires": true,
  "packages": {
    "": {
      "name": "api",
      "version": "2.0.0",
      "license": "MIT",
      "workspaces": [
        "packages/*"
      ],
      "dependencies": {
        "@types/node": "^20.0.0",
        "express": "^4.18.2"
      },
      "devDependencies": {
        "typescript": "^5.4.0"
      }
    },
    "node_modules/@types/node": {
      "version": "20.11.30",
      "resolved": "https://registry.npmjs.org/@types/node/-/node-20.11.30.tgz",
      "integrity": "sha512-dHM6ZxwlmuZaRmUPfv1p+KrdD1Dci04FbdEm/9wEMouFqxYoFl5aMkt0VMAUtYRQDyYvD41WJLukhq/ha3YuTw==",
      "dependencies": {
        "undici-types": "~5.26.4"
      }
    },
    "node_modules/express": {
      "version": "4.18.2",
      "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz",
      "integrity": "sha512-5/PsL6iGPdfQ/lKM1UuielYgv3BUoJfz1aUwU9vHZ+J7gyvwdQXFEBIEIaxeGf0GIcreATNyBExtalisDbuMqQ==",
      "dependencies": {
        "debug": "2.6.9"
      },
      "engines": {
        "node": ">= 0.10.0"
      }
    },
    "node_modules/express/node_modules/debug": {
      "version": "2.6.9",
      "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
      "integrity": "sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA=="
    },
    "node_modules/shared": {
      "resolved": "packages/shared",
      "link": true
    },
    "node_modules/typescript": {
      "version": "5.4.3",
      "resolved": "https://registry.npmjs.org/typescript/-/typescript-5.4.3.tgz",
      "integrity": "sha512-KrPd3PKaCLr78MalgiwJnA25Nm8HAmdwN3mYUYZgG/wizIo9EainNVQI9/yDavtVFRN2h3k8uf3GLHuhDMgEHg==",
      "dev": true,
      "bin": {
        "tsc": "bin/tsc"
      }
    },
    "node_modules/undici-types": {
      "version": "5.26.5",
      "resolved": "https://registry.npmjs.org/undici-types/-/undici-types-5.26.5.tgz",
      "integrity": "sha512-JlCMO+ehdEIKqlFxk6IfVoAUVmgz7cU7zD/h9XZ0qzeosSHmUJVOzSQvvYSYWXkFXC+IfLKSIffhv0sVZup6pA=="
    },
    "packages/shared": {
      "name": "shared",
      "version": "0.1.0",
      "dependencies": {
        "lodash": "^4.17.21"
      }
    },
    "packages/shared/node_modules/lodash": {
      "version": "4.17.21",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
      "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="
    }
  },
  "dependencies": {
    "@types/node": {
      "version": "20.11.30",
      "resolved": "https://registry.npmjs.org/@types/node/-/node-20.11.30.tgz",
      "integrity": "sha512-dHM6ZxwlmuZaRmUPfv1p+KrdD1Dci04FbdEm/9wEMouFqxYoFl5aMkt0VMAUtYRQDyYvD41WJLukhq/ha3YuTw=="
    },
    "express": {
      "version": "4.18.2"
    }
  }
}
"""


def test_v2_packages_section_wins_over_legacy_dependencies(tmp_path: Path) -> None:
    result = catalog(NpmPackageLockCataloger(), tmp_path, {"package-lock.json": LOCK_V2})
    assert result.skipped == []
    packages = {(p.name, p.version): p for p in result.packages}
    assert set(packages) == {
        ("@types/node", "20.11.30"),
        ("express", "4.18.2"),
        ("debug", "2.6.9"),
        ("shared", "0.1.0"),
        ("typescript", "5.4.3"),
        ("undici-types", "5.26.5"),
        ("lodash", "4.17.21"),
    }
    node = packages[("@types/node", "20.11.30")]
    assert node.purl == "pkg:npm/%40types/node@20.11.30"
    assert node.locations == (Location("package-lock.json", line=line_of(LOCK_V2, '"node_modules/@types/node": {')),)
    assert (node.direct, node.scope, node.pinned) == (True, Scope.PROD, True)
    assert packages[("typescript", "5.4.3")].scope is Scope.DEV
    assert packages[("typescript", "5.4.3")].direct is True
    assert packages[("debug", "2.6.9")].direct is False
    assert packages[("undici-types", "5.26.5")].direct is False
    # a workspace link: local, not from a registry; the version is the one its folder declares
    assert packages[("shared", "0.1.0")].pinned is False
    # the workspace member's own dependency is direct for it
    lodash = packages[("lodash", "4.17.21")]
    assert lodash.direct is True
    assert lodash.locations[0].line == line_of(LOCK_V2, '"packages/shared/node_modules/lodash"')


# npm 9+: "packages" only; dev/optional/devOptional flags, an alias, a git dependency, a bundled one
LOCK_V3 = {
    "name": "cli",
    "version": "3.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": {
            "name": "cli",
            "version": "3.0.0",
            "dependencies": {"chalk": "^5.3.0", "sw": "npm:string-width@^4.2.0", "mygit": "github:acme/mygit"},
            "devDependencies": {"jest": "^29.7.0"},
            "optionalDependencies": {"fsevents": "^2.3.3"},
        },
        "node_modules/chalk": {
            "version": "5.3.0",
            "resolved": "https://registry.npmjs.org/chalk/-/chalk-5.3.0.tgz",
            "integrity": "sha512-dLitG79d+GV1Nb/VYcCDFivJeK1hiukt9QjRNVOsUtTy1rR1YJsmpGGTZ3qJos+uw7WmWF4wUwBd9jxjocFC2w==",
            "engines": {"node": "^12.17.0 || ^14.13 || >=16.0.0"},
        },
        "node_modules/fsevents": {
            "version": "2.3.3",
            "resolved": "https://registry.npmjs.org/fsevents/-/fsevents-2.3.3.tgz",
            "integrity": "sha512-5xoDfX+fL7faATnagmWPpbFtwh/R77WmMMqqHGS65C3vvB0YHrgF+B1YmZ3441tMj5n63k0212XNoJwzlhffQw== sha1-Ymgq3BDKgKbIrMEflzAWH2ZM/ZE=",
            "hasInstallScript": True,
            "optional": True,
            "os": ["darwin"],
        },
        "node_modules/jest": {
            "version": "29.7.0",
            "resolved": "https://registry.npmjs.org/jest/-/jest-29.7.0.tgz",
            "integrity": "sha512-NIy3oAFp9shda19hy4HK0HRTWKtPJmGdnvywu01nOqNC2vZg+Z+fvJDxpMQA88eb2I9EcafcdjYgsDthnYTvGw==",
            "dev": True,
        },
        "node_modules/jest/node_modules/fsevents": {
            "version": "2.3.2",
            "resolved": "https://registry.npmjs.org/fsevents/-/fsevents-2.3.2.tgz",
            "integrity": "sha512-xiqMQR4xAeHTuB9uWm+fFRcIOgKBMiOBP+eXiyT7jsgVCq1bkVygt00oASowB7EdtpOHaaPgKt812P9ab+DDKA==",
            "devOptional": True,
        },
        "node_modules/mygit": {
            "version": "1.0.0",
            "resolved": "git+ssh://git@github.com/acme/mygit.git#a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "license": "MIT",
        },
        "node_modules/sw": {
            "name": "string-width",
            "version": "4.2.3",
            "resolved": "https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz",
            "integrity": "sha512-wKyQRQpjJ0sIp62ErSZdGsjMJWsap5oRNihHhu6G7JVO/9jIB6UyevL+tXuOqrng8j/cxKTWyWUwvSTriiZz/g==",
        },
        "node_modules/chalk/node_modules/bundled-dep": {"version": "1.0.0", "inBundle": True},
    },
}


@pytest.mark.parametrize("filename", ["package-lock.json", "npm-shrinkwrap.json"])
def test_v3_flags_alias_git_bundled(tmp_path: Path, filename: str) -> None:
    text = json.dumps(LOCK_V3, indent=2)
    result = catalog(NpmPackageLockCataloger(), tmp_path, {f"sub/{filename}": text})
    assert result.skipped == []
    packages = {(p.name, p.version): p for p in result.packages}
    chalk = packages[("chalk", "5.3.0")]
    assert (chalk.scope, chalk.direct, chalk.pinned) == (Scope.PROD, True, True)
    assert chalk.locations == (Location(f"sub/{filename}", line=line_of(text, '"node_modules/chalk": {')),)
    assert packages[("fsevents", "2.3.3")].scope is Scope.OPTIONAL
    assert packages[("fsevents", "2.3.3")].hashes == (
        "sha512-5xoDfX+fL7faATnagmWPpbFtwh/R77WmMMqqHGS65C3vvB0YHrgF+B1YmZ3441tMj5n63k0212XNoJwzlhffQw==",
        "sha1-Ymgq3BDKgKbIrMEflzAWH2ZM/ZE=",
    )
    assert packages[("fsevents", "2.3.2")].scope is Scope.OPTIONAL  # devOptional may still ship
    assert packages[("jest", "29.7.0")].scope is Scope.DEV
    mygit = packages[("mygit", "1.0.0")]
    assert (mygit.pinned, mygit.direct) == (False, True)
    alias = packages[("string-width", "4.2.3")]
    assert alias.purl == "pkg:npm/string-width@4.2.3"
    assert alias.direct is True
    assert packages[("bundled-dep", "1.0.0")].direct is False
    assert len(result.packages) == 7


def test_lockfiles_in_node_modules_and_venvs_are_ignored(tmp_path: Path) -> None:
    text = json.dumps(LOCK_V3)
    result = catalog(
        NpmPackageLockCataloger(),
        tmp_path,
        {
            "node_modules/dep/package-lock.json": text,
            "node_modules/.package-lock.json": text,
            ".venv/lib/node/package-lock.json": text,
        },
    )
    assert (result.packages, result.skipped) == ([], [])


def test_unsupported_version_and_wrong_shapes(tmp_path: Path) -> None:
    files = {
        "a/package-lock.json": json.dumps({"lockfileVersion": 7, "packages": {}}),
        "b/package-lock.json": json.dumps({"lockfileVersion": "3", "packages": {}}),
        "c/package-lock.json": json.dumps({"lockfileVersion": 3, "packages": []}),
        "d/package-lock.json": json.dumps(
            {"lockfileVersion": 3, "packages": {"node_modules/ok": {"version": "1.0.0"}, "node_modules/bad": 3}}
        ),
        "e/package-lock.json": json.dumps(
            {"lockfileVersion": 3, "packages": {"node_modules/has space": {"version": "1.0.0"}}}
        ),
    }
    result = catalog(NpmPackageLockCataloger(), tmp_path, files)
    assert by_name(result)["ok"].version == "1.0.0"
    reasons = {s.location.path if s.location else "": s.reason for s in result.skipped}
    assert reasons == {
        "a/package-lock.json": "lockfileVersion 7 is not supported (1 to 3 are)",
        "b/package-lock.json": "lockfileVersion is a string, expected a number",
        "c/package-lock.json": "'packages' is a list, expected a mapping",
        "d/package-lock.json": "entry is a number",
        "e/package-lock.json": "invalid npm package name 'has space'",
    }


def test_v2_local_folder_dependency_is_reported_like_pnpm_and_yarn_file_deps(tmp_path: Path) -> None:
    # npm 7 copied a "file:" folder in without a node_modules link: the folder entry is the package
    lock = {
        "lockfileVersion": 2,
        "packages": {
            "": {"name": "app", "devDependencies": {"etag": "file:./deps/etag"}},
            "deps/etag": {"version": "1.8.0", "dev": True},
            "deps/etag/node_modules/abbrev": {
                "version": "2.3.4",
                "resolved": "https://registry.npmjs.org/abbrev/-/abbrev-2.3.4.tgz",
                "dev": True,
            },
            "tools/x": {"name": "@app/x-tool", "version": "0.1.0"},
        },
    }
    text = json.dumps(lock, indent=2)
    result = catalog(NpmPackageLockCataloger(), tmp_path, {"package-lock.json": text})
    assert result.skipped == []
    packages = {p.name: p for p in result.packages}
    assert sorted(packages) == ["@app/x-tool", "abbrev", "etag"]
    etag = packages["etag"]
    assert (etag.version, etag.pinned, etag.direct, etag.scope) == ("1.8.0", False, True, Scope.DEV)
    assert etag.locations == (Location("package-lock.json", line=line_of(text, '"deps/etag": {')),)
    assert (packages["@app/x-tool"].version, packages["@app/x-tool"].pinned) == ("0.1.0", False)
    assert packages["@app/x-tool"].direct is False  # nothing declares it
