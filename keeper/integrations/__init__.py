"""Vendor roles: each an interface plus an HTTP client (core banking, issuer, ...)."""
