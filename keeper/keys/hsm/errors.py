"""Errors of the HSM layer (none of them ever carries a PIN or key material)."""

from __future__ import annotations


class HsmUnavailableError(RuntimeError):
    """Neither the primary nor the backup token could perform the operation."""


class KeyMismatchError(RuntimeError):
    """A token holds (or signed with) a key other than the one pinned for the label.

    Never retried on another token: a wrong key is a security event, not an outage.
    """
