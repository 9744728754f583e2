"""Request and response signing of the merchant calls (dossier §8.3), and the client-secret encryption.

Our reading of the V2 signature, where the text is ambiguous:
- `canonicalRequest = accessKey + nonce + timestamp + lower(hex(HMAC_SHA256(RequestPayload)))`: the inner HMAC
  names no key; we key it with the access key too (an unkeyed HMAC does not exist, and the access key is the
  only secret both sides share). RequestPayload is the exact UTF-8 body bytes sent.
- `signature = hex(HMAC_SHA256(accessKey, canonicalRequest))`, lower-case hex.
- `timestamp` is in milliseconds (the current page says ms) and must be within 60 s of the receiver's clock;
  `nonce` is a random value that the receiver caches and never accepts twice.
- Responses ("signed by the merchant and verified by KooGallery", §8.2.1) are signed the same way over the
  response body, with the same x-sign / x-timestamp / x-nonce headers ([I]: the V2 page gives no other form).
- clientSecret: RSA-OAEP with SHA-256 (MGF1-SHA-256) under the merchant's public key of at least 3072 bits,
  base64 encoded (§8.1 app sync).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.platform.errors import InvalidInput

MIN_RSA_BITS = 3072
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _hmac(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def signature(access_key: str, nonce: str, timestamp: str, payload: bytes) -> str:
    canonical = access_key + nonce + timestamp + _hmac(access_key, payload).lower()
    return _hmac(access_key, canonical.encode())


def sign_headers(access_key: str, payload: bytes, now_ms: int | None = None) -> dict[str, str]:
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    nonce = secrets.token_hex(16)
    return {"x-sign": signature(access_key, nonce, ts, payload), "x-timestamp": ts, "x-nonce": nonce}


class BadSignature(ValueError):
    """Unsigned, forged, stale or replayed."""


def verify(
    access_key: str,
    headers: dict[str, str],
    payload: bytes,
    *,
    window_s: int = 60,
    now_ms: int | None = None,
    seen: set[str] | None = None,
) -> None:
    """Check a signed message; `seen` is the nonce cache (the nonce is added when the message is accepted)."""
    sign, ts, nonce = headers.get("x-sign"), headers.get("x-timestamp"), headers.get("x-nonce")
    if not sign or not ts or not nonce:
        raise BadSignature("unsigned: x-sign, x-timestamp and x-nonce are required")
    if (
        not ts.isdigit()
        or abs((now_ms if now_ms is not None else time.time() * 1000) - int(ts)) > window_s * 1000
    ):
        raise BadSignature("stale: the timestamp is outside the 60-second window")
    if not hmac.compare_digest(sign, signature(access_key, nonce, ts, payload)):
        raise BadSignature("forged: the signature does not match")
    if seen is not None:
        if nonce in seen:
            raise BadSignature("replayed: the nonce was used before")
        seen.add(nonce)


def check_public_key(pem: str) -> None:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInput("not a PEM public key", field="public_key_pem") from exc
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise InvalidInput(
            f"an RSA public key of at least {MIN_RSA_BITS} bits is required (§8.1)", field="public_key_pem"
        )


def encrypt_secret(public_key_pem: str, secret: str) -> str:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return base64.b64encode(key.encrypt(secret.encode(), OAEP)).decode()


def decrypt_secret(private_key_pem: str, ciphertext: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.decrypt(base64.b64decode(ciphertext), OAEP).decode()
