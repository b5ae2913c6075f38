"""Errors of the issuer client: what the caller may do next is in the class."""

from __future__ import annotations


class IssuerError(Exception):
    """Any failure talking to the issuer."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the issuer asked us to wait, if it said


class IssuerUnavailable(IssuerError):  # noqa: N818 - domain names read better
    """Transport failure, timeout, 5xx or maintenance after every retry: retry later with the
    same Idempotency-Key (the request may or may not have been accepted)."""


class IssuerRejected(IssuerError):  # noqa: N818 - domain names read better
    """The issuer refused the request (4xx): nothing was accepted; fix the request first."""


class IssuerConflict(IssuerRejected):  # noqa: N818 - domain names read better
    """The Idempotency-Key was already used for a different request, or the deposit was
    already redeemed."""


class IssuerNotFound(IssuerRejected):  # noqa: N818 - domain names read better
    """No such mint or burn at the issuer."""


class IssuerProtocolError(IssuerError):
    """The issuer answered something that is not its documented shape."""
