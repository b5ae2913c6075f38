"""JWT access tokens (RFC 9068 profile) for the OAuth2 client-credentials grant (RFC 6749 4.4).

Algorithm: **HS256 with a 256-bit random secret**. The API is both the issuer and the only
verifier, so nothing needs a public key; a symmetric key never leaves the service, verifying costs
one HMAC (cheaper per request than ECDSA) and only ``HS256`` is accepted on verification, so
``alg: none`` and RS/HS confusion (a public key used as an HMAC secret) have nothing to work with.
Were third parties ever to verify our tokens, ES256 with a published JWKS would be the switch.

Signing keys: each has a ``kid`` (a row in ``auth_signing_keys``) and its secret in the 0600 file
``<secrets_dir>/auth-jwt-<kid>.key`` (created on first use or by ``python -m keeper.auth
rotate-key``). New tokens are signed with the newest unretired key; any unretired key verifies, so
a rotation never cuts off tokens in flight; retiring a key (``retire-key``) rejects its tokens at
once. Every API process sharing the database and the secrets folder reads the same keys.

Claims: ``iss``, ``aud``, ``sub`` (the Strongroom client id), ``client_id`` (the OAuth client),
``exp``, ``iat``, ``jti``, ``scope`` (space-separated), ``kid`` (also in the header). On
verification the OAuth client must still be active and belong to ``sub``; the scopes are those of
the token still granted to the client. Every failure gives ``None``, whatever the cause.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keeper.auth.clients import active_oauth_client, authenticate_client
from keeper.auth.models import SigningKeyRow
from keeper.clients import Principal, get_client
from keeper.keys.secrets import read_private_file, write_secret_file

log = logging.getLogger(__name__)
ISSUER = "strongroom"
AUDIENCE = "strongroom-api"
ALGORITHM = "HS256"
JWT_TYP = "at+jwt"  # RFC 9068 header typ (not a secret)
MAX_TOKEN_LEN = 4096
_KID = re.compile(r"[0-9a-f]{16}")
_REQUIRED = ["iss", "aud", "sub", "exp", "iat", "jti", "scope", "client_id", "kid"]


class OAuthError(Exception):
    """An RFC 6749 5.2 error: ``error`` code, human ``description`` and HTTP ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An issued token and what it grants (RFC 6749 5.1)."""

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


def key_path(secrets_dir: Path, kid: str) -> Path:
    """Where the secret of signing key ``kid`` lives."""
    return secrets_dir / f"auth-jwt-{kid}.key"


class TokenService:
    """Issues and verifies access tokens with the signing keys of one database + secrets folder.

    ``clock`` (seconds since the epoch) is for tests that need a token from the past.
    """

    def __init__(self, secrets_dir: Path, ttl_s: int, clock: object = time.time) -> None:
        self.secrets_dir = Path(secrets_dir)
        self.ttl_s = int(ttl_s)
        self.clock = clock
        self._keys: dict[str, bytes] = {}  # kid -> secret, read once per process
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ keys
    def rotate(self, session: Session) -> str:
        """Create a new signing key (file first, then its row) and return its ``kid``."""
        kid = secrets.token_hex(8)
        write_secret_file(key_path(self.secrets_dir, kid), nbytes=32)
        session.add(SigningKeyRow(kid=kid, created_at=datetime.now(UTC)))
        session.commit()
        return kid

    def retire(self, session: Session, kid: str) -> bool:
        """Stop signing and accepting tokens of ``kid``; True if retired now. ``LookupError`` if
        unknown."""
        # the write comes first: a read snapshot taken before it could not be upgraded to a
        # write on SQLite once another connection committed (immediate "database is locked")
        done = session.execute(update(SigningKeyRow).where(
            SigningKeyRow.kid == kid, SigningKeyRow.retired_at.is_(None),
        ).values(retired_at=datetime.now(UTC))).rowcount > 0
        session.commit()
        if not done and session.get(SigningKeyRow, kid) is None:
            raise LookupError(f"no signing key {kid!r}")
        return done

    def _secret(self, kid: str) -> bytes:
        with self._lock:
            if kid not in self._keys:
                self._keys[kid] = bytes.fromhex(read_private_file(key_path(self.secrets_dir, kid)))
            return self._keys[kid]

    def _current_kid(self, session: Session) -> str:
        kid = session.scalar(select(SigningKeyRow.kid).where(SigningKeyRow.retired_at.is_(None))
                             .order_by(SigningKeyRow.created_at.desc()).limit(1))
        if kid is not None:
            return kid
        session.rollback()  # the key's insert starts a fresh transaction (see retire)
        return self.rotate(session)

    # ------------------------------------------------------------------ grant
    def issue(self, session: Session, oauth_client_id: str | None, secret: str | None,
              scope: str | None) -> AccessToken:
        """The client-credentials grant: authenticate the client, check ``scope`` (a subset of
        its grant; all of it when absent) and sign a token. Raises :class:`OAuthError`."""
        client = authenticate_client(session, oauth_client_id, secret)
        if client is None:
            raise OAuthError("invalid_client", "client authentication failed", 401)
        granted = set(client.scopes)
        wanted = set(scope.split(" ")) - {""} if scope is not None else granted
        if not wanted or not wanted <= granted:
            raise OAuthError("invalid_scope", "the requested scope is not granted to this client")
        session.rollback()  # end the read snapshot before a possible key creation (SQLite WAL)
        kid = self._current_kid(session)
        now = int(self.clock())  # type: ignore[operator]
        scopes = tuple(sorted(wanted))
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": client.client_id,
                  "client_id": client.oauth_client_id, "iat": now, "exp": now + self.ttl_s,
                  "jti": secrets.token_urlsafe(16), "scope": " ".join(scopes), "kid": kid}
        token = jwt.encode(claims, self._secret(kid), algorithm=ALGORITHM,
                           headers={"kid": kid, "typ": JWT_TYP})
        return AccessToken(token, self.ttl_s, scopes)

    # ------------------------------------------------------------------ verification
    def verify(self, session: Session, token: str | None) -> Principal | None:
        """The principal an access token stands for, or ``None`` for any kind of failure."""
        if not token or len(token) > MAX_TOKEN_LEN:
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not _KID.fullmatch(kid):
                return None
            row = session.get(SigningKeyRow, kid)
            if row is None or row.retired_at is not None:
                return None
            claims = jwt.decode(
                token, self._secret(kid), algorithms=[ALGORITHM], audience=AUDIENCE,
                issuer=ISSUER, options={"require": _REQUIRED})
        except (jwt.PyJWTError, PermissionError, ValueError) as exc:
            if isinstance(exc, PermissionError):  # our own key file is unreadable: say so
                log.error("JWT signing key %s unreadable: %s", kid, exc)
            return None
        if claims.get("kid") != kid or not isinstance(claims.get("scope"), str):
            return None
        if int(claims["iat"]) > int(self.clock()) + 60:  # type: ignore[operator]
            return None  # issued in the future: not ours
        oauth = active_oauth_client(session, str(claims["client_id"]))
        if oauth is None or oauth.client_id != claims["sub"]:
            return None
        client = get_client(session, oauth.client_id)
        if client is None:
            return None
        scopes = frozenset(claims["scope"].split()) & frozenset(oauth.scopes)
        return Principal(client, oauth.oauth_client_id, scopes)
