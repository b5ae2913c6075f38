"""What a parsed sanctions list is made of, independent of its source format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

KINDS = frozenset({"person", "organization", "vessel", "aircraft", "unknown"})


class ListFormatError(ValueError):
    """A list file that is malformed, truncated or not of the announced format. Nothing changes."""


@dataclass(frozen=True)
class ListedAddress:
    """A crypto address of a listed party (``address`` already normalised)."""

    currency: str
    address: str


@dataclass(frozen=True)
class ListEntry:
    """One listed party: names (the first is the primary one), addresses and identifying data.
    ``weak_names`` are aliases the list itself marks weak (screened by exact match only)."""

    uid: str
    kind: str
    names: tuple[str, ...]
    addresses: tuple[ListedAddress, ...] = ()
    countries: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()  # "YYYY" or "YYYY-MM-DD"
    weak_names: tuple[str, ...] = ()  # OFAC "weak" / low-quality AKAs: exact matches only

    @property
    def person(self) -> bool:
        """Whether the party is a natural person (family names weigh more)."""
        return self.kind == "person"


@dataclass(frozen=True)
class ParsedList:
    """A whole list file, parsed and validated, ready to be stored as one version."""

    source_format: str
    sha256: str
    entries: tuple[ListEntry, ...] = field(repr=False)

    @property
    def address_count(self) -> int:
        """How many addresses the list holds."""
        return sum(len(e.addresses) for e in self.entries)


_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def parse_list_date(text: str) -> tuple[str, ...]:
    """Birth dates as the lists write them (``01 Jan 1970``, ``1970``, ``circa 1970``,
    ``1968 to 1970``, ``1970-01-31``) as ``YYYY-MM-DD`` or ``YYYY`` values."""
    text = text.strip()
    for fmt in ("%d %b %Y", "%Y-%m-%d", "%d %B %Y"):
        try:
            return (datetime.strptime(text, fmt).date().isoformat(),)
        except ValueError:
            pass
    return tuple(dict.fromkeys(_YEAR.findall(text)))


@dataclass(frozen=True)
class ListVersion:
    """One stored version of one list, with its entries."""

    list_name: str
    version: int
    source_format: str
    sha256: str
    imported_at: datetime
    entries: tuple[ListEntry, ...] = field(repr=False)

    @property
    def label(self) -> str:
        """``NAME@vN``: how decisions cite the list version they were made against."""
        return f"{self.list_name}@v{self.version}"
