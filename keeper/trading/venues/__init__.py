"""The keeper's side of the trading venues: :class:`HttpVenue` (the CCXT-shaped
:class:`~keeper.trading.types.Venue` over a venue's REST API, strict about every answer) and the
venue registry (:func:`load_registry`, :func:`open_venues`).

The local venue simulators themselves (matching engine, HTTP service) are vendor code:
``scripts/services/venues``.
"""

from __future__ import annotations

from keeper.trading.venues.client import HttpVenue
from keeper.trading.venues.registry import VenueConfig, load_registry, open_venues, parse_registry

__all__ = ["HttpVenue", "VenueConfig", "load_registry", "open_venues",
           "parse_registry"]
