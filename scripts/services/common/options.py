"""Command-line options the services share: where signed webhooks go and their secret."""

from __future__ import annotations

import argparse
from pathlib import Path

from scripts.services.common.secrets import read_secret


def add_webhook_options(p: argparse.ArgumentParser) -> None:
    """``--webhook URL`` and ``--webhook-secret-file`` (0600 HMAC secret)."""
    p.add_argument("--webhook", help="URL the signed webhooks are POSTed to")
    p.add_argument("--webhook-secret-file", type=Path, help="0600 file: webhook HMAC secret")


def check_webhook_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse ``--webhook`` without ``--webhook-secret-file`` (unsigned webhooks)."""
    if args.webhook and not args.webhook_secret_file:
        p.error("--webhook needs --webhook-secret-file")


def webhook_secret(args: argparse.Namespace) -> bytes | None:
    """The webhook HMAC secret from ``--webhook-secret-file`` (None without one)."""
    return read_secret(args.webhook_secret_file).encode() if args.webhook_secret_file else None
