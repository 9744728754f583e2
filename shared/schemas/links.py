"""Private links (为客户提供私有链接, dossier §7.5): a signed, expiring token a provider gives a customer.

The partner service signs with its Ed25519 private key; the orders service verifies with the public key when
an order is placed through the link, and records the provider binding on the order. No call between the two
services is needed, and a token cannot be forged, altered or used after it expires.

Format: `pl1.<base64url(JSON claims)>.<base64url(signature over "pl1." + claims part)>`.
"""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.envelope import Money

PREFIX = "pl1"


class LinkError(ValueError):
    """The token is malformed, forged, altered or expired; the message says which."""


class LinkClaims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    link_id: str
    provider_id: str
    product_id: str | None = None  # None: any product
    customer_account_id: str | None = None  # None: any customer
    offer_id: str | None = None  # an exclusive offer that comes with the link
    discount: Money | None = Field(default=None, gt=Decimal(0), lt=Decimal(1))  # 0.1 = 10 % off
    expires_at: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: LinkClaims, private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("private links are signed with an Ed25519 key")
    body = f"{PREFIX}.{_b64(claims.model_dump_json().encode())}"
    return f"{body}.{_b64(key.sign(body.encode()))}"


def verify(token: str, public_key_pem: str, now: float | None = None) -> LinkClaims:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise LinkError("not a private-link token")
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError("private links are verified with an Ed25519 key")
    try:
        key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode())
    except (InvalidSignature, ValueError) as exc:
        raise LinkError("the private link's signature is not valid") from exc
    claims = LinkClaims.model_validate(json.loads(_unb64(parts[1])))
    if claims.expires_at < (now if now is not None else time.time()):
        raise LinkError("the private link has expired")
    return claims


def new_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) for local stacks and tests; production keys come from the secret store."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
