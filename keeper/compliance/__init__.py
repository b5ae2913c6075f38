"""Compliance engine: sanctions screening.

Public surface:

* :func:`parse_list` / :class:`ListStore`: import OFAC SDN Advanced XML, ``sdn.xml``, ``SDN.CSV``
  and our own CSV/JSON list format; atomic, versioned storage (``compliance_*`` tables).
* :class:`Screener`: address (exact) and name (fuzzy, explainable) screening of a transaction.
* :func:`rescreen` / :class:`ScreeningService`: daily re-screening of clients, and at once on a
  list update.
* :class:`Decision` and the thresholds: above 90 decline + SAR, 70-90 manual review, below 70 pass.
"""

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

__all__ = [
    "DECLINE_ABOVE", "REVIEW_FROM", "ClientHit", "ClientRecord", "Decision", "ListEntry",
    "ListFormatError", "ListShrinkError", "ListStore", "ListVersion", "ListedAddress", "Match",
    "NameScore", "ParsedList", "Screener", "ScreeningResult", "ScreeningService", "normalise_address",
    "parse_list", "rescreen", "score_name",
]
