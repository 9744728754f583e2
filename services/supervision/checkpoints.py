"""Signed checkpoints of the timeline (Ed25519): what makes the hash chain more than tamper-evident.

The chain alone (service_order/timeline.py) shows an edit of one entry, but not a chain rewritten whole (every
hash recomputed) nor a tail cut off. A checkpoint signs the chain's head hash and its entry count with the
service's private key, under a key id: every `checkpoint_every` entries one is put on the timeline (an entry
of its own, action `checkpoint`), and every export ends with one covering its last entry. Whoever verifies an
export (verify.py) checks each checkpoint's signature against public keys they trust (`GET /timeline-keys`,
like a JWKS, or a file of them) and that the chain up to each matches; then a rewritten chain fails (its heads
differ from the signed ones, and a new signature needs the private key), and so does a cut tail (the export's
final checkpoint covers the last entry).

Keys: the current private key signs; old public keys stay listed by key id so older checkpoints still verify.
Pure: no I/O here (settings.py reads the key, app.py wires it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"
ACTION = "checkpoint"  # the timeline entry holding a periodic checkpoint
PERIODIC, EXPORT = "periodic", "export"
SIGNED = ("kind", "service_order_id", "count", "head_hash", "key_id", "at")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def public_b64(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    return b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def load_private(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS8) or from the base64 of its raw 32 bytes."""
    if "-----BEGIN" in text:
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the timeline signing key must be an Ed25519 key")
        return key
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("a base64 Ed25519 private key has 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text.strip(), validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class TimelineKeys:
    """The signing key (and its id) and every public key a checkpoint may name: the current one and the
    retired ones (key id -> base64 raw public key)."""

    key_id: str
    private: Ed25519PrivateKey
    retired: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls, key_id: str = "ephemeral") -> TimelineKeys:
        return cls(key_id, Ed25519PrivateKey.generate())

    @property
    def public_keys(self) -> dict[str, str]:
        return {**self.retired, self.key_id: public_b64(self.private.public_key())}

    def published(self) -> list[dict[str, str]]:
        """What `GET /timeline-keys` serves."""
        return [{"key_id": k, "alg": ALG, "public_key": v} for k, v in sorted(self.public_keys.items())]

    def sign(self, kind: str, service_order_id: str, hashes: Sequence[str], at: datetime) -> dict[str, Any]:
        """A checkpoint over the chain whose entry hashes are `hashes` (in order)."""
        body: dict[str, Any] = {
            "kind": kind,
            "service_order_id": service_order_id,
            "count": len(hashes),
            "head_hash": hashes[-1] if hashes else "",
            "key_id": self.key_id,
            "at": at.astimezone(UTC).isoformat(timespec="milliseconds"),
        }
        return {**body, "signature": b64(self.private.sign(statement(body)))}


def statement(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: its signed fields as canonical JSON."""
    return json.dumps({k: checkpoint[k] for k in SIGNED}, sort_keys=True, separators=(",", ":")).encode()


def problems(
    checkpoints: Sequence[Mapping[str, Any]],
    service_order_id: str,
    hashes: Sequence[str],
    public_keys: Mapping[str, str],
) -> list[str]:
    """What is wrong with the checkpoints of a timeline whose entry hashes are `hashes` (the chain itself is
    checked by verify_timeline): each must be signed by a known key, name this service order and match the
    chain at its count; the last must be the export's and cover the last entry."""
    found: list[str] = []
    if not checkpoints:
        return ["the export has no signed checkpoint: its timeline cannot be told from a rewritten one"]
    for n, cp in enumerate(checkpoints, 1):
        try:
            what = f"checkpoint {n} (count {int(cp['count'])}, key {cp['key_id']})"
            key = public_keys.get(str(cp["key_id"]))
            if key is None:
                found.append(f"{what}: key id {cp['key_id']!r} is not among the trusted public keys")
                continue
            load_public(key).verify(base64.b64decode(str(cp["signature"])), statement(cp))
        except InvalidSignature:
            found.append(f"{what}: the signature does not verify")
            continue
        except (KeyError, ValueError, TypeError) as exc:
            found.append(f"checkpoint {n} is malformed ({exc})")
            continue
        count = int(cp["count"])
        if cp["service_order_id"] != service_order_id:
            found.append(f"{what}: signed for service order {cp['service_order_id']}, not {service_order_id}")
        elif count < 1 or count > len(hashes):
            found.append(f"{what}: covers {count} entries, the timeline has {len(hashes)} (cut)")
        elif hashes[count - 1] != cp["head_hash"]:
            found.append(f"{what}: the chain's entry {count} is not the one signed (rewritten)")
    last = checkpoints[-1]
    if last.get("kind") != EXPORT or last.get("count") != len(hashes):
        found.append(
            f"the final checkpoint does not cover the last entry ({len(hashes)}) as the export's own: "
            "the timeline's tail was cut or its last checkpoint dropped"
        )
    return found
