"""Compliance engine: sanctions screening, transaction monitoring, cases, freezes, SAR/CTR.

Public surface:

* :func:`parse_list` / :class:`ListStore`: import OFAC SDN Advanced XML, ``sdn.xml``, ``SDN.CSV``
  and our own CSV/JSON list format; atomic, versioned storage (``compliance_*`` tables).
* :class:`Screener`: address (exact) and name (fuzzy, explainable) screening of a transaction.
* :func:`rescreen` / :class:`ScreeningService`: daily re-screening of clients, and at once on a
  list update.
* :class:`Decision` and the thresholds: above 90 decline + SAR, 70-90 manual review, below 70 pass.
* :class:`ComplianceService`: ``screen(Movement) -> Verdict`` (the one gate before every
  movement: sanctions + address risk + rules), ``check_can_move``, freezes, cases.
* :class:`RuleSet` / :class:`Movement` / :func:`evaluate`: the versioned rules file (R001-R006).
* :class:`AddressRisk` / :class:`LabelledAddressRisk`: address risk 0-100 with one hop of exposure.
* :mod:`keeper.compliance.reports`: SAR/CTR files and :func:`check_sar_deadlines` (daily job).
* :class:`LabelStore` / :func:`parse_labels`: labelled address lists (CSV/JSON), versioned and
  atomic, feeding :class:`LabelledAddressRisk`.
* :func:`from_settings`: the one builder of the gate from Settings (rules file, lists, labels).
* Case decisions that let money move again need four eyes (:class:`FourEyes`).
"""

from keeper.compliance.builder import from_settings
from keeper.compliance.decisions import FourEyes
from keeper.compliance.gate import prescreen
from keeper.compliance.labels import LabelledAddress, LabelStore, LabelVersion, parse_labels
from keeper.compliance.reports import DueSar, check_sar_deadlines
from keeper.compliance.risk import AddressRisk, AddressScore, LabelledAddressRisk, StaticEdges, TransferEdges
from keeper.compliance.rules_engine import Action, Movement, RuleHit, RulesError, RuleSet, evaluate
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.formats import parse_list
from keeper.compliance.screening.matcher import DECLINE_ABOVE, REVIEW_FROM, Decision, NameScore, score_name
from keeper.compliance.screening.records import (
    ListedAddress,
    ListEntry,
    ListFormatError,
    ListVersion,
    ParsedList,
)
from keeper.compliance.screening.rescreen import ClientHit, ClientRecord, ScreeningService, rescreen
from keeper.compliance.screening.screener import Match, Screener, ScreeningResult
from keeper.compliance.screening.store import ListShrinkError, ListStore
from keeper.compliance.service import CaseError, ComplianceService, Frozen, MovementConflict, Verdict

__all__ = [
    "DECLINE_ABOVE", "REVIEW_FROM", "ClientHit", "ClientRecord", "Decision", "ListEntry",
    "ListFormatError", "ListShrinkError", "ListStore", "ListVersion", "ListedAddress", "Match",
    "NameScore", "ParsedList", "Screener", "ScreeningResult", "ScreeningService", "normalise_address",
    "parse_list", "rescreen", "score_name",
    "Action", "AddressRisk", "AddressScore", "CaseError", "ComplianceService", "DueSar", "Frozen",
    "LabelledAddressRisk", "Movement", "MovementConflict", "RuleHit", "RuleSet", "RulesError",
    "StaticEdges", "TransferEdges", "Verdict", "check_sar_deadlines", "evaluate",
    "FourEyes", "LabelStore", "LabelVersion", "LabelledAddress", "from_settings", "parse_labels",
    "prescreen",
]
