"""Command-line entry point: parses arguments, calls the library, sets exit codes.

Only this package prints, knows about colours, or calls ``sys.exit``. Each
command lives in its own module and is imported only when invoked, so that
``chainwarden sbom`` does not pay for the vulnerability matcher's imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from chainwarden import __version__
from chainwarden.cli.common import run_guarded

#: command name → "module:attribute". A module that does not exist (yet) is
#: simply not offered.
COMMANDS: dict[str, str] = {
    "sbom": "chainwarden.cli.sbom:sbom",
    "db": "chainwarden.cli.vuln:db",
    "scan": "chainwarden.cli.vuln:scan",
    "lint": "chainwarden.cli.lint:lint",
    "vet": "chainwarden.cli.threats:vet",
    "diff": "chainwarden.cli.threats:diff",
    "data": "chainwarden.cli.threats:data",
    "profile": "chainwarden.cli.runtime:profile",
    "harden": "chainwarden.cli.runtime:harden",
    "drift": "chainwarden.cli.runtime:drift",
    "watch": "chainwarden.cli.runtime:watch",
    "keygen": "chainwarden.cli.signing:keygen",
    "sign": "chainwarden.cli.signing:sign",
    "verify": "chainwarden.cli.signing:verify",
    "attest": "chainwarden.cli.signing:attest",
    "verify-attestation": "chainwarden.cli.signing:verify_attestation",
    "pin": "chainwarden.cli.policy:pin",
    "admit": "chainwarden.cli.policy:admit",
    "mirror": "chainwarden.cli.policy:mirror",
    "apt-keys": "chainwarden.cli.policy:apt_keys",
    "fleet": "chainwarden.cli.fleet:fleet",
    "serve": "chainwarden.cli.serve:serve",
}


def _available(spec: str) -> bool:
    module = spec.split(":", 1)[0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, spec in COMMANDS.items() if _available(spec))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None or not _available(spec):
            return None
        module_name, attr = spec.split(":", 1)
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, package_name="chainwarden")
def cli() -> None:
    """chainwarden — know what you run, and whether to trust it.

    Inventory and SBOM of images and projects, known vulnerabilities, build
    hygiene lint, package threats, runtime hardening, and Sigstore-compatible
    signatures and attestations.

    \b
    Examples:
      chainwarden sbom oci:./image -f cyclonedx -o sbom.cdx.json
      chainwarden scan . --fail-on high
      chainwarden vet pypi:reqeusts npm:lodahs
    """


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point (``chainwarden``)."""
    return run_guarded(cli, argv if argv is not None else sys.argv[1:])
