"""The fleet store: images, layers, packages, tags with history, findings per package version.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("registry", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.UniqueConstraint("registry", "name", name="uq_repositories"),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False, unique=True),
        sa.Column("config_digest", sa.String(80)),
        sa.Column("created", sa.String(40)),
        sa.Column("platform", sa.String(64)),
        sa.Column("distro", sa.String(64)),
        sa.Column("base_name", sa.String(512)),
        sa.Column("base_digest", sa.String(80)),
        sa.Column("base_source", sa.String(16)),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("scanned_at", sa.String(40), nullable=False),
        sa.Column("profiled", sa.Boolean, nullable=False),
    )
    op.create_table(
        "layers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False, unique=True),
        sa.Column("diff_id", sa.String(80)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
    )
    op.create_table(
        "image_layers",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("layer_id", sa.Integer, sa.ForeignKey("layers.id"), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
    )
    op.create_index("ix_image_layers_layer", "image_layers", ["layer_id", "position"])
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ecosystem", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("purl", sa.Text, nullable=False),
        sa.Column("source_name", sa.String(255)),
        sa.Column("source_version", sa.String(255)),
        sa.UniqueConstraint("ecosystem", "name", "version", name="uq_packages"),
    )
    op.create_index("ix_packages_name", "packages", ["name"])
    op.create_index("ix_packages_source_name", "packages", ["source_name"])
    op.create_table(
        "image_packages",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), nullable=False),
        sa.Column("layer_id", sa.Integer, sa.ForeignKey("layers.id")),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("in_use", sa.String(16)),
        sa.PrimaryKeyConstraint("image_id", "package_id", "path", name="pk_image_packages"),
    )
    op.create_index("ix_image_packages_package", "image_packages", ["package_id", "image_id"])
    op.create_table(
        "tags",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), primary_key=True),
        sa.Column("tag", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_tags_digest", "tags", ["digest"])
    op.create_table(
        "tag_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("old_digest", sa.String(80)),
        sa.Column("new_digest", sa.String(80), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_tag_events_tag", "tag_events", ["repository_id", "tag"])
    op.create_table(
        "findings",
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
        sa.Column("distro", sa.String(64), primary_key=True),
        sa.Column("vuln_id", sa.String(128), primary_key=True),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("aliases", sa.Text, nullable=False),
        sa.Column("fixed", sa.Text, nullable=False),
        sa.Column("db_version", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
    )
    op.create_index("ix_findings_vuln", "findings", ["vuln_id"])
    op.create_table(
        "finding_ids",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("vuln_id", sa.String(128), primary_key=True),
    )
    op.create_table(
        "matched",
        sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
        sa.Column("distro", sa.String(64), primary_key=True),
        sa.Column("db_version", sa.String(64), nullable=False),
    )
    op.create_table(
        "advisories",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(96), nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
