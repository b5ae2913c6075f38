"""OFAC SDN Advanced XML (``SDN_ADVANCED.xml``) importer, streaming.

Reference values come first in the file (``ReferenceValueSets``: ``FeatureTypeValues`` maps a
``FeatureTypeID`` to its text, ``NamePartTypeValues``, ``PartySubTypeValues``, ``CountryValues``),
then ``Locations``, then ``DistinctParties``. Every id is resolved through those tables, never
hard-coded: a feature is a crypto address when its type's text is ``Digital Currency Address -
<CUR>``. Names come from ``Profile/Identity/Alias/DocumentedName/DocumentedNamePart/
NamePartValue``; a person's parts are written ``LAST, First Middle``.
"""

from __future__ import annotations

from typing import BinaryIO
from xml.etree.ElementTree import Element

from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.records import ListedAddress, ListEntry, ListFormatError
from keeper.compliance.screening.xmlsafe import child, children, local, path, stream, text

CRYPTO_PREFIX = "Digital Currency Address - "
_COUNTRY_FEATURES = ("Nationality Country", "Citizenship Country")
_FAMILY_PARTS = ("Last Name",)
_KIND = {"Individual": "person", "Entity": "organization", "Vessel": "vessel", "Aircraft": "aircraft"}

_WANTED = frozenset({"ReferenceValueSets", "Location", "DistinctParty"})
Refs = dict[str, dict[str, Element]]


def parse_advanced_xml(source: BinaryIO) -> list[ListEntry]:
    """Parse an SDN Advanced XML stream into entries (``ListFormatError`` when it is not one)."""
    refs: Refs = {}
    locations: dict[str, str] = {}
    entries: list[ListEntry] = []
    for elem in stream(source, "Sanctions", _WANTED):
        tag = local(elem.tag)
        if tag == "ReferenceValueSets":
            refs = {local(s.tag): {v.get("ID", ""): v for v in s} for s in elem}
            elem.clear()
        elif tag == "Location":
            countries = [_ref_text(refs, "CountryValues", c.get("CountryID"))
                         for c in children(elem, "LocationCountry")]
            if countries:
                locations[elem.get("ID", "")] = countries[0]
            elem.clear()
        elif tag == "DistinctParty":
            if not refs:
                raise ListFormatError("DistinctParty before ReferenceValueSets")
            entries.append(_party(elem, refs, locations))
            elem.clear()
    if not refs:
        raise ListFormatError("no ReferenceValueSets: not an SDN Advanced XML file")
    return entries


def _ref_text(refs: Refs, table: str, ref_id: str | None) -> str:
    value = refs.get(table, {}).get(ref_id or "")
    if value is None:
        raise ListFormatError(f"{table} has no ID {ref_id!r}")
    return text(value)


def _party(party: Element, refs: Refs, locations: dict[str, str]) -> ListEntry:
    uid = party.get("FixedRef", "")
    profile = child(party, "Profile")
    if not uid or profile is None:
        raise ListFormatError(f"DistinctParty {uid!r} without FixedRef or Profile")
    subtype = refs.get("PartySubTypeValues", {}).get(profile.get("PartySubTypeID", ""))
    if subtype is None:
        raise ListFormatError(f"party {uid}: unknown PartySubTypeID {profile.get('PartySubTypeID')!r}")
    kind = _KIND.get(text(subtype)) or _KIND.get(
        _ref_text(refs, "PartyTypeValues", subtype.get("PartyTypeID")), "unknown")
    found = [n for identity in children(profile, "Identity") for n in _names(identity, refs, kind)]
    names = [name for weak, name in found if not weak]
    weak_names = [name for weak, name in found if weak and name not in names]
    if not names:
        raise ListFormatError(f"party {uid} has no name")
    addresses: list[ListedAddress] = []
    countries: list[str] = []
    dates: list[str] = []
    for feature in children(profile, "Feature"):
        ftype = _ref_text(refs, "FeatureTypeValues", feature.get("FeatureTypeID"))
        for version in children(feature, "FeatureVersion"):
            if ftype.startswith(CRYPTO_PREFIX):
                for detail in children(version, "VersionDetail"):
                    try:
                        addresses.append(ListedAddress(ftype[len(CRYPTO_PREFIX):].strip(),
                                                       normalise_address(text(detail))))
                    except ValueError as exc:
                        raise ListFormatError(f"party {uid}: {exc}") from None
            elif ftype == "Birthdate":
                dates.extend(_date(d) for d in path(version, "DatePeriod", "Start", "From"))
            elif ftype in _COUNTRY_FEATURES:
                countries.extend(locations[loc.get("LocationID", "")]
                                 for loc in children(version, "VersionLocation")
                                 if loc.get("LocationID") in locations)
    return ListEntry(uid, kind, tuple(dict.fromkeys(names)), tuple(addresses),
                     tuple(dict.fromkeys(countries)), tuple(d for d in dict.fromkeys(dates) if d),
                     tuple(dict.fromkeys(weak_names)))


def _names(identity: Element, refs: Refs, kind: str) -> list[tuple[bool, str]]:
    """(weak, name) of every alias; weak: the alias is marked ``LowQuality="true"``."""
    groups = {g.get("ID", ""): _ref_text(refs, "NamePartTypeValues", g.get("NamePartTypeID"))
              for g in path(identity, "NamePartGroups", "MasterNamePartGroup", "NamePartGroup")}
    out: list[tuple[bool, bool, str]] = []
    for alias in children(identity, "Alias"):
        primary = alias.get("Primary") == "true"
        weak = alias.get("LowQuality") == "true"
        for doc in children(alias, "DocumentedName"):
            family, given = [], []
            for value in path(doc, "DocumentedNamePart", "NamePartValue"):
                part = groups.get(value.get("NamePartGroupID", ""), "")
                (family if part in _FAMILY_PARTS else given).append(text(value))
            if kind == "person" and family and given:
                out.append((primary, weak, f"{' '.join(family)}, {' '.join(given)}"))
            elif family or given:
                out.append((primary, weak, " ".join(family + given)))
    out.sort(key=lambda p: not p[0])  # primary name first
    return [(weak, name) for _, weak, name in out if name]


def _date(start_from: Element) -> str:
    year, month, day = (text(child(start_from, n)) for n in ("Year", "Month", "Day"))
    if year.isdigit() and month.isdigit() and day.isdigit():
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    return year if year.isdigit() else ""
