"""The platform's issuer client and webhook secret as the deployment configures them (the one
place they are built).

Where the issuer is: ``settings.issuer_url`` (empty: no issuer configured) and
``settings.issuer_timeout_s``; the platform's API key and the issuer's webhook signing secret
are the 0600 files :data:`ISSUER_KEY_FILE` and :data:`ISSUER_WEBHOOK_SECRET_FILE` under
``settings.secrets_dir``.
"""

from __future__ import annotations

from typing import Any

from keeper.integrations.issuer.client import IssuerClient
from keeper.keys.secrets import Secret, read_private_file

ISSUER_KEY_FILE = "issuer-api.key"
ISSUER_WEBHOOK_SECRET_FILE = "issuer-webhook.secret"  # noqa: S105 - a file name, not a secret


def issuer_from_settings(settings: Any) -> IssuerClient | None:
    """The platform's issuer client from ``settings`` (None: not configured)."""
    if not settings.issuer_url:
        return None
    key = Secret(read_private_file(settings.secrets_dir / ISSUER_KEY_FILE))
    return IssuerClient(settings.issuer_url, key, timeout_s=settings.issuer_timeout_s)


def webhook_secret(settings: Any) -> bytes | None:
    """The issuer's webhook signing secret (None while the issuer is not configured)."""
    if not settings.issuer_url:
        return None
    return read_private_file(settings.secrets_dir / ISSUER_WEBHOOK_SECRET_FILE).encode()
