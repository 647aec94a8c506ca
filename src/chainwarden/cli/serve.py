"""``chainwarden serve``: the fleet's web UI and JSON API."""

from __future__ import annotations

import os
import secrets

import click

from chainwarden.cli.common import EXIT_CLEAN

ENV_TOKEN = "CHAINWARDEN_SERVE_TOKEN"  # noqa: S105 - the variable's name, not a secret


@click.command()
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Fleet store (as for 'fleet'; env CHAINWARDEN_FLEET_STORE).",
)
@click.option(
    "--bind",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on. Anything but loopback exposes the pages to the network.",
)
@click.option(
    "--token",
    default=None,
    help=f"Bearer token the JSON API (/api/…) requires [env {ENV_TOKEN}; default: a random one, printed on stderr].",
)
def serve(store_url: str | None, bind: str, token: str | None) -> int:
    """Serve the fleet overview, per-image pages, the "affected by" search and charts (read-only).

    Pages are rendered on the server with inline SVG charts; the stylesheet is
    served locally (no CDN). Every route is read-only.

    \b
    Examples:
      chainwarden serve
      chainwarden serve --store postgresql://fleet@127.0.0.1/fleet --bind 127.0.0.1:9000
    """
    import uvicorn

    from chainwarden.fleet import open_store
    from chainwarden.web.app import create_app, parse_bind

    host, port = parse_bind(bind)
    given = token or os.environ.get(ENV_TOKEN)
    token = given or secrets.token_urlsafe(24)
    if not given:
        click.echo(f"API token (Authorization: Bearer …): {token}", err=True)
    with open_store(store_url, create=False) as store:
        click.echo(f"serving {store_url or 'the default fleet store'} on http://{bind}/", err=True)
        uvicorn.run(create_app(store, token=token), host=host, port=port, log_level="warning", access_log=False)
    return EXIT_CLEAN
