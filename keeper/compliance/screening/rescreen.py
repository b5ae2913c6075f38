"""Re-screening clients against list versions: daily, and at once when a list changes.

Clients come in as plain records (id, name, country, birth date): this module does not know the
clients domain. :class:`ScreeningService` keeps the screener of the current list versions and
re-screens every client against a new version as soon as it is imported.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from keeper.compliance.screening.matcher import Decision
from keeper.compliance.screening.records import ListVersion
from keeper.compliance.screening.screener import Screener, ScreeningResult
from keeper.compliance.screening.store import ListStore


@dataclass(frozen=True)
class ClientRecord:
    """What screening needs to know of a client."""

    id: str
    name: str
    country: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD or YYYY


@dataclass(frozen=True)
class ClientHit:
    """A client whose name matched a list entry at or above the review threshold."""

    client_id: str
    result: ScreeningResult


def rescreen(clients: Iterable[ClientRecord | tuple[str, str, str | None, str | None]],
             list_version: ListVersion | Sequence[ListVersion] | Screener) -> list[ClientHit]:
    """Screen every client's name against ``list_version`` (one version, several, or a built
    :class:`Screener`); return the clients to review or decline, worst first."""
    if isinstance(list_version, Screener):
        screener = list_version
    else:
        screener = Screener([list_version] if isinstance(list_version, ListVersion) else list_version)
    hits = []
    for raw in clients:
        client = raw if isinstance(raw, ClientRecord) else ClientRecord(*raw)
        result = screener.screen_transaction(None, client.name, client.country, client.birth_date)
        if result.decision is not Decision.PASS:
            hits.append(ClientHit(client.id, result))
    hits.sort(key=lambda h: -max(m.score for m in h.result.matches))
    return hits


def _frozen(screener: Screener) -> Screener:
    """Move a freshly built index (millions of acyclic objects) out of the cyclic GC's reach, as
    the keeper does with its start-up objects: full collections would otherwise walk it and stall
    the hot path for hundreds of milliseconds. Reference counting still frees a replaced index."""
    gc.collect()
    gc.freeze()
    return screener


class ScreeningService:
    """The screener of the current list versions, kept current by :meth:`import_list`."""

    def __init__(self, store: ListStore, clients: Callable[[], Iterable[ClientRecord]],
                 on_hits: Callable[[ListVersion | None, list[ClientHit]], None] | None = None) -> None:
        """``clients`` lists every client to re-screen; ``on_hits`` receives each re-screening's
        hits (with the new version, or None for the daily run)."""
        self._store = store
        self._clients = clients
        self._on_hits = on_hits
        self._lock = threading.Lock()
        self._screener = _frozen(Screener(store.current_all()))

    @property
    def screener(self) -> Screener:
        """The screener of the current versions (replaced whole, never mutated)."""
        return self._screener

    def screen_transaction(self, address: str | None, counterparty: str | None,
                           country: str | None = None, birth_date: str | None = None) -> ScreeningResult:
        """Screen one transfer against every current list version."""
        return self._screener.screen_transaction(address, counterparty, country, birth_date)

    def import_list(self, list_name: str, source: bytes | Path, source_format: str, *,
                    allow_shrink: bool = False) -> tuple[ListVersion, list[ClientHit]]:
        """Import a list version (atomic, see :class:`ListStore`), switch the transaction screener
        to it and re-screen every client against it at once. A refused file changes nothing."""
        with self._lock:
            version = self._store.import_list(list_name, source, source_format, allow_shrink=allow_shrink)
            others = [v for v in self._screener.versions if v.list_name != list_name]
            new = Screener([version])
            self._screener = _frozen(Screener([*others, version]) if others else new)
        hits = rescreen(self._clients(), new)
        if self._on_hits is not None:
            self._on_hits(version, hits)
        return version, hits

    def daily_rescreen(self) -> list[ClientHit]:
        """Re-screen every client against every current version (the scheduled job calls this)."""
        hits = rescreen(self._clients(), self._screener)
        if self._on_hits is not None:
            self._on_hits(None, hits)
        return hits
