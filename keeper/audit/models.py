"""SQLAlchemy 2 models of the audit trail (tables ``audit_*``).

* ``audit_records``: the chain, one row per record: ``seq`` (1, 2, 3, ... gap-free), ``body``
  (the canonical envelope line, see :mod:`keeper.audit.records`) and ``hash`` (sha256 of
  ``body``). Append-only: the migration installs triggers refusing UPDATE and DELETE (and
  TRUNCATE on PostgreSQL, INSERT over an existing ``seq`` on SQLite); the verifier does not rely
  on them (an attacker holding the database can drop them) but reports when they are missing.
* ``audit_head``: one row (``id`` 1): the last ``seq`` and its hash. Appenders lock it
  (``UPDATE ... RETURNING``) so the chain stays linear with concurrent writers; it is a cache of
  the chain's tail, never trusted by the verifier. Its ``seq`` can only grow (trigger).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION

# SQLite: INTEGER PRIMARY KEY is the rowid (no second B-tree); PostgreSQL: 64-bit
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditBase(DeclarativeBase):
    """Declarative base of the audit schema (its own MetaData)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AuditRow(AuditBase):
    """One record of the chain."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)


class AuditHead(AuditBase):
    """The chain's tail (a lock target and cache; the verifier recomputes it)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(SeqType)
    hash: Mapped[str] = mapped_column(String(64))
