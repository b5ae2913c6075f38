"""Errors of the clients domain."""

from __future__ import annotations


class ClientsError(Exception):
    """Base class of the clients domain's errors."""


class UnknownClient(ClientsError):  # noqa: N818 - domain names read better
    """No client with that id."""


class UnknownKey(ClientsError):  # noqa: N818 - domain names read better
    """No API key with that id."""


class InvalidScope(ClientsError):  # noqa: N818 - domain names read better
    """A scope that does not exist was asked for."""


class DepositsUnavailable(ClientsError):  # noqa: N818 - domain names read better
    """Deposit instructions cannot be given (system not deployed, reference not registered)."""
