"""Images on a known base: the reused inventory must be the one a whole-image catalogue gives.

Every image here is real: layers built as tars (whiteouts, opaque directories,
symlinks, ELF executables), in one OCI layout, read through the image source.
Each variant's upper layer is catalogued on top of the base's cached runs and
compared with a catalogue of the whole image that uses no cache at all; the
catalogers that ran again are checked too, so that reuse is neither missing
nor wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from chainwarden.inventory import cache as inventory_cache
from chainwarden.inventory import cache_key, catalog_source, default_catalogers, wanted_by
from chainwarden.inventory.chain import ChainStats, catalog_layers, forget_views
from chainwarden.models import Ecosystem, Inventory
from chainwarden.sources import SourceOptions, open_source
from support.images import (
    Content,
    Dir,
    Opaque,
    Symlink,
    Whiteout,
    dist_info,
    dpkg_status_entry,
    make_oci,
    npm_package,
)

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
TRUE = Path(shutil.which("true") or "/bin/true").read_bytes()

BASE: dict[str, Content] = {
    "etc/os-release": OS_RELEASE,
    "var/lib/dpkg/status": "\n".join(
        [
            dpkg_status_entry("libc6", "2.36-9+deb12u4", source="glibc"),
            dpkg_status_entry("bash", "5.2.15-2+b2", source="bash (5.2.15-2)"),
            dpkg_status_entry("coreutils", "9.1-1"),
            dpkg_status_entry("node-lodash", "4.17.21+dfsg+~cs8.31.198.20210220-9", arch="all"),
        ]
    ),
    # distroless style: one stanza per file
    "var/lib/dpkg/status.d/libfoo": dpkg_status_entry("libfoo", "1.0-1"),
    "var/lib/dpkg/status.d/libbar": dpkg_status_entry("libbar", "2.0-1"),
    "var/lib/dpkg/info/bash.list": "/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n",
    "var/lib/dpkg/info/coreutils.list": "/usr/bin\n/usr/bin/true\n",
    "var/lib/dpkg/info/node-lodash.list": (
        "/usr/share/nodejs\n/usr/share/nodejs/lodash\n/usr/share/nodejs/lodash/package.json\n"
        "/usr/share/nodejs/lodash/index.js\n"
    ),
    "usr/share/doc/bash/copyright": "Files: *\nLicense: GPL-3+\n",
    "usr/bin/true": TRUE,
    "usr/bin/bash": TRUE,
    "bin": Symlink("usr/bin"),
    "usr/local/bin/tool": TRUE,  # owned by no package: an unknown binary
    "usr/share/nodejs/lodash/package.json": '{"name": "lodash", "version": "4.17.21", "license": "MIT"}',
    "usr/share/nodejs/lodash/index.js": "module.exports = {};\n",
    **dist_info("requests", "2.31.0", ["requests/__init__.py"]),
    **dist_info("urllib3", "2.0.7", ["urllib3/__init__.py"]),
    **npm_package("/srv/web", "left-pad", "1.3.0"),
}

FLASK = dist_info("flask", "3.0.0", ["flask/__init__.py"], site="/app/venv/lib/python3.11/site-packages")
SITE = "usr/lib/python3/dist-packages"

#: name -> (upper layer, catalogers expected to run again on the merged view)
VARIANTS: dict[str, tuple[Mapping[str, Content], set[str]]] = {
    "touches nothing relevant": (
        {"srv/app/main.py": "print(1)\n", "etc/app.conf": "debug = false\n", "srv/app/data": Dir()},
        set(),
    ),
    "adds a pip package": (FLASK, {"python-installed"}),
    "whites out a dpkg status entry": ({"var/lib/dpkg/status.d/libfoo": Whiteout()}, {"dpkg-status"}),
    "adds a dpkg status.d entry": (
        {"var/lib/dpkg/status.d/libnew": dpkg_status_entry("libnew", "3.0-1")},
        {"dpkg-status"},
    ),
    "rewrites the dpkg status": (
        {"var/lib/dpkg/status": dpkg_status_entry("libc6", "2.36-9+deb12u4", source="glibc")},
        # bash and coreutils no longer own /usr/bin/bash and /usr/bin/true: unknown binaries now
        {"dpkg-status", "binary"},
    ),
    "opaque site-packages": (
        {SITE: Opaque(), **dist_info("six", "1.16.0", ["six.py"])},
        {"python-installed"},
    ),
    "replaces site-packages with a symlink": (
        {SITE: Symlink("/opt/py"), **dist_info("six", "1.16.0", ["six.py"], site="/opt/py")},
        # files without an extension under /opt may be executables: they are looked at
        {"python-installed", "binary"},
    ),
    "whites out a RECORD": ({f"{SITE}/requests-2.31.0.dist-info/RECORD": Whiteout()}, {"python-installed"}),
    "a .list file claims an unknown binary": (
        {"var/lib/dpkg/info/libfoo.list": "/usr/local/bin\n/usr/local/bin/tool\n"},
        {"dpkg-status", "binary"},
    ),
    "adds a binary": ({"usr/local/bin/other": TRUE}, {"binary"}),
    "adds a file to an npm package": ({"srv/web/node_modules/left-pad/extra.js": "1;\n"}, {"npm-installed"}),
    "whites out a Debian node module": (
        {"usr/share/nodejs/lodash": Whiteout()},
        {"npm-installed", "dpkg-status"},
    ),
    "a symlink where a lookup passed": (
        # libfoo has no copyright file; a link to bash's directory gives it one
        {"usr/share/doc/libfoo": Symlink("/usr/share/doc/bash")},
        {"dpkg-status"},
    ),
    "changes a license": ({"usr/share/doc/bash/copyright": "Files: *\nLicense: MIT\n"}, {"dpkg-status"}),
    "another release": (
        {"etc/os-release": OS_RELEASE.replace('"12"', '"13"').replace("bookworm", "trixie")},
        {"dpkg-status", "apk-db", "rpm-db", "python-installed", "npm-installed", "binary"},
    ),
    "a file replaces a directory": ({"srv/web/node_modules/left-pad": "not a directory\n"}, {"npm-installed"}),
}


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One layout holding the seed and every variant, written before anything is read
    (rewriting a blob would change its file identity, and so the chain)."""
    root = tmp_path_factory.mktemp("chain") / "layout"
    make_oci(root, [BASE, {"seed/marker": "1\n"}], tag="seed")
    for number, (upper, _) in enumerate(VARIANTS.values()):
        make_oci(root, [BASE, upper], tag=f"v{number}")
    return root


