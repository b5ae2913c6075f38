"""``POST /oauth/token``: the OAuth2 client-credentials grant (RFC 6749 4.4) issuing JWT access
tokens (:class:`keeper.auth.TokenService`).

The client authenticates with HTTP Basic (``client_id:client_secret``, each form-urlencoded, RFC
6749 2.3.1) or with ``client_id`` and ``client_secret`` in the form body, never both. The body is
``application/x-www-form-urlencoded``: ``grant_type=client_credentials`` and optionally ``scope``
(space-separated, a subset of the client's grant). Answers and errors have RFC 6749's shapes
(5.1 and 5.2), not the API's error body, so OAuth libraries understand them; every answer is
``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import SessionDep, TokenServiceDep
from keeper.auth import OAuthError

router = APIRouter(tags=["oauth"])
MAX_BODY = 4096
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BEARER = "Bearer"  # RFC 6750 token type (not a secret)


class TokenOut(BaseModel):
    """RFC 6749 5.1 access token response."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 5.2 error response."""

    error: str
    error_description: str


_FORM_SCHEMA: dict[str, Any] = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {"type": "string", "description": "space-separated subset of the grant"},
            "client_id": {"type": "string", "description": "when not sent with HTTP Basic"},
            "client_secret": {"type": "string", "description": "when not sent with HTTP Basic"},
        },
    }}},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorOut, "description": "invalid_request, invalid_scope, "
          "unsupported_grant_type"},
    401: {"model": OAuthErrorOut, "description": "invalid_client"},
}


def _error(exc: OAuthError, basic: bool) -> JSONResponse:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="strongroom"' if basic else "Bearer"
    return JSONResponse(OAuthErrorOut(error=exc.error, error_description=exc.description)
                        .model_dump(), status_code=exc.status, headers=headers)


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401) from exc
    if not sep:
        raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401)
    return unquote_plus(user), unquote_plus(password)


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise OAuthError("invalid_request", "request body too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "malformed form body") from exc
    if any(len(v) > 1 for v in fields.values()):  # RFC 6749 3.2: no repeated parameters
        raise OAuthError("invalid_request", "a parameter is repeated")
    return {k: v[0] for k, v in fields.items()}


async def form_body(request: Request) -> dict[str, str] | OAuthError:
    """The form, or the error reading it (answered by the route in RFC 6749's shape)."""
    try:
        return await _form(request)
    except OAuthError as exc:
        return exc


@router.post(
    "/oauth/token", response_model=TokenOut, responses=_ERRORS, summary="Get an access token",
    openapi_extra={"requestBody": _FORM_SCHEMA},
)
def token(request: Request, session: SessionDep, tokens: TokenServiceDep,
          form: Annotated[dict[str, str] | OAuthError, Depends(form_body)]) -> JSONResponse:
    """Client-credentials grant: an access token for the authenticated OAuth client."""
    auth = request.headers.get("authorization", "")
    basic = auth.lower().startswith("basic ")
    try:
        if isinstance(form, OAuthError):
            raise form
        if form.get("grant_type") != "client_credentials":
            if "grant_type" not in form:
                raise OAuthError("invalid_request", "grant_type is required")
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        creds = _basic(auth)
        if creds is not None and ("client_id" in form or "client_secret" in form):
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        client_id, secret = creds or (form.get("client_id"), form.get("client_secret"))
        if not client_id or not secret:
            raise OAuthError("invalid_client", "client authentication failed", 401)
        issued = tokens.issue(session, client_id, secret, form.get("scope"))
    except OAuthError as exc:
        return _error(exc, basic)
    return JSONResponse(TokenOut(access_token=issued.access_token, token_type=BEARER,
                                 expires_in=issued.expires_in, scope=" ".join(issued.scopes))
                        .model_dump(), headers=NO_STORE)
