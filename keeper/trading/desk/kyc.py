"""The desk's client check: a parent order's jurisdiction comes from the client's KYC record.

:func:`client_jurisdiction` looks the client up through :mod:`keeper.clients` (its public API):
an unknown client, one that may not trade (:meth:`keeper.clients.ClientProfile.refusal`: not
active, no or expired KYC) or one without a country is refused; the parent's jurisdiction is the
profile's country, and a caller-given jurisdiction that differs is refused (not replaced).
``client_type`` stays the caller's (the profile has no such field).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from keeper import clients
from keeper.trading.types import ParentOrder


class ClientRefusedError(ValueError):
    """The client may not have this order routed (``rule``: ``client.unknown``,
    ``client.status``, ``client.country`` or ``client.jurisdiction``; ``reason``: why).
    Nothing was stored or sent."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{rule}: {reason}")
        self.rule, self.reason = rule, reason


def client_jurisdiction(engine: Engine, parent: ParentOrder, now_ms: int) -> ParentOrder:
    """``parent`` with its jurisdiction set to its client's KYC country (``parent.jurisdiction``
    None: taken from the profile; given: must equal it). Raises :class:`ClientRefusedError`."""
    try:
        profile = clients.get_profile(engine, parent.client_id)
    except clients.UnknownClient:
        raise ClientRefusedError("client.unknown", f"no client {parent.client_id!r}") from None
    why = profile.refusal(datetime.fromtimestamp(now_ms / 1000, UTC).date())
    if why is not None:
        raise ClientRefusedError("client.status", why)
    if not profile.country:
        raise ClientRefusedError("client.country", "client has no country in its KYC record")
    if parent.jurisdiction is not None and parent.jurisdiction != profile.country:
        raise ClientRefusedError(
            "client.jurisdiction", f"jurisdiction {parent.jurisdiction!r} given, the client's "
            f"KYC country is {profile.country!r}")
    return replace(parent, jurisdiction=profile.country)
