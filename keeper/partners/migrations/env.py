"""Alembic environment of the partners schema (version table ``partners_alembic_version``)."""

from keeper.partners.migrate import SCHEMA
from keeper.partners.models import PartnersBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, PartnersBase.metadata)
