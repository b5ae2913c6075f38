"""Last set-up step: the project's data folder, local HSM token and database schema.

Idempotent: each step checks what exists and only creates what is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keeper.clients import upgrade as upgrade_clients  # noqa: E402
from keeper.config import load_settings  # noqa: E402
from keeper.keys.hsm import ensure_local_token  # noqa: E402
from keeper.keys.migrate import upgrade as upgrade_keys  # noqa: E402
from keeper.ledger import upgrade  # noqa: E402


def main() -> int:
    """Create what the local stack needs under the data folder."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.deployments_dir.mkdir(parents=True, exist_ok=True)
    ensure_local_token(settings.data_dir)
    upgrade(settings.database_url)
    upgrade_clients(settings.database_url)
    upgrade_keys(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
