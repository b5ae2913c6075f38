"""Strongroom HTTP API (FastAPI)."""
