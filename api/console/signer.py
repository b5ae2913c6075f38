"""Signer queue (role signer): the pending SafeTxs of every multisig served here, each with its
decoded transfer, confirmations against the threshold and the EIP-712 SafeTx in full; confirm by
pasting an owner's signature or by signing with the HSM-held ``safe-signer`` key (only a user
linked to that key's owner address); executed history.

Confirmations go through :meth:`keeper.safetx.SafeTxService.confirm`, the call the Safe-compatible
API makes (same validation, same audit record, ``via`` the console user); signatures are parsed
by that API's own parser. The executor job executes what reaches its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.core import page_router, render, require
from api.console.signer_view import DecodedCall, decode_call, typed_data_json
from api.routes.safe_transactions import BadInputError, _signature, get_safetx
from keeper.console import SIGNER, User
from keeper.deployments import read_deployment
from keeper.keys import Keyring
from keeper.safetx import SafeState, SafeTxError, SafeTxService, Status, TxRecord

router = page_router(prefix="/signer")
SignerUser = Annotated[User, Depends(require(SIGNER))]
HSM_KEY = "safe-signer"
PENDING_SHOWN = 50
HISTORY_SHOWN = 20
# shown in the queue: collecting confirmations, in flight, or refused by the simulation (the
# signers must see it: it will not be sent); replaced and expired ones are left out
OPEN = (Status.PENDING, Status.SUBMITTED, Status.FAILED_SIMULATION)
HashPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]


@dataclass(frozen=True)
class Row:
    """One transaction of the queue or the history."""

    rec: TxRecord
    call: DecodedCall


@dataclass(frozen=True)
class SafeView:
    """One multisig: its state, pending and executed transactions."""

    state: SafeState | None
    address: str
    pending: list[Row]
    executed: list[Row]
    problem: str | None = None


def _vault(request: Request) -> str | None:
    settings = request.app.state.settings
    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    return deployment.vault if deployment is not None else None


def keyring_of(request: Request) -> Keyring:
    """The console's HSM keyring holding only ``safe-signer`` (opened on first use)."""
    ring = getattr(request.app.state, "console_keyring", None)
    if ring is None:
        from keeper.keys.hsm import ensure_local_token

        config = ensure_local_token(request.app.state.settings.data_dir, ec_keys=(HSM_KEY,))
        ring = Keyring.from_hsm(config, labels=(HSM_KEY,))
        request.app.state.console_keyring = ring
    return ring


def _safe_view(service: SafeTxService, address: str, vault: str | None) -> SafeView:
    chain = service.chain
    try:
        state = service.safe_info(address)
        _, pending, _ = service.list(address, executed=False, limit=PENDING_SHOWN,
                                     ordering="nonce")
        _, done, _ = service.list(address, executed=True, limit=HISTORY_SHOWN)
    except SafeTxError as exc:
        return SafeView(None, address, [], [], str(exc))
    seen: dict[str, bool | None] = {}  # whitelist answers of this page, by destination
    return SafeView(state, address,
                    [Row(r, decode_call(r.tx, chain, vault, seen)) for r in pending
                     if r.status in OPEN],
                    [Row(r, decode_call(r.tx, chain, vault, seen)) for r in done])


@router.get("/")
def queue(request: Request, user: SignerUser) -> Response:
    """Pending proposals and executed history of every multisig served here."""
    service = get_safetx(request)
    vault = _vault(request)
    return render(request, "signer/queue.html",
                  {"safes": [_safe_view(service, a, vault) for a in service.known_safes()]})


def _tx_page(request: Request, user: User, safe_tx_hash: str, message: str | None = None,
             error: str | None = None, status: int = 200) -> Response:
    service = get_safetx(request)
    try:
        rec = service.get(safe_tx_hash)
        state = service.safe_info(rec.safe)
    except SafeTxError:
        raise HTTPException(404, "no such transaction") from None
    confirmed = {c.owner for c in rec.confirmations}
    can_hsm = (rec.status == Status.PENDING and user.owner_address is not None
               and user.owner_address in state.owners and user.owner_address not in confirmed)
    return render(request, "signer/tx.html", {
        "rec": rec, "state": state, "call": decode_call(rec.tx, service.chain, _vault(request)),
        "typed": typed_data_json(service.chain.chain_id, rec.safe, rec.tx),
        "can_hsm": can_hsm, "message": message, "error": error,
        "pending": rec.status == Status.PENDING}, status)


@router.get("/tx/{safe_tx_hash}")
def tx_page(request: Request, user: SignerUser, safe_tx_hash: HashPath,
            done: str | None = None) -> Response:
    """One SafeTx: the decoded call, the EIP-712 message in full, confirmations, the forms."""
    note = {"confirmed": "Your confirmation was recorded."}.get(done or "")
    return _tx_page(request, user, safe_tx_hash.lower(), message=note)


def _confirmed(safe_tx_hash: str) -> Response:
    return RedirectResponse(f"/console/signer/tx/{safe_tx_hash}?done=confirmed", status_code=303)


@router.post("/tx/{safe_tx_hash}/confirm")
def confirm_pasted(request: Request, user: SignerUser, safe_tx_hash: HashPath,
                   signature: Annotated[str, Form(max_length=12_000)]) -> Response:
    """Add the pasted owner signature(s) (0x hex), validated as the Safe API validates them."""
    h = safe_tx_hash.lower()
    try:
        raw = _signature({"signature": signature.strip()})
        get_safetx(request).confirm(h, raw, actor=user.actor)
    except (BadInputError, SafeTxError) as exc:
        return _tx_page(request, user, h, error=str(exc), status=400)
    return _confirmed(h)


@router.post("/tx/{safe_tx_hash}/sign")
async def confirm_with_hsm(request: Request, user: SignerUser, safe_tx_hash: HashPath) -> Response:
    """Sign the safeTxHash with the HSM's ``safe-signer`` key and confirm, when that key is the
    owner address this user is linked to."""
    h = safe_tx_hash.lower()

    def sign() -> Any:
        if user.owner_address is None or keyring_of(request).eth_address(HSM_KEY) != \
                user.owner_address:
            raise HTTPException(403, "your login is not linked to the HSM signing key's owner")
        sig = keyring_of(request).sign_eip712_hash(HSM_KEY, bytes.fromhex(h[2:]))
        get_safetx(request).confirm(h, sig, actor=user.actor)

    try:
        await run_in_threadpool(sign)
    except SafeTxError as exc:
        return await run_in_threadpool(_tx_page, request, user, h, None, str(exc), 400)
    return _confirmed(h)
