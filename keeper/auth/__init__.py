"""OAuth2 client credentials, JWT access tokens and shared rate limits (own tables ``auth_*``).

Public surface: OAuth clients (:func:`create_oauth_client`, :func:`revoke_oauth_client`,
:func:`list_oauth_clients`), the token service (:class:`TokenService`: grant, verify, key
rotation), the rate limiter (:class:`RateLimiter`) and :func:`upgrade` (Alembic, version table
``auth_alembic_version``). CLI: ``python -m keeper.auth``.
"""

from keeper.auth.clients import (
    IssuedOAuthClient,
    OAuthClient,
    UnknownOAuthClient,
    authenticate_client,
    create_oauth_client,
    list_oauth_clients,
    revoke_oauth_client,
)
from keeper.auth.migrate import downgrade, upgrade
from keeper.auth.ratelimit import RateDecision, RateLimiter
from keeper.auth.tokens import AUDIENCE, ISSUER, AccessToken, OAuthError, TokenService, key_path

__all__ = [
    "AUDIENCE", "ISSUER", "AccessToken", "IssuedOAuthClient", "OAuthClient", "OAuthError",
    "RateDecision", "RateLimiter", "TokenService", "UnknownOAuthClient", "authenticate_client",
    "create_oauth_client", "downgrade", "key_path", "list_oauth_clients", "revoke_oauth_client",
    "upgrade",
]
