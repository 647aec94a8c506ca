"""Node modules that Debian ships are matched with their .deb, as one scan does.

``image_packages.match_key`` names the findings a placement reads: "" for an
ecosystem package, the Debian release ("debian:12") for a .deb, and
"debian:12>OWNER" (OWNER: the .deb's package id) for a node module shipped by
that .deb in that release. ``debian_modules`` says which .deb ships which
module, so that the two are matched together again when either changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("image_packages", sa.Column("match_key", sa.String(96), nullable=False, server_default=""))
    # what the join on images.distro gave so far: a .deb reads the findings of its image's release
    op.execute(
        "UPDATE image_packages SET match_key = COALESCE("
        "(SELECT images.distro FROM images WHERE images.id = image_packages.image_id), '') "
        "WHERE package_id IN (SELECT id FROM packages WHERE ecosystem = 'deb')"
    )
    op.create_table(
        "debian_modules",
        sa.Column("distro", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
        sa.Column("module_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
    )
    op.create_index("ix_debian_modules_module", "debian_modules", ["module_id"])
