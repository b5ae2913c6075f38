"""The one builder of the order service (:func:`keeper.flows.from_settings`, used by the API and
the keeper's jobs) gives issuance its own HSM key: withdrawals are sent by ``eth-hot``, the
issuer mints to ``eth-issuance``'s address and that key's sender deposits the minted coins; a
token without the issuance key still withdraws, and mints nothing to the hot key."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keeper.config import Settings
from keeper.deployments import Deployment, deployment_path, write_deployment
from keeper.flows import HOT_KEY, ISSUANCE_KEY, TOKEN_KEYS, from_settings
from keeper.integrations.corebanking import ATLAS_KEY_FILE
from keeper.integrations.issuer import ISSUER_KEY_FILE
from keeper.keys import Keyring
from keeper.keys.hsm import DEFAULT_EC_KEYS, ensure_local_token
from keeper.keys.secrets import write_secret_file

pytestmark = pytest.mark.fork


def built(world: Any, tmp_path: Path, w3: Any, hsm_dir: Path, keys: tuple[str, ...],
          stack: ExitStack) -> Any:
    """The order service from Settings naming a deployed vault and a token of ``keys``."""
    secrets = tmp_path / "secrets"
    write_secret_file(secrets / ATLAS_KEY_FILE, world.atlas.api_key)
    write_secret_file(secrets / ISSUER_KEY_FILE, "issuer-" + uuid.uuid4().hex)
    chain_id = int(w3.eth.chain_id)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"as_of": datetime.now(UTC).isoformat(), "prices": {}}))
    settings = Settings(database_url=world.engine.url.render_as_string(hide_password=False),
                        prices_file=prices, atlas_url=world.atlas.url, issuer_url="http://127.0.0.1:9",
                        secrets_dir=secrets, data_dir=tmp_path / "data", chain_id=chain_id,
                        deployments_dir=tmp_path / "deployments")
    write_deployment(deployment_path(settings.deployments_dir, chain_id),
                     Deployment(chain_id, addresses={"vault": "0x" + "ab" * 20}))
    hsm = ensure_local_token(hsm_dir, ec_keys=keys)
    return from_settings(settings, world.engine, world.ledger, hsm=hsm, w3=w3, resources=stack)


def test_the_issuance_address_is_its_own_key(world: Any, tmp_path: Path, w3: Any,
                                             hot_hsm: Path) -> None:
    ring = Keyring.from_hsm(ensure_local_token(hot_hsm, ec_keys=TOKEN_KEYS),
                            labels=(HOT_KEY, ISSUANCE_KEY))
    with ExitStack() as stack:
        svc = built(world, tmp_path, w3, hot_hsm, TOKEN_KEYS, stack)
        assert svc.sender.sender.address == ring.eth_address(HOT_KEY)
        assert svc.inventory_address == ring.eth_address(ISSUANCE_KEY) != ring.eth_address(HOT_KEY)
        assert svc.sender.issuance.address == svc.inventory_address
    ring.close()


def test_a_token_without_the_issuance_key_mints_to_nobody(world: Any, tmp_path: Path,
                                                         w3: Any) -> None:
    with ExitStack() as stack:
        old_keys = tuple(k for k in DEFAULT_EC_KEYS if k != ISSUANCE_KEY)  # a token made before
        svc = built(world, tmp_path, w3, tmp_path / "old-token", old_keys, stack)
        assert svc.sender is not None and svc.sender.issuance is None
        assert svc.inventory_address is None  # never the hot key's address
