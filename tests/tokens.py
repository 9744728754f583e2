"""Tokens for unit and service tests: signed with a test RSA key and verified against its static JWKS.

Integration and e2e tests never use this: they get real tokens from the running Keycloak (tests/identity.py).
"""

from __future__ import annotations

import json
import time
import uuid
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.platform.auth import StaticKeys, TokenVerifier

ISSUER = "https://id.test/realms/koogallery"
KID = "test-key-1"


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(kid: str = KID) -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(_key().public_key()))
    return {"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]}


def verifier(audience: str) -> TokenVerifier:
    return TokenVerifier(StaticKeys(jwks()), issuer=ISSUER, audience=audience)


def token(
    sub: str,
    *roles: str,
    audience: str | list[str] = "koo-orders",
    expires_in: int = 300,
    issuer: str = ISSUER,
    kid: str = KID,
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "sub": sub,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "azp": "koo-cli",
        "jti": uuid.uuid4().hex,
        "realm_access": {"roles": list(roles)},
        "preferred_username": sub,
        "email": f"{sub}@example.com",
        "email_verified": True,
        **claims,
    }
    return jwt.encode(body, _key(), algorithm=algorithm, headers={"kid": kid})


def bearer(sub: str, *roles: str, audience: str | list[str] = "koo-orders", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, *roles, audience=audience, **claims)}"}


ALL_AUDIENCES = ["koo-orders", "koo-supervision", "koo-notification", "koo-partner"]
