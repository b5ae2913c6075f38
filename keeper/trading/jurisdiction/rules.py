"""Jurisdiction rules as data (``rules.json`` beside this module by default).

The file says, per jurisdiction (an ISO 3166-1 alpha-2 code, a group of codes such as ``EU``
with its ``members``, or ``default`` for every code no entry names):

* ``venues``: the venue ids a client of that jurisdiction may trade on;
* ``blocked_venue_regions``: regions (ISO codes) a venue may not be established in (sanctions);
* ``symbols``: the markets (``keeper.trading.types.MARKETS``) allowed;
* ``client_types``: the client types allowed, each with its ``order_types`` and its
  ``max_order_notional`` per quote currency in minor units (``null``: no limit; a currency not
  listed: refused, never unlimited);
* ``travel_rule``: the amount at or above which originator/beneficiary information must travel
  with a transfer (FATF Recommendation 16), in minor units of its currency.

At the top level, ``venues`` names every venue the rules know with the region it is established
in, and ``sanctioned_jurisdictions`` lists codes whose clients may not trade at all.

Validation is strict: unknown keys refused, integers only (no floats, booleans or numeric
strings), duplicate JSON keys refused, and every cross reference checked (a venue, symbol or
region that does not exist, a code in two entries, an allowed venue in a blocked region). A
file that fails raises :class:`RulesError` naming the file and *every* offending field; nothing
half-loaded is returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from keeper.strictdata import Strict, decode, faults
from keeper.trading.types import MARKETS

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.json")
RULES_VERSION = 1
DEFAULT = "default"
MAX_DEPTH = 16  # the rules nest 5 levels

Code = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Notes = Annotated[str, Field(max_length=2000)]
Minor = Annotated[int, Field(ge=0)]


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and every bad field."""


class VenueInfo(Strict):
    """A venue the rules know: the region (ISO code) it is established and licensed in."""

    region: Code
    notes: Notes = ""


class ClientTypeRule(Strict):
    """What one client type may do: order types and the largest order per quote currency."""

    order_types: list[Literal["market", "limit"]] = Field(min_length=1)
    max_order_notional: dict[Currency, Minor] | None
    notes: Notes = ""


class TravelRule(Strict):
    """Originator/beneficiary information required at or above ``threshold`` minor units."""

    currency: Currency
    threshold: Minor
    notes: Notes = ""


class JurisdictionRule(Strict):
    """The rules of one jurisdiction (or group, or the default)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    members: list[Code] = Field(default_factory=list)
    venues: list[Name]
    blocked_venue_regions: list[Code]
    symbols: list[Annotated[str, Field(max_length=20)]]
    client_types: dict[Name, ClientTypeRule]
    travel_rule: TravelRule
    sources: list[Notes] = Field(default_factory=list)
    notes: Notes = ""


class SanctionedJurisdictions(Strict):
    """Codes whose clients may not trade at all."""

    codes: list[Code]
    notes: Notes = ""


class Rules(Strict):
    """The whole rules file (see the module docstring)."""

    version: int
    disclaimer: Notes
    venues: dict[Name, VenueInfo]
    sanctioned_jurisdictions: SanctionedJurisdictions
    jurisdictions: dict[Annotated[str, Field(pattern=r"^([A-Z]{2}|default)$")], JurisdictionRule]

    def entry_for(self, code: str) -> tuple[str, JurisdictionRule]:
        """The key and entry that govern ``code`` (its own, its group's, or the default)."""
        for key, rule in self.jurisdictions.items():
            if key == code or code in rule.members:
                return key, rule
        return DEFAULT, self.jurisdictions[DEFAULT]


def _cross_faults(rules: Rules) -> list[str]:
    """Every cross-reference fault of an otherwise well-formed file, each naming its field."""
    faults: list[str] = []
    if rules.version != RULES_VERSION:
        faults.append(f"version: {rules.version} is not supported (expected {RULES_VERSION})")
    if DEFAULT not in rules.jurisdictions:
        faults.append(f"jurisdictions: no '{DEFAULT}' entry")
    sanctioned = set(rules.sanctioned_jurisdictions.codes)
    claimed: dict[str, str] = {}
    for key, rule in rules.jurisdictions.items():
        here = f"jurisdictions.{key}"
        if key == DEFAULT and rule.members:
            faults.append(f"{here}.members: the default entry has no members")
        codes = ([key] if key != DEFAULT else []) + list(rule.members)
        for code in codes:
            if code in claimed and claimed[code] != key:
                faults.append(f"{here}.members: {code} is also governed by {claimed[code]}")
            claimed.setdefault(code, key)
            if code in sanctioned:
                faults.append(f"{here}: {code} is a sanctioned jurisdiction")
        blocked = set(rule.blocked_venue_regions)
        for venue in rule.venues:
            info = rules.venues.get(venue)
            if info is None:
                faults.append(f"{here}.venues: unknown venue {venue!r}")
            elif info.region in blocked:
                faults.append(f"{here}.venues: {venue!r} is in blocked region {info.region}")
        for symbol in rule.symbols:
            if symbol not in MARKETS:
                faults.append(f"{here}.symbols: unknown market {symbol!r}")
        for ctype, crule in rule.client_types.items():
            if crule.max_order_notional is not None:
                for cur in crule.max_order_notional:
                    if cur not in {m.quote for m in MARKETS.values()}:
                        faults.append(f"{here}.client_types.{ctype}.max_order_notional: "
                                      f"no market is quoted in {cur}")
        for name, items in (("venues", rule.venues), ("symbols", rule.symbols),
                            ("blocked_venue_regions", rule.blocked_venue_regions)):
            if len(set(items)) != len(items):
                faults.append(f"{here}.{name}: listed twice")
    return faults


def parse_rules(data: Any, source: str = "<rules>") -> Rules:
    """Validate an already-decoded rules document; :class:`RulesError` naming every fault."""
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"jurisdiction rules {source} refused: {faults(exc)}") from None
    crossed = _cross_faults(rules)
    if crossed:
        raise RulesError(f"jurisdiction rules {source} refused: " + "; ".join(crossed))
    return rules


def decode_rules(text: str, source: str = "<rules>") -> Rules:
    """Decode and validate rules JSON text (duplicate keys, NaN/Infinity and nesting deeper than
    :data:`MAX_DEPTH` refused; the depth is checked before decoding: where a library raised the
    recursion limit, as py_ecc does, a hostile ``[[[[...`` would crash the C decoder)."""
    try:
        data = decode(text, MAX_DEPTH)
    except ValueError as exc:
        raise RulesError(f"jurisdiction rules {source} are not valid JSON: {exc}") from None
    return parse_rules(data, source)


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and validate a rules file (default: ``rules.json`` beside this module)."""
    p = Path(path) if path is not None else DEFAULT_RULES_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"jurisdiction rules {p} cannot be read: {exc}") from None
    return decode_rules(text, str(p))
