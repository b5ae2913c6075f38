"""The one place a :class:`ComplianceService` is built from :class:`~keeper.config.Settings`."""

from __future__ import annotations

from sqlalchemy import Engine

from keeper.compliance.labels import LabelStore
from keeper.compliance.risk import LabelledAddressRisk, TransferEdges
from keeper.compliance.rules_engine import RuleSet
from keeper.compliance.screening.screener import Screener
from keeper.compliance.screening.store import ListStore
from keeper.compliance.service import ComplianceService
from keeper.config import Settings


def from_settings(engine: Engine, settings: Settings, *, screener: Screener | None = None,
                  edges: TransferEdges | None = None) -> ComplianceService:
    """The gate as configured: rules from ``settings.compliance_rules_file`` (a malformed file
    raises :class:`~keeper.compliance.RulesError`: no gate on unknown rules), the current version
    of every sanctions list (or ``screener``, e.g. a :class:`ScreeningService`'s, kept current
    on imports) and address risk from the current labelled lists (one hop through ``edges``)."""
    rules = RuleSet.load(settings.compliance_rules_file)
    if screener is None:
        screener = Screener(ListStore(engine).current_all())
    risk = LabelledAddressRisk(LabelStore(engine).current_labels(), edges)
    return ComplianceService(engine, rules, screener=screener, risk=risk)
