"""Declarative base of the console schema (tables ``console_*``, own Alembic history)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from keeper.schema import NAMING_CONVENTION


class ConsoleBase(DeclarativeBase):
    """Declarative base of the console schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
