"""The jurisdiction engine: :class:`JurisdictionPolicy` implements ``ExecutionPolicy`` over the rules.

Two checks, both pure and deterministic (the same rules and input always give the same answer):

* :meth:`JurisdictionPolicy.check_order` refuses a whole :class:`ParentOrder` before routing
  (jurisdiction, client type, market, order type, the order's notional);
* :meth:`JurisdictionPolicy.check` answers for each :class:`ChildIntent` routing wants to send
  (the same checks plus the venue), inside routing's decision, so it only does set and dict look-ups
  on tables compiled once from the rules.

The checks run in a fixed order and the first that fails answers, naming its rule as the path of
the rule in the file (``US.venues``, ``EU.client_types.retail.max_order_notional``,
``sanctioned_jurisdictions``...) and saying why. Anything the rules do not allow is refused: an
unknown venue, market, client type or order type, a malformed jurisdiction code, a non-positive
amount or notional.

Notional limits are per order: a parent's notional (``Market.notional(amount, limit_price)``, or
the caller's estimate for a market order) is checked before routing, and each child's estimated
notional must also be within the limit. A market order of a limited client type without an
estimate is refused (its notional is unknown).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from keeper.trading.jurisdiction.rules import DEFAULT, Rules, load_rules
from keeper.trading.types import MARKETS, ChildIntent, OrderType, ParentOrder, PolicyDecision

_CODE = re.compile(r"[A-Z]{2}")
ALLOW = PolicyDecision(True)


def _shown(value: object) -> str:
    """``value`` as it may appear in a reason: quoted, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _market(symbol: object) -> bool:
    """Whether ``symbol`` names a market of ``MARKETS`` (hostile values are simply not)."""
    return isinstance(symbol, str) and symbol in MARKETS


@dataclass(frozen=True)
class _ClientType:
    order_types: frozenset[OrderType]
    limits: dict[str, int] | None  # quote currency -> max notional (minor units); None: no limit


@dataclass(frozen=True)
class _Jurisdiction:
    key: str
    venues: frozenset[str]
    blocked_regions: frozenset[str]
    symbols: frozenset[str]
    client_types: dict[str, _ClientType]


@dataclass(frozen=True)
class TravelRuleCheck:
    """Whether originator/beneficiary information must accompany a transfer, and under which rule."""

    required: bool
    rule: str
    currency: str
    threshold: int


