"""Jurisdiction rules as data, checked before any order is routed and before every child order.

Public surface:

* :class:`JurisdictionPolicy`: ``check(ChildIntent)`` (the ``ExecutionPolicy`` routing calls before
  each child), ``check_order(ParentOrder)`` (pre-trade), ``allowed_venues``, ``travel_rule``;
* :func:`load_rules`, :func:`decode_rules`, :func:`parse_rules`, :class:`Rules`, :class:`RulesError`:
  the strict rules file (``rules.json`` in this package by default; a sample, not legal advice);
* CLI: ``python -m keeper.trading.jurisdiction validate|show|check``.
"""

from keeper.trading.jurisdiction.policy import JurisdictionPolicy, TravelRuleCheck
from keeper.trading.jurisdiction.rules import (
    DEFAULT_RULES_FILE,
    Rules,
    RulesError,
    decode_rules,
    load_rules,
    parse_rules,
)

__all__ = ["DEFAULT_RULES_FILE", "JurisdictionPolicy", "Rules", "RulesError", "TravelRuleCheck",
           "decode_rules", "load_rules", "parse_rules"]
