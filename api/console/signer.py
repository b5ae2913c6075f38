"""Signer queue (role signer): pending SafeTxs per multisig, confirm, executed history."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from api.console.core import page_router, render, require
from keeper.console import SIGNER, User

router = page_router(prefix="/signer")
SignerUser = Annotated[User, Depends(require(SIGNER))]


@router.get("/")
def queue(request: Request, user: SignerUser) -> Response:
    """The pending proposals of every multisig served here."""
    return render(request, "signer/queue.html", {"safes": []})
