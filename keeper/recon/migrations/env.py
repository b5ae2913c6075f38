"""Alembic environment of the recon schema (version table ``recon_alembic_version``)."""

from keeper.recon.migrate import SCHEMA
from keeper.recon.models import ReconBase
from keeper.schema import run_alembic_env

run_alembic_env(SCHEMA, ReconBase.metadata)
