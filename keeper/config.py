"""Runtime settings for keeper and API, read once from the environment with embedded defaults.

Defaults give the local stack: SQLite under ``.data/``, the forked local mainnet, SoftHSM under
``.data/hsm``. Secrets (HSM PINs, API keys) are never settings values that get printed: they are
read from files or the environment by the component that needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    return Path(os.environ.get("STRONGROOM_DATA", ROOT / ".data"))


@dataclass(frozen=True)
class Settings:
    """Where the keeper and API find their database, chain and data folder."""

    data_dir: Path = field(default_factory=_data_dir)
    database_url: str = ""
    rpc_url: str = ""
    confirmations: int = 12

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("STRONGROOM_DB_URL") or f"sqlite:///{self.data_dir / 'strongroom.db'}"
            object.__setattr__(self, "database_url", url)
        if not self.rpc_url:
            object.__setattr__(
                self, "rpc_url", os.environ.get("STRONGROOM_RPC_URL", "http://127.0.0.1:18546")
            )
        conf = os.environ.get("STRONGROOM_CONFIRMATIONS")
        if conf is not None:
            object.__setattr__(self, "confirmations", int(conf))

    @property
    def deployments_dir(self) -> Path:
        """Folder of ``<chain_id>.json`` files naming the deployed system contracts."""
        return Path(os.environ.get("STRONGROOM_DEPLOYMENTS_DIR", self.data_dir / "deployments"))

    def redacted_database_url(self) -> str:
        """The database URL with any password replaced, safe to print or log."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


def load_settings() -> Settings:
    """Settings from the environment (with local-stack defaults)."""
    return Settings()
