"""OAuth2 client credentials (``POST /oauth/token``) and JWT bearer tokens beside API keys.

Tokens: the RFC 6749 shapes of answers and errors, claims, scopes (subset, 403), one identical
401 for every bad token (expired, tampered, wrong audience/issuer, ``alg: none``, RS/HS confusion,
unknown or retired ``kid``, revoked OAuth client), key rotation and isolation between clients.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import keeper.auth as auth
from keeper.clients import CLIENT_READ, CUSTOMER_TRADE
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "missing or invalid credentials"}}


def _session(world: World) -> Session:
    return Session(make_engine(world.url))


def _oauth_client(world: World, client_id: str, scopes: tuple[str, ...] = (CLIENT_READ,)
                  ) -> auth.IssuedOAuthClient:
    with _session(world) as s:
        return auth.create_oauth_client(s, client_id, scopes, label="test")


def _basic(oc: auth.IssuedOAuthClient) -> dict[str, str]:
    raw = f"{quote(oc.oauth_client_id)}:{quote(oc.client_secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _token(api: TestClient, oc: auth.IssuedOAuthClient, **form: str) -> dict:
    r = api.post("/oauth/token", data={"grant_type": "client_credentials", **form},
                 headers=_basic(oc))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _key(world: World, kid: str) -> bytes:
    path = auth.key_path(world.settings().secrets_dir, kid)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    return bytes.fromhex(path.read_text().strip())


def test_client_credentials_with_basic_auth_give_a_working_jwt(api: TestClient,
                                                              world: World) -> None:
    oc = _oauth_client(world, world.alice.client.id, (CLIENT_READ, CUSTOMER_TRADE))
    body = _token(api, oc)
    assert body["token_type"] == "Bearer" and body["expires_in"] == world.settings().auth_token_ttl_s
    assert body["scope"] == f"{CLIENT_READ} {CUSTOMER_TRADE}"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256" and header["typ"] == "at+jwt"
    claims = jwt.decode(body["access_token"], _key(world, header["kid"]), algorithms=["HS256"],
                        audience=auth.AUDIENCE, issuer=auth.ISSUER)
    assert claims["sub"] == world.alice.client.id and claims["client_id"] == oc.oauth_client_id
    assert claims["kid"] == header["kid"] and claims["exp"] - claims["iat"] == body["expires_in"]
    assert len(claims["jti"]) >= 16
    r = api.get("/v1/me", headers=_bearer(body["access_token"]))
    assert r.status_code == 200
    assert r.json()["id"] == world.alice.client.id
    assert r.json()["key"] == {"key_id": oc.oauth_client_id,
                               "scopes": sorted([CLIENT_READ, CUSTOMER_TRADE])}
    assert oc.client_secret not in json.dumps(r.json())


def test_form_credentials_and_a_scope_subset(api: TestClient, world: World) -> None:
    oc = _oauth_client(world, world.bob.client.id, (CLIENT_READ, CUSTOMER_TRADE))
    r = api.post("/oauth/token", data={"grant_type": "client_credentials", "scope": CLIENT_READ,
                                       "client_id": oc.oauth_client_id,
                                       "client_secret": oc.client_secret})
    assert r.status_code == 200 and r.json()["scope"] == CLIENT_READ
    me = api.get("/v1/me", headers=_bearer(r.json()["access_token"])).json()
    assert me["id"] == world.bob.client.id and me["key"]["scopes"] == [CLIENT_READ]


def test_a_token_without_the_route_scope_is_403(api: TestClient, world: World) -> None:
    oc = _oauth_client(world, world.alice.client.id, (CLIENT_READ, CUSTOMER_TRADE))
    token = _token(api, oc, scope=CUSTOMER_TRADE)["access_token"]
    r = api.get("/v1/balances", headers=_bearer(token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("form", "basic", "status", "error"), [
    ({"grant_type": "password"}, True, 400, "unsupported_grant_type"),
    ({}, True, 400, "invalid_request"),
    ({"grant_type": "client_credentials", "scope": "ops"}, True, 400, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": "customer:read admin"}, True, 400,
     "invalid_scope"),
    ({"grant_type": "client_credentials", "client_id": "x"}, True, 400, "invalid_request"),
    ({"grant_type": "client_credentials"}, False, 401, "invalid_client"),
])
def test_rfc6749_errors(api: TestClient, world: World, form: dict, basic: bool, status: int,
                        error: str) -> None:
    oc = _oauth_client(world, world.alice.client.id)
    r = api.post("/oauth/token", data=form, headers=_basic(oc) if basic else {})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "error_description"} and r.json()["error"] == error
    assert r.headers["cache-control"] == "no-store"


def test_every_client_authentication_failure_is_the_same_invalid_client(
        api: TestClient, world: World) -> None:
    oc = _oauth_client(world, world.alice.client.id)
    revoked = _oauth_client(world, world.alice.client.id)
    with _session(world) as s:
        assert auth.revoke_oauth_client(s, revoked.oauth_client_id) is True
    wrong = auth.IssuedOAuthClient(oc.oauth_client_id, oc.client_id, oc.scopes, "x" * 43)
    unknown = auth.IssuedOAuthClient("oc_" + "0" * 16, oc.client_id, oc.scopes, oc.client_secret)
    bodies = set()
    for bad in (wrong, unknown, revoked):
        r = api.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(bad))
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        bodies.add(r.text)
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        r = api.post("/oauth/token", data={"grant_type": "client_credentials"},
                     headers={"Authorization": header})
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_client"
    assert len(bodies) == 1
    r = api.post("/oauth/token", content=b'{"grant_type": "client_credentials"}',
                 headers={**_basic(oc), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def _hs256_by_hand(token: str, key: bytes) -> str:
    """``token`` re-signed as HS256 with ``key`` (PyJWT itself refuses a PEM as HMAC key)."""
    head, body, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    head = base64.urlsafe_b64encode(json.dumps({**header, "alg": "HS256"}).encode()).decode()
    head = head.rstrip("=")
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _bad_tokens(api: TestClient, world: World) -> dict[str, str]:
    """One of each kind of bad token, all about Alice's real OAuth client."""
    oc = _oauth_client(world, world.alice.client.id)
    good = _token(api, oc)["access_token"]
    kid = jwt.get_unverified_header(good)["kid"]
    secret = _key(world, kid)
    claims = jwt.decode(good, secret, algorithms=["HS256"], audience=auth.AUDIENCE)
    hdr = {"kid": kid, "typ": "at+jwt"}

    def signed(key: bytes | str = secret, alg: str = "HS256", headers: dict | None = None,
               **changes: object) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm=alg, headers=headers or hdr)

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    rsa_pub = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    head, body, sig = good.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps(
        {**claims, "sub": world.bob.client.id}).encode()).decode().rstrip("=")
    none = jwt.encode(claims, None, algorithm="none", headers=hdr)
    past = auth.TokenService(world.settings().secrets_dir, 60, clock=lambda: time.time() - 3600)
    revoked_oc = _oauth_client(world, world.alice.client.id)
    with _session(world) as s:
        expired = past.issue(s, oc.oauth_client_id, oc.client_secret, None).access_token
        revoked = auth.TokenService(world.settings().secrets_dir, 60).issue(
            s, revoked_oc.oauth_client_id, revoked_oc.client_secret, None).access_token
        auth.revoke_oauth_client(s, revoked_oc.oauth_client_id)
    return {
        "expired": expired,
        "tampered payload (sub=bob)": f"{head}.{forged_body}.{sig}",
        "tampered signature": f"{head}.{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",
        "wrong audience": signed(aud="another-api"),
        "wrong issuer": signed(iss="someone-else"),
        "missing jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, secret,
                                  algorithm="HS256", headers=hdr),
        "alg none": none,
        "alg none, no signature": none.rsplit(".", 1)[0] + ".",
        "RS256 with an attacker key": signed(rsa_pem, "RS256"),
        "HS256 keyed with a public key": _hs256_by_hand(signed(rsa_pem, "RS256"), rsa_pub),
        "wrong secret": signed(b"k" * 32),
        "unknown kid": signed(headers={"kid": "0" * 16, "typ": "at+jwt"}, kid="0" * 16),
        "no kid": signed(headers={"typ": "at+jwt"}),
        "claims kid differs": signed(kid="0" * 16),
        "sub of another client": signed(sub=world.bob.client.id),
        "issued in the future": signed(iat=int(time.time()) + 3600,
                                       exp=int(time.time()) + 7200),
        "revoked oauth client": revoked,
        "garbage": "eyJ.garbage.x",
        "huge": "a" * 10_000,
    }