@pytest.fixture
def cache(tmp_path: Path, layout: Path) -> Iterator[Path]:
    """A cache in which the seed (same base, another top layer) was catalogued."""
    forget_views()
    directory = tmp_path / "cache"
    stats = _catalogue(layout, "seed", directory)
    assert stats.prefix_layers == 0
    yield directory
    forget_views()


def _catalogue(layout: Path, tag: str, cache_dir: Path) -> ChainStats:
    return _catalogue_with_inventory(layout, tag, cache_dir)[1]


def _catalogue_with_inventory(layout: Path, tag: str, cache_dir: Path) -> tuple[Inventory, ChainStats]:
    reported: list[ChainStats] = []
    catalogers = default_catalogers(is_image=True)
    key = cache_key(catalogers)
    with open_source(f"oci:{layout}:{tag}", SourceOptions(cache_dir=cache_dir)) as source:
        inventory = catalog_layers(
            source, catalogers, key, wanted_by(catalogers), cache_dir=cache_dir, report=reported.append
        )
    return inventory, reported[0]


def _whole(layout: Path, tag: str) -> Inventory:
    with open_source(f"oci:{layout}:{tag}", SourceOptions(cache_dir=None)) as source:
        return catalog_source(source)


def _same(got: Inventory, want: Inventory) -> None:
    assert got.distro == want.distro
    assert got.packages == want.packages
    assert got.skipped == want.skipped
    assert got.target == want.target


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_reused_inventory_is_the_whole_image_catalogue(layout: Path, cache: Path, variant: str) -> None:
    number = list(VARIANTS).index(variant)
    _, expected_rerun = VARIANTS[variant]
    # the first image on the base after the seed catalogues the base once, on its own
    inventory, stats = _catalogue_with_inventory(layout, f"v{number}", cache)
    assert not stats.whole and stats.prefix_layers == 1
    assert set(stats.rerun) == expected_rerun
    _same(inventory, _whole(layout, f"v{number}"))
    # the whole image is a cache hit now, equal again
    again, stats = _catalogue_with_inventory(layout, f"v{number}", cache)
    assert stats.whole
    _same(again, inventory)


def test_variants_change_what_they_claim(layout: Path) -> None:
    """The variants are not vacuous: each changes the whole-image catalogue, except the one that touches nothing."""
    base = _whole(layout, "seed")
    for number, (name, (_, rerun)) in enumerate(VARIANTS.items()):
        inventory = _whole(layout, f"v{number}")
        if rerun:
            assert (inventory.packages, inventory.distro) != (base.packages, base.distro), name
        else:
            assert inventory.packages == base.packages, name


def test_prefix_runs_come_from_disk_in_a_new_process(layout: Path, cache: Path) -> None:
    """Without the views and entries kept in memory (another worker), the base's runs are read back from
    the cache and its view rebuilt from the per-layer cache."""
    _catalogue(layout, "v0", cache)
    forget_views()
    inventory_cache.forget_loaded()
    inventory, stats = _catalogue_with_inventory(layout, "v1", cache)
    assert stats.prefix_layers == 1 and set(stats.rerun) == {"python-installed"}
    _same(inventory, _whole(layout, "v1"))
    flask = [p for p in inventory.packages if p.ecosystem is Ecosystem.PYPI and p.name == "flask"]
    assert len(flask) == 1 and flask[0].locations[0].layer is not None


def test_damaged_prefix_entry_is_rebuilt(layout: Path, cache: Path) -> None:
    _catalogue(layout, "v0", cache)
    forget_views()
    inventory_cache.forget_loaded()
    for entry in (cache / "inventories").glob("*.json"):
        entry.write_text('{"format": 4, "runs": [')
    inventory, stats = _catalogue_with_inventory(layout, "v1", cache)
    assert not stats.whole
    _same(inventory, _whole(layout, "v1"))


def test_a_lone_image_is_catalogued_whole_and_marks_its_base(layout: Path, tmp_path: Path) -> None:
    forget_views()
    first = _catalogue(layout, "v0", tmp_path / "cache")
    assert (first.whole, first.prefix_layers) == (False, 0)
    assert len(first.rerun) == len(default_catalogers(is_image=True))
    second = _catalogue(layout, "v1", tmp_path / "cache")
    assert second.prefix_layers == 1
