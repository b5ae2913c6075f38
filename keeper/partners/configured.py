"""The platform's partner client and webhook secret as the deployment configures them (the one
place they are built).

Where the partner is: ``settings.partner_url`` (empty or absent: no partner configured) and
``settings.partner_timeout_s``; the platform's API key and the partner's webhook signing secret
are the 0600 files :data:`PARTNER_KEY_FILE` and :data:`PARTNER_WEBHOOK_SECRET_FILE` under
``settings.secrets_dir``; withdrawal destinations the keeper allows are
``settings.partner_whitelist`` (comma-separated).
"""

from __future__ import annotations

from typing import Any

from keeper.keys.secrets import Secret, read_private_file
from keeper.partners.client import WarpClient

PARTNER_NAME = "warp"
PARTNER_KEY_FILE = "partner-api.key"
PARTNER_WEBHOOK_SECRET_FILE = "partner-webhook.secret"  # noqa: S105 - a file name, not a secret


def partner_url(settings: Any) -> str:
    """The configured partner URL ("" when none)."""
    return str(settings.partner_url or "")


def partner_from_settings(settings: Any) -> WarpClient | None:
    """The platform's partner client from ``settings`` (None: not configured)."""
    url = partner_url(settings)
    if not url:
        return None
    key = Secret(read_private_file(settings.secrets_dir / PARTNER_KEY_FILE))
    return WarpClient(url, key, name=PARTNER_NAME,
                      timeout_s=float(settings.partner_timeout_s))


def whitelist(settings: Any) -> list[str]:
    """Withdrawal destinations the keeper lets the partner pay."""
    return list(settings.partner_whitelist)


def webhook_secret(settings: Any) -> bytes | None:
    """The partner's webhook signing secret (None while no partner is configured)."""
    if not partner_url(settings):
        return None
    return read_private_file(settings.secrets_dir / PARTNER_WEBHOOK_SECRET_FILE).encode()
