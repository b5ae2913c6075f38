"""SQLAlchemy 2 models of the compliance domain (tables ``compliance_*``, own Alembic history).

* ``compliance_list_versions``: one row per imported version of a list (``OFAC-SDN``, ``EU``,
  ``UN``, ``INTERNAL``...): format, SHA-256 of the file, counts, UTC import time. Exactly one
  version per list is current (a partial unique index); earlier versions are kept.
* ``compliance_entries``: the listed parties of a version, keyed by (version, position).
* ``compliance_entry_names`` / ``compliance_entry_addresses``: their names (the first is primary)
  and normalised crypto addresses (indexed for exact lookups).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION

_CURRENT = text("is_current")


class ComplianceBase(DeclarativeBase):
    """Declarative base of the compliance schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ListVersionRow(ComplianceBase):
    """One imported version of one list."""

    __tablename__ = "compliance_list_versions"
    __table_args__ = (
        UniqueConstraint("list_name", "version", name="uq_compliance_list_versions_version"),
        Index("uq_compliance_list_versions_current", "list_name", unique=True,
              sqlite_where=_CURRENT, postgresql_where=_CURRENT),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    address_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class EntryRow(ComplianceBase):
    """A listed party within one version (``seq``: its position in the file)."""

    __tablename__ = "compliance_entries"
    version_id: Mapped[int] = mapped_column(ForeignKey("compliance_list_versions.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    countries: Mapped[str] = mapped_column(Text)  # JSON list
    birth_dates: Mapped[str] = mapped_column(Text)  # JSON list


class NameRow(ComplianceBase):
    """A name of a listed party (``position`` 0 is the primary name; ``weak``: a weak alias)."""

    __tablename__ = "compliance_entry_names"
    __table_args__ = (ForeignKeyConstraint(["version_id", "entry_seq"],
                                           ["compliance_entries.version_id", "compliance_entries.seq"],
                                           name="fk_compliance_entry_names_entry"),)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    weak: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AddressRow(ComplianceBase):
    """A normalised crypto address of a listed party."""

    __tablename__ = "compliance_entry_addresses"
    __table_args__ = (ForeignKeyConstraint(["version_id", "entry_seq"],
                                           ["compliance_entries.version_id", "compliance_entries.seq"],
                                           name="fk_compliance_entry_addresses_entry"),)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(128), index=True)


class MovementRow(ComplianceBase):
    """A screened movement of a client (the history the rules' sliding windows read)."""

    __tablename__ = "compliance_movements"
    __table_args__ = (Index("ix_compliance_movements_client_at", "client_id", "at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    units: Mapped[str] = mapped_column(String(80))  # integer base units as text (may exceed 64 bits)
    usd_cents: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    verdict: Mapped[str] = mapped_column(String(16))
    rules_version: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)  # JSON: reasons, rule hits with versions


class MovementTotalRow(ComplianceBase):
    """A client's running totals over its non-blocked movements up to and including time ``at``
    (one row per client and distinct movement time), kept in the transaction that stores the
    movements (:mod:`keeper.compliance.totals`): the totals between two times are a difference of
    two rows, whatever the length of the client's history."""

    __tablename__ = "compliance_movement_totals"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    totals: Mapped[str] = mapped_column(Text)  # JSON: count, cents, band counts, last buy/CTR


class CaseRow(ComplianceBase):
    """A compliance case: ``open`` -> ``decided`` -> ``closed``."""

    __tablename__ = "compliance_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    movement_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseEventRow(ComplianceBase):
    """One step of a case, with actor and time (open, assign, evidence, decide, close)."""

    __tablename__ = "compliance_case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("compliance_cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(Text)  # JSON


class FreezeRow(ComplianceBase):
    """An active freeze of a client (``address`` empty) or a wallet address; deleted when lifted."""

    __tablename__ = "compliance_freezes"

    subject: Mapped[str] = mapped_column(String(16), primary_key=True)  # client | address
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_cases.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRow(ComplianceBase):
    """A SAR draft or a CTR: the structured JSON a filer submits, its deadline and state."""

    __tablename__ = "compliance_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # SAR | CTR
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_cases.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | filed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[str] = mapped_column(Text)  # JSON


class ApprovalRow(ComplianceBase):
    """A four-eyes proposal on a case: ``clear`` (release what it holds or blocks) or ``lift`` (a
    freeze). ``pending`` until a second officer, neither the proposer nor the case's opener,
    approves (the action is then carried out) or rejects it."""

    __tablename__ = "compliance_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("compliance_cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # clear | lift
    params: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LabelVersionRow(ComplianceBase):
    """One imported version of a labelled address list (mixer, darknet, sanctioned, exchange)."""

    __tablename__ = "compliance_label_versions"
    __table_args__ = (
        UniqueConstraint("list_name", "version", name="uq_compliance_label_versions_version"),
        Index("uq_compliance_label_versions_current", "list_name", unique=True,
              sqlite_where=_CURRENT, postgresql_where=_CURRENT),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class LabelledAddressRow(ComplianceBase):
    """A labelled address of one version (address normalised as for screening)."""

    __tablename__ = "compliance_labelled_addresses"

    version_id: Mapped[int] = mapped_column(ForeignKey("compliance_label_versions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(128))
    chain: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
