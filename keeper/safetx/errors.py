"""Refusals of the Safe transaction service; the routes map each to the Safe service's status."""

from __future__ import annotations


class SafeTxError(Exception):
    """Base of every refusal; nothing was changed."""


class UnknownSafe(SafeTxError):  # noqa: N818 - reads as what happened
    """Not a multisig this service answers for (the Safe service's 404)."""


class UnknownTransaction(SafeTxError):  # noqa: N818 - reads as what happened
    """No transaction with that safeTxHash (404)."""


class ProposalRefused(SafeTxError):  # noqa: N818 - reads as what happened
    """A proposal the Safe service refuses with 422 (hash, nonce, sender, signature)."""


class ConfirmationRefused(SafeTxError):  # noqa: N818 - reads as what happened
    """A confirmation the Safe service refuses with 400 (owner, signature, duplicate, executed)."""


class DeleteRefused(SafeTxError):  # noqa: N818 - reads as what happened
    """A deletion the Safe service refuses with 400 (executed, not the proposer, bad signature)."""


class SafeUnavailable(SafeTxError):  # noqa: N818 - reads as what happened
    """The chain could not be read; retry later (503)."""


class DelegateRefused(SafeTxError):  # noqa: N818 - reads as what happened
    """A delegate addition or removal the Safe service refuses with 400 (signature, owner)."""
