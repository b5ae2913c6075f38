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
    """Where the keeper and API find their database, chain, data and deployments folders.

    A value passed explicitly wins; an omitted one comes from the environment
    (``STRONGROOM_DB_URL``, ``STRONGROOM_RPC_URL``, ``STRONGROOM_CONFIRMATIONS``,
    ``STRONGROOM_DEPLOYMENTS_DIR``), else from the local-stack default.
    """

    data_dir: Path = field(default_factory=_data_dir)
    database_url: str = ""
    rpc_url: str = ""
    confirmations: int | None = None
    deployments_dir: Path | None = None  # folder of ``<chain_id>.json`` deployment records

    def __post_init__(self) -> None:
        env = os.environ.get
        if not self.database_url:
            default_db = f"sqlite:///{self.data_dir / 'strongroom.db'}"
            object.__setattr__(self, "database_url", env("STRONGROOM_DB_URL") or default_db)
        if not self.rpc_url:
            object.__setattr__(self, "rpc_url", env("STRONGROOM_RPC_URL", "http://127.0.0.1:18546"))
        if self.confirmations is None:
            object.__setattr__(self, "confirmations", int(env("STRONGROOM_CONFIRMATIONS", "12")))
        if self.deployments_dir is None:
            folder = env("STRONGROOM_DEPLOYMENTS_DIR") or self.data_dir / "deployments"
            object.__setattr__(self, "deployments_dir", Path(folder))

    def redacted_database_url(self) -> str:
        """The database URL with any password replaced, safe to print or log."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


def load_settings() -> Settings:
    """Settings from the environment (with local-stack defaults)."""
    return Settings()
