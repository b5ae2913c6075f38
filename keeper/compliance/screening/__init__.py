"""Sanctions screening: list importers, versioned list store, address and name screening."""
