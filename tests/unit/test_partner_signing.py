"""§8.3 signing, RSA-OAEP client secrets, and the retry policies of the merchant calls (§8.2.2–8.2.6)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.partner import signing
from services.partner.calls import MerchantCall, RetryTimes, timestamp_utc8, user_batches
from shared.platform.errors import DomainError, InvalidInput

KEY = "ak-0123456789"
NOW = datetime(2026, 11, 20, 3, 41, 17, 642000, tzinfo=UTC)


def test_the_signature_is_hex_hmac_of_key_nonce_timestamp_and_the_lowercase_payload_digest() -> None:
    payload = b'{"a":1}'
    inner = hmac.new(KEY.encode(), payload, hashlib.sha256).hexdigest().lower()
    expected = hmac.new(
        KEY.encode(), (KEY + "n1" + "1700000000000" + inner).encode(), hashlib.sha256
    ).hexdigest()
    assert signing.signature(KEY, "n1", "1700000000000", payload) == expected


def test_a_signed_message_verifies_once_and_its_nonce_cannot_be_replayed() -> None:
    headers = signing.sign_headers(KEY, b"{}", now_ms=1_700_000_000_000)
    seen: set[str] = set()
    signing.verify(KEY, headers, b"{}", now_ms=1_700_000_030_000, seen=seen)
    with pytest.raises(signing.BadSignature, match="replayed"):
        signing.verify(KEY, headers, b"{}", now_ms=1_700_000_030_000, seen=seen)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"x-sign": "0" * 64}, "forged"),
        ({"x-timestamp": "1699999939999"}, "stale"),
        ({"x-timestamp": "1700000060001"}, "stale"),
        ({"x-sign": ""}, "unsigned"),
    ],
)
def test_forged_stale_and_unsigned_messages_are_rejected(change: dict[str, str], reason: str) -> None:
    headers = {**signing.sign_headers(KEY, b"{}", now_ms=1_700_000_000_000), **change}
    with pytest.raises(signing.BadSignature, match=reason):
        signing.verify(KEY, headers, b"{}", now_ms=1_700_000_000_000)


def test_a_changed_body_breaks_the_signature() -> None:
    headers = signing.sign_headers(KEY, b'{"flag":1}', now_ms=1_700_000_000_000)
    with pytest.raises(signing.BadSignature, match="forged"):
        signing.verify(KEY, headers, b'{"flag":0}', now_ms=1_700_000_000_000)


def _pair(bits: int) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_the_client_secret_round_trips_through_rsa_oaep_3072() -> None:
    private, public = _pair(3072)
    signing.check_public_key(public)
    sealed = signing.encrypt_secret(public, "s3cret")
    assert "s3cret" not in sealed
    assert signing.decrypt_secret(private, sealed) == "s3cret"


def test_a_2048_bit_key_is_refused() -> None:
    with pytest.raises(InvalidInput):
        signing.check_public_key(_pair(2048)[1])


def test_users_are_sent_at_most_500_per_call() -> None:
    batches = user_batches([{"userName": f"u{i}"} for i in range(1001)])
    assert [len(b) for b in batches] == [500, 500, 1]


def test_the_kit_timestamp_is_utc_plus_8_with_milliseconds() -> None:
    assert timestamp_utc8(NOW) == "20261120114117642"


TIMES = RetryTimes(long_interval=3600, long_window=3 * 3600, short_interval=600, short_window=3600)


def call(policy: str, endpoint: str = "newInstance") -> MerchantCall:
    return MerchantCall(
        call_id="c",
        merchant_id="m",
        endpoint=endpoint,
        kind="saas",
        path="/",
        body={},
        policy=policy,
        created_at=NOW,
        due_at=NOW,
    )  # type: ignore[arg-type]


def fail_until_final(c: MerchantCall) -> list[datetime]:
    at, times = NOW, []
    while True:
        times.append(at)
        if c.failed(at, "boom", 500, False, TIMES):
            return times
        assert c.due_at is not None
        at = c.due_at


def test_a_new_purchase_is_tried_hourly_for_3_hours_then_given_up_and_refunded() -> None:
    c = call("long")
    assert [t - NOW for t in fail_until_final(c)] == [timedelta(hours=h) for h in range(4)]
    assert c.status == "failed"
    assert c.consequence == "refund"


def test_a_renewal_is_tried_for_1_hour_then_given_up_without_refund() -> None:
    c = call("short", "refreshInstance")
    assert fail_until_final(c)[-1] - NOW == timedelta(hours=1)
    assert c.consequence == "none"


def test_a_kit_sync_is_tried_once_and_replayed_exactly_once() -> None:
    c = call("manual", "tenantSync")
    assert fail_until_final(c) == [NOW]
    c.replay(NOW)
    with pytest.raises(DomainError):
        c.replay(NOW)  # already queued
    c.succeeded(NOW, 200, {"resultCode": "000000"}, replay=True)
    with pytest.raises(DomainError):
        c.replay(NOW)  # already succeeded
    assert c.replays == 1
    assert [a.ok for a in c.attempts] == [False, True]
