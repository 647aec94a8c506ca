"""Alembic environment: runs on the connection :func:`chainwarden.fleet.migrate.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from chainwarden.fleet.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic command line
    raise SystemExit("run migrations through chainwarden (chainwarden.fleet.migrate.upgrade)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
