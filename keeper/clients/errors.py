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


class InvalidProfile(ClientsError, ValueError):  # noqa: N818 - domain names read better
    """A profile value is malformed (country, bank customer id, limit, date, actor or reason)."""


class DuplicateBankCustomer(ClientsError):  # noqa: N818 - domain names read better
    """The core-banking customer id already belongs to another client."""


class InvalidStatusChange(ClientsError):  # noqa: N818 - domain names read better
    """A status change that is not allowed (a closed client stays closed)."""


class ProfileConflict(ClientsError):  # noqa: N818 - domain names read better
    """The profile changed concurrently (or a racing write took the bank customer id): retry."""
