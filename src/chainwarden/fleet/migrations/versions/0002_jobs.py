"""Scan failures, and on PostgreSQL the procrastinate job queue in the same database.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_failures",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if sa.inspect(bind).has_table("procrastinate_jobs"):
        return  # a queue set up by hand (procrastinate schema --apply) is used as it is
    from procrastinate.schema import SchemaManager

    # the driver's own cursor: the schema is DDL with no parameters, run verbatim
    cursor = bind.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(SchemaManager.get_schema())
    finally:
        cursor.close()
