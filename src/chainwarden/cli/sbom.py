"""``chainwarden sbom TARGET``"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chainwarden.cli.common import RichProgress, emit, emit_pieces, format_option, output_option
from chainwarden.cli.options import source_options, target_options

FORMATS = ("table", "json", "cyclonedx", "spdx", "html")


@click.command()
@click.argument("target")
@format_option(FORMATS)
@output_option
@target_options
def sbom(
    target: str,
    output_format: str,
    output: Path | None,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Inventory TARGET and print its software bill of materials.

    TARGET is an image or a directory: oci:DIR[:TAG], docker-archive:FILE.tar,
    oci-archive:FILE.tar, registry:HOST/REPO[:TAG|@DIGEST], dir:PATH, or a plain
    path (auto-detected). Directories are cataloged for installed packages and
    for lockfiles/manifests.
    """
    from chainwarden.api import build_inventory

    progress = RichProgress()
    inventory = build_inventory(
        target,
        options=source_options(platform, cache_dir, no_cache, insecure_registry),
        progress=progress,
    )
    progress.finish()
    if output_format == "json":
        from chainwarden.report.json_report import render_inventory_json

        # indented for a person at a terminal, compact for files and pipes
        text = render_inventory_json(inventory, pretty=output is None and sys.stdout.isatty())
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

        text = render_inventory_table(inventory, color=output is None and sys.stdout.isatty())
    emit(text, output)
    return 0
