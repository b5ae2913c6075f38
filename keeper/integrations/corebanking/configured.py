"""The platform's core-banking client as the deployment configures it (the one place it is built).

Where ATLAS is: ``settings.atlas_url`` (empty: no core banking configured) and
``settings.atlas_timeout_s``; the platform's API key is the 0600 file :data:`ATLAS_KEY_FILE`
under ``settings.secrets_dir``, read with :func:`keeper.keys.secrets.read_private_file`.
"""

from __future__ import annotations

from typing import Any

from keeper.integrations.corebanking.client import AtlasClient
from keeper.keys.secrets import Secret, read_private_file

ATLAS_KEY_FILE = "atlas-api.key"


def atlas_from_settings(settings: Any) -> AtlasClient | None:
    """The platform's core-banking client from ``settings`` (None: not configured)."""
    if not settings.atlas_url:
        return None
    key = Secret(read_private_file(settings.secrets_dir / ATLAS_KEY_FILE))
    return AtlasClient(settings.atlas_url, key, timeout_s=settings.atlas_timeout_s)
