"""Building the order service from Settings, and the two HSM keys it sends with.

* ``eth-hot`` (:data:`HOT_KEY`) holds the vault's CUSTOMER role: the keeper's withdrawals.
* ``eth-issuance`` (:data:`ISSUANCE_KEY`) is the issuance address: the issuer mints the bank's
  inventory to it, and it holds no vault role; all it ever sends is the vault's approval and
  the deposit of minted coins under the inventory's reference (so the follower credits them).

Least privilege: a leak or misuse of the issuance key cannot withdraw from the vault, and the
key that can withdraw never holds freshly minted coins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, Any

from keeper.flows.service import OrderService
from keeper.keys.hsm.config import DEFAULT_EC_KEYS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from keeper.chain import VaultWithdrawals
    from keeper.keys.hsm import HsmConfig
    from keeper.ledger import Ledger

log = logging.getLogger(__name__)
HOT_KEY = "eth-hot"  # the HSM key holding the vault's CUSTOMER role (withdrawals)
ISSUANCE_KEY = "eth-issuance"  # the issuance address: receives mints, only deposits them
#: the secp256k1 keys the local token needs (set-up's keys, the issuance key among them)
TOKEN_KEYS: tuple[str, ...] = DEFAULT_EC_KEYS
assert ISSUANCE_KEY in TOKEN_KEYS  # noqa: S101 - the set-up creates the key the flows sign with


def from_settings(settings: Any, engine: Engine | None = None, ledger: Ledger | None = None, *,
                  hsm: HsmConfig | Callable[[], HsmConfig | None] | None = None, w3: Any = None,
                  resources: ExitStack | None = None) -> OrderService | None:
    """The one builder of the order service from Settings (the API and the keeper's jobs).

    Core banking and the issuer (:func:`keeper.integrations.corebanking.atlas_from_settings`,
    :func:`keeper.integrations.issuer.issuer_from_settings`), compliance
    (:func:`keeper.compliance.from_settings`) and prices from the settings; with ``hsm`` (or a
    function returning it, called only then) and a deployment record for ``settings.chain_id``,
    on-chain withdrawals through a :class:`keeper.chain.VaultWithdrawals` over a
    :class:`keeper.chain.TxSender` signing with the HSM key ``eth-hot``, and the issuance
    address (where the issuer mints the inventory) of the key ``eth-issuance``, whose sender
    deposits the minted coins. ``None`` when core banking or the issuer is not configured.
    What it opens (clients, keyring, ledger if not given) is closed by ``resources`` when
    given."""
    if not settings.atlas_url or not settings.issuer_url:
        return None
    from keeper import compliance
    from keeper.integrations.corebanking import atlas_from_settings
    from keeper.integrations.issuer import issuer_from_settings
    from keeper.ledger import Ledger
    from keeper.prices import StaticPrices

    stack = resources if resources is not None else ExitStack()
    if ledger is None:
        ledger = Ledger(settings.database_url)
        stack.callback(ledger.close)
    engine = engine if engine is not None else ledger.engine
    bank = stack.enter_context(closing(atlas_from_settings(settings)))
    issuer = stack.enter_context(closing(issuer_from_settings(settings)))
    if callable(hsm):  # looked up only when the service is built at all
        hsm = hsm()
    payer = vault_withdrawals(settings, engine, ledger, hsm, w3, stack) if hsm else None
    issuance = None if payer is None or payer.issuance is None else payer.issuance.address
    return OrderService(engine, ledger, compliance=compliance.from_settings(engine, settings),
                        bank=bank, issuer=issuer, prices=StaticPrices.from_settings(settings),
                        settings=settings, sender=payer, inventory_address=issuance)


def vault_withdrawals(settings: Any, engine: Engine, ledger: Ledger, hsm: HsmConfig, w3: Any,
                      stack: ExitStack) -> VaultWithdrawals | None:
    """Withdrawals from the deployed vault, sent from the HSM key ``eth-hot``, with the
    ``eth-issuance`` key's sender for deposits of minted coins (none when the token has no
    such key: buys beyond the inventory then escalate). None when nothing is deployed on
    ``settings.chain_id`` or the chain does not answer: withdrawals are then refused
    ``unavailable``."""
    from keeper.chain import SenderConfig, TxSender, VaultWithdrawals, web3_from_settings
    from keeper.deployments import read_deployment
    from keeper.keys import Keyring

    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    if deployment is None or deployment.vault is None:
        return None
    w3 = w3 or web3_from_settings(settings)  # rpc_url, then the fallbacks
    config = SenderConfig.from_settings(settings)
    keyring = Keyring.from_hsm(hsm, labels=(HOT_KEY,))
    stack.callback(keyring.close)
    try:
        minting: Keyring | None = Keyring.from_hsm(hsm, labels=(ISSUANCE_KEY,))
    except LookupError:  # a token set up before the issuance key existed
        log.warning("HSM key %r missing: minted coins are not deposited by the keeper "
                    "(run the set-up to create it)", ISSUANCE_KEY)
        minting = None
    else:
        stack.callback(minting.close)
    try:
        sender = TxSender(engine, w3, keyring, HOT_KEY, config, on_alert=ledger.raise_alert)
        issuance = None if minting is None else TxSender(engine, w3, minting, ISSUANCE_KEY,
                                                         config, on_alert=ledger.raise_alert)
    except OSError as exc:  # the node is down: no withdrawals until it answers
        log.warning("chain at %s unavailable: withdrawals disabled (%s)", settings.rpc_url,
                    type(exc).__name__)
        return None
    return VaultWithdrawals(sender, deployment.vault, issuance=issuance)
