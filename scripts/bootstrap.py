"""Last set-up step: the project's data folder, local HSM token and database schemas.

Idempotent: each step checks what exists and only creates what is missing. ``make run`` calls
:func:`prepare` for its per-run database too. Run as ``python -m scripts.bootstrap``.
"""

from __future__ import annotations

import sys

from keeper.config import Settings, load_settings
from keeper.keys.hsm import HsmConfig, ensure_local_token
from keeper.schema import upgrade_all


def prepare(settings: Settings) -> HsmConfig:
    """Data and deployments folders, the local HSM token (with the flows' issuance key), and
    every domain's schema."""
    from keeper.flows.wiring import TOKEN_KEYS

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.deployments_dir.mkdir(parents=True, exist_ok=True)
    hsm = ensure_local_token(settings.data_dir, ec_keys=TOKEN_KEYS)
    upgrade_all(settings.database_url)
    return hsm


def main() -> int:
    """Prepare what the local stack needs under the data folder."""
    prepare(load_settings())
    return 0


if __name__ == "__main__":
    sys.exit(main())