def test_every_bad_token_is_the_same_401(api: TestClient, world: World) -> None:
    for why, token in _bad_tokens(api, world).items():
        r = api.get("/v1/balances", headers=_bearer(token))
        assert r.status_code == 401, why
        assert r.json() == UNAUTHORIZED, why
        assert r.headers["www-authenticate"] == "Bearer", why


def test_rotation_keeps_old_tokens_until_the_key_is_retired(api: TestClient, world: World) -> None:
    oc = _oauth_client(world, world.alice.client.id)
    old = _token(api, oc)["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    tokens = auth.TokenService(world.settings().secrets_dir, 60)
    with _session(world) as s:
        new_kid = tokens.rotate(s)
    new = _token(api, oc)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid != old_kid
    assert api.get("/v1/me", headers=_bearer(old)).status_code == 200
    with _session(world) as s:
        assert tokens.retire(s, old_kid) is True and tokens.retire(s, old_kid) is False
    assert api.get("/v1/me", headers=_bearer(old)).json() == UNAUTHORIZED
    assert api.get("/v1/me", headers=_bearer(new)).status_code == 200


def test_a_token_never_reads_another_clients_data(api: TestClient, world: World) -> None:
    token = _token(api, _oauth_client(world, world.alice.client.id))["access_token"]
    h = _bearer(token)
    assert api.get(f"/v1/clients/{world.bob.client.id}", headers=h).status_code == 404
    assert api.get(f"/v1/clients/{world.alice.client.id}", headers=h).status_code == 200
    mine = api.get("/v1/balances", headers=h).json()
    by_key = api.get("/v1/balances", headers=world.alice.headers).json()
    assert mine == by_key
    bobs = api.get("/v1/balances", headers=world.bob.headers).json()
    assert mine != bobs


def test_oauth_clients_need_a_real_client_and_known_scopes(world: World) -> None:
    from keeper.clients import InvalidScope, UnknownClient

    with _session(world) as s:
        with pytest.raises(InvalidScope):
            auth.create_oauth_client(s, world.alice.client.id, ["admin"])
        with pytest.raises(InvalidScope):
            auth.create_oauth_client(s, world.alice.client.id, [])
        with pytest.raises(UnknownClient):
            auth.create_oauth_client(s, "no-such-client", [CLIENT_READ])
        with pytest.raises(auth.UnknownOAuthClient):
            auth.revoke_oauth_client(s, "oc_" + "0" * 16)


def test_the_token_endpoint_is_in_openapi(app: FastAPI) -> None:
    spec = app.openapi()
    op = spec["paths"]["/oauth/token"]["post"]
    form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["grant_type"]["enum"] == ["client_credentials"]
    assert {"200", "400", "401"} <= set(op["responses"])
