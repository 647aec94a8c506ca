"""``chainwarden sbom TARGET``"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chainwarden.cli.common import RichProgress, emit, emit_pieces, format_option, output_option, use_color
from chainwarden.cli.options import source_options, target_options

FORMATS = ("table", "json", "cyclonedx", "spdx", "html")


@click.command()
@click.argument("target")
@format_option(FORMATS)
@output_option
@target_options
@click.option(
    "--apt-sources/--no-apt-sources",
    default=None,
    help="List third-party APT sources with the owner of the key each trusts (table and JSON) "
    "[default: on for directories; for images it reads the image a second time, so ask for it].",
)
def sbom(
    target: str,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
    apt_sources: bool | None,
) -> int:
    """Inventory TARGET and print its software bill of materials.

    TARGET is an image or a directory: oci:DIR[:TAG], docker-archive:FILE.tar,
    oci-archive:FILE.tar, registry:HOST/REPO[:TAG|@DIGEST], dir:PATH, or a plain
    path (auto-detected). Directories are cataloged for installed packages and
    for lockfiles/manifests. A file that could not be read is listed as
    skipped, with its reason, in every format.

    \b
    Examples:
      chainwarden sbom .
      chainwarden sbom oci:./image -f cyclonedx -o sbom.cdx.json
      chainwarden sbom registry:docker.io/library/python:3.12-slim --platform linux/arm64 -f spdx
    """
    from chainwarden.api import build_inventory

    options = source_options(platform, cache_dir, no_cache, insecure_registry)
    progress = RichProgress()
    inventory = build_inventory(target, options=options, progress=progress)
    progress.finish()
    apt: list[dict[str, str]] = []
    if apt_sources is None:
        apt_sources = inventory.target.kind == "dir"
    if apt_sources and output_format in ("table", "json") and inventory.target.kind != "sbom":
        from chainwarden.cli.policy import third_party_apt_sources

        apt = third_party_apt_sources(target, options)  # with the owner of the key each trusts
    if output_format == "json":
        from chainwarden.report.json_report import render_inventory_json

        # indented for a person at a terminal, compact for files and pipes
        pretty = output is None and sys.stdout.isatty()
        text = render_inventory_json(inventory, pretty=pretty)
        if apt:
            import json

            document = json.loads(text)
            document["apt_third_party_sources"] = apt
            text = json.dumps(document, indent=2 if pretty else None)
    elif output_format == "cyclonedx":
        from chainwarden.report.cyclonedx import iter_cyclonedx

        # written a component at a time: an image's SBOM is tens of megabytes
        emit_pieces(iter_cyclonedx(inventory), output)
        return 0
    elif output_format == "html":
        from chainwarden.report.html import render_inventory_html

        text = render_inventory_html(inventory)
    elif output_format == "spdx":
        from chainwarden.report.spdx import render_spdx

        text = render_spdx(inventory)
    else:
        from chainwarden.report.table import render_inventory_table

        text = render_inventory_table(inventory, color=use_color(output))
        if apt:
            text = (
                text.rstrip("\n")
                + "\n\nThird-party APT sources:\n"
                + "".join(f"  {a['uri']}  ({a['trust']}; key: {a['key_owner']})\n" for a in apt)
            )
    emit(text, output)
    return 0
