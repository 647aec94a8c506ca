"""Alembic, driven from code: the store is created and upgraded on open.

The migration scripts live in ``fleet/migrations`` (shipped with the package);
no ``alembic.ini`` is needed. A store whose revision this chainwarden does not
know (written by a newer one) is refused rather than guessed at.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from chainwarden.fleet.interface import FleetError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, where: str) -> None:
    """Bring the store behind ``engine`` to the newest revision (creating it when empty).

    ``where`` names the store in error messages (its URL without the password).
    """
    script = ScriptDirectory.from_config(alembic_config())
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise FleetError(f"{where}: cannot open the store ({str(exc.orig).strip().splitlines()[0]})") from exc
    except sa.exc.DatabaseError as exc:
        raise FleetError(f"{where}: not a fleet store ({str(exc.orig).strip().splitlines()[0]})") from exc
    if current == script.get_current_head():
        return
    if current is not None and script.get_revision(current) is None:
        raise FleetError(
            f"{where}: store schema {current} is newer than this chainwarden understands; upgrade chainwarden"
        )
    config = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # two processes opening a fresh store at once: one migrates, the other waits
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7263516)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        raise FleetError(f"{where}: cannot migrate the store ({str(exc.orig).strip().splitlines()[0]})") from exc