class JurisdictionPolicy:
    """Checks orders and child orders against jurisdiction rules (see the module docstring)."""

    def __init__(self, rules: Rules | None = None) -> None:
        """Compile ``rules`` (default: the packaged ``rules.json``)."""
        self.rules = rules if rules is not None else load_rules()
        canonical = json.dumps(self.rules.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        #: SHA-256 of the rules' canonical JSON: which rule set answered (for the audit trail)
        self.digest = hashlib.sha256(canonical.encode()).hexdigest()
        self._regions = {v: info.region for v, info in self.rules.venues.items()}
        self._sanctioned = frozenset(self.rules.sanctioned_jurisdictions.codes)
        self._by_key: dict[str, _Jurisdiction] = {}
        self._by_code: dict[str, _Jurisdiction] = {}
        for key, rule in self.rules.jurisdictions.items():
            compiled = _Jurisdiction(
                key, frozenset(rule.venues), frozenset(rule.blocked_venue_regions), frozenset(rule.symbols),
                {name: _ClientType(frozenset(OrderType(t) for t in ct.order_types),
                                   dict(ct.max_order_notional) if ct.max_order_notional is not None else None)
                 for name, ct in rule.client_types.items()})
            self._by_key[key] = compiled
            for code in ([key] if key != DEFAULT else []) + list(rule.members):
                self._by_code[code] = compiled

    # -- look-ups ------------------------------------------------------------------------------

    def governing(self, code: str) -> str:
        """The key of the entry governing jurisdiction ``code`` (``default`` if none names it)."""
        if not isinstance(code, str):
            return DEFAULT
        return self._by_code.get(code, self._by_key[DEFAULT]).key

    def allowed_venues(self, jurisdiction: str) -> frozenset[str]:
        """The venues a client of ``jurisdiction`` may trade on (empty if it may not trade)."""
        if not isinstance(jurisdiction, str) or not _CODE.fullmatch(jurisdiction) \
                or jurisdiction in self._sanctioned:
            return frozenset()
        j = self._by_code.get(jurisdiction, self._by_key[DEFAULT])
        return frozenset(v for v in j.venues if self._regions[v] not in j.blocked_regions)

    def travel_rule(self, jurisdiction: str, amount: int, currency: str) -> TravelRuleCheck:
        """Whether a transfer of ``amount`` minor units of ``currency`` for a client of
        ``jurisdiction`` needs travel-rule information: at or above the threshold. An amount in
        another currency than the threshold's is treated as at or above it (no FX here: the
        conservative answer, as for an amount that is not an integer); a malformed code uses the
        default entry's rule."""
        key = self.governing(jurisdiction)
        rule = self.rules.jurisdictions[key].travel_rule
        required = type(amount) is not int or currency != rule.currency or amount >= rule.threshold
        return TravelRuleCheck(required, f"{key}.travel_rule", rule.currency, rule.threshold)

    # -- checks --------------------------------------------------------------------------------

    def _common(self, jurisdiction: str, client_type: str, symbol: str, order_type: OrderType,
                notional: int | None, what: str) -> tuple[PolicyDecision, _Jurisdiction | None]:
        """The checks shared by orders and children (jurisdiction, client, market, type, notional)."""
        if not isinstance(jurisdiction, str) or not _CODE.fullmatch(jurisdiction):
            reason = f"{_shown(jurisdiction)} is not an ISO country code"
            return PolicyDecision(False, "jurisdiction", reason), None
        if jurisdiction in self._sanctioned:
            return PolicyDecision(False, "sanctioned_jurisdictions",
                                  f"clients in {jurisdiction} may not trade (comprehensive sanctions)"), None
        j = self._by_code.get(jurisdiction, self._by_key[DEFAULT])
        ct = j.client_types.get(client_type) if isinstance(client_type, str) else None
        if ct is None:
            return PolicyDecision(False, f"{j.key}.client_types",
                                  f"client type {_shown(client_type)} may not trade under {j.key} rules"), j
        if symbol not in j.symbols:
            return PolicyDecision(False, f"{j.key}.symbols",
                                  f"market {_shown(symbol)} is not allowed under {j.key} rules"), j
        if order_type not in ct.order_types:
            return PolicyDecision(False, f"{j.key}.client_types.{client_type}.order_types",
                                  f"{_shown(str(order_type))} orders are not allowed for {client_type} "
                                  f"clients under {j.key} rules"), j
        if ct.limits is not None:
            rule = f"{j.key}.client_types.{client_type}.max_order_notional"
            quote = MARKETS[symbol].quote
            limit = ct.limits.get(quote)
            if limit is None:
                return PolicyDecision(False, rule, f"no limit is set in {quote} for {client_type} clients"), j
            if notional is None:
                return PolicyDecision(False, rule, f"the {what}'s notional is unknown (a market order needs "
                                                   "an estimate) and the client type has a limit"), j
            if notional > limit:
                return PolicyDecision(False, rule, f"the {what}'s notional {notional} {quote} minor units "
                                                   f"exceeds the limit {limit}"), j
        return ALLOW, j

    def check_order(self, parent: ParentOrder, estimated_notional: int | None = None) -> PolicyDecision:
        """Pre-trade check of a whole order, before routing: refused orders are never routed.
        ``estimated_notional`` (quote minor units) is used for a market order (no limit price)."""
        if type(parent.amount) is not int or parent.amount <= 0:
            return PolicyDecision(False, "order", "the amount must be a positive integer")
        limit_price = parent.limit_price
        if limit_price is not None and (type(limit_price) is not int or limit_price <= 0):
            return PolicyDecision(False, "order", "the limit price must be a positive integer")
        if not _market(parent.symbol):
            return PolicyDecision(False, "order", f"unknown market {_shown(parent.symbol)}")
        est = estimated_notional
        if est is not None and (type(est) is not int or est <= 0):
            return PolicyDecision(False, "order", "the estimated notional must be a positive integer")
        if parent.limit_price is None:
            order_type, notional = OrderType.MARKET, estimated_notional
        else:
            order_type = OrderType.LIMIT
            notional = MARKETS[parent.symbol].notional(parent.amount, parent.limit_price)
        decision, j = self._common(parent.jurisdiction, parent.client_type, parent.symbol, order_type,
                                   notional, "order")
        if decision.allowed and j is not None and not self.allowed_venues(parent.jurisdiction):
            return PolicyDecision(False, f"{j.key}.venues", f"no venue is allowed under {j.key} rules")
        return decision

    def check(self, intent: ChildIntent) -> PolicyDecision:
        """Whether child order ``intent`` may be sent (``ExecutionPolicy``)."""
        if type(intent.amount) is not int or intent.amount <= 0 \
                or type(intent.notional) is not int or intent.notional <= 0:
            return PolicyDecision(False, "order", "amount and notional must be positive integers")
        if not _market(intent.symbol):
            return PolicyDecision(False, "order", f"unknown market {_shown(intent.symbol)}")
        try:
            order_type = OrderType(intent.type)
        except (ValueError, TypeError):
            return PolicyDecision(False, "order", f"unknown order type {_shown(intent.type)}")
        decision, j = self._common(intent.jurisdiction, intent.client_type, intent.symbol, order_type,
                                   intent.notional, "child order")
        if not decision.allowed or j is None:
            return decision
        region = self._regions.get(intent.venue) if isinstance(intent.venue, str) else None
        if region is None:
            return PolicyDecision(False, "venues", f"venue {_shown(intent.venue)} is unknown to the rules")
        if region in j.blocked_regions:
            return PolicyDecision(False, f"{j.key}.blocked_venue_regions", f"venue {intent.venue} is "
                                  f"established in {region}, blocked under {j.key} rules")
        if intent.venue not in j.venues:
            return PolicyDecision(False, f"{j.key}.venues",
                                  f"venue {intent.venue} is not allowed under {j.key} rules")
        return ALLOW
