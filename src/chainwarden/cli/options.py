"""Options shared by every command that opens a target."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.sources import SourceOptions
from chainwarden.sources.interface import DEFAULT_PLATFORM

F = TypeVar("F", bound=Callable[..., Any])


def default_cache_dir() -> Path:
    configured = os.environ.get("CHAINWARDEN_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("chainwarden"))


def target_options(func: F) -> F:
    """--platform, --cache-dir, --no-cache, --insecure-registry."""
    func = click.option(
        "--insecure-registry",
        is_flag=True,
        help="Allow plain http and unverified TLS when pulling from a registry (dangerous).",
    )(func)
    func = click.option("--no-cache", is_flag=True, help="Do not read or write the per-layer cache.")(func)
    func = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Per-layer result cache [env CHAINWARDEN_CACHE_DIR; default: user cache dir].",
    )(func)
    return click.option(
        "--platform",
        default=DEFAULT_PLATFORM,
        show_default=True,
        help="Platform to pick from a multi-platform image (os/arch[/variant]).",
    )(func)


def source_options(platform: str, cache_dir: Path | None, no_cache: bool, insecure_registry: bool) -> SourceOptions:
    # a --platform the user typed must match the image; the default only picks from a multi-platform index
    ctx = click.get_current_context(silent=True)
    given = ctx is not None and ctx.get_parameter_source("platform") not in (None, click.core.ParameterSource.DEFAULT)
    return SourceOptions(
        platform=platform,
        strict_platform=given,
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
        insecure_registry=insecure_registry,
    )
