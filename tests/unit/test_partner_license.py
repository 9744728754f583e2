"""License rules (dossier §2.2): the authorization code's format, check character and uniqueness; the grace
period's state machine (freeze at expiry, unfreeze by a renewal, release); activation and heartbeat; the
License 1.0 hardware-identifier (device fingerprint) rules; and the refusal of a badly signed open-API call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.partner import signing
from services.partner.license import (
    ALPHABET,
    CODE_PATTERN,
    LicenseCode,
    LicenseError,
    LicenseOrder,
    check_hardware_identifier,
    new_code,
    normalise_code,
)
from shared.platform.errors import DomainError, InvalidInput

T0 = datetime(2026, 3, 1, 2, 0, 0, 123000, tzinfo=UTC)
GRACE = 15


def code(**kw: object) -> LicenseCode:
    fields: dict[str, object] = {
        "code": new_code(),
        "order_id": "CS1",
        "seq": 1,
        "buyer_id": "b1",
        "merchant_id": "m1",
        "product_id": "p1",
        "issued_at": T0,
    }
    return LicenseCode.model_validate(fields | kw)


# --- the code -------------------------------------------------------------------------------------------
def test_a_code_is_five_readable_groups_without_look_alike_characters() -> None:
    c = new_code()
    assert CODE_PATTERN.match(c), c
    assert len(c) == 29
    assert not set(c.replace("-", "")) & set("ILOU")
    assert set(c.replace("-", "")) <= set(ALPHABET)


def test_codes_are_unique_across_many_draws() -> None:
    drawn = {new_code() for _ in range(20_000)}
    assert len(drawn) == 20_000


def test_a_code_typed_in_lower_case_with_blanks_is_the_same_code() -> None:
    c = new_code()
    assert normalise_code(f"  {c.lower()} ") == c


@pytest.mark.parametrize("position", [0, 7, 13, 27])
def test_one_mistyped_character_is_caught_by_the_check_character(position: int) -> None:
    c = new_code()
    wrong = ALPHABET[(ALPHABET.index(c[position]) + 1) % len(ALPHABET)]
    typo = c[:position] + wrong + c[position + 1 :]
    with pytest.raises(InvalidInput) as err:
        normalise_code(typo)
    assert err.value.field == "code"


@pytest.mark.parametrize("typed", ["", "ABC", "7K3QX7K3QX7K3QX7K3QX7K3QX", "IIIII-IIIII-IIIII-IIIII-IIIII"])
def test_what_is_not_a_code_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_code(typed)
    assert err.value.field == "code"


# --- the grace period -----------------------------------------------------------------------------------
def test_an_issued_code_is_active_once_activated_and_frozen_at_expiry() -> None:
    c = code()
    assert c.state(T0, GRACE) == "issued"
    assert c.activate("dev-1", {"host": "h1"}, T0, GRACE)
    assert c.activated_at == T0
    c.extend(T0 + timedelta(days=30), T0, GRACE)
    assert c.state(T0 + timedelta(days=29), GRACE) == "active"
    assert c.state(T0 + timedelta(days=30), GRACE) == "frozen"


def test_released_when_the_grace_period_passes_without_renewal() -> None:
    c = code(activated_at=T0, device_id="dev-1", valid_until=T0 + timedelta(days=30))
    end = T0 + timedelta(days=30)
    assert c.state(end + timedelta(days=GRACE) - timedelta(seconds=1), GRACE) == "frozen"
    assert c.state(end + timedelta(days=GRACE), GRACE) == "released"
    assert c.releases_at(GRACE) == end + timedelta(days=GRACE)


def test_a_renewal_within_the_grace_period_unfreezes_the_code() -> None:
    end = T0 + timedelta(days=30)
    c = code(activated_at=T0, device_id="dev-1", valid_until=end)
    now = end + timedelta(days=3)
    before, after = c.extend(end + timedelta(days=365), now, GRACE)
    assert (before, after) == ("frozen", "active")
    assert c.valid_until == end + timedelta(days=365)


def test_a_renewal_after_the_grace_period_does_not_revive_a_released_code() -> None:
    end = T0 + timedelta(days=30)
    c = code(activated_at=T0, device_id="dev-1", valid_until=end)
    now = end + timedelta(days=GRACE + 1)
    assert c.extend(end + timedelta(days=365), now, GRACE) == ("released", "released")
    assert c.valid_until == end


def test_an_earlier_validity_end_never_shortens_the_code() -> None:
    c = code(valid_until=T0 + timedelta(days=60))
    c.extend(T0 + timedelta(days=30), T0, GRACE)
    assert c.valid_until == T0 + timedelta(days=60)


def test_an_unsubscribe_releases_at_once_and_only_once() -> None:
    c = code(activated_at=T0, device_id="dev-1")
    assert c.release(T0 + timedelta(days=1), "unsubscribed")
    assert not c.release(T0 + timedelta(days=2), "unsubscribed")
    assert c.state(T0 + timedelta(days=1), GRACE) == "released"


# --- activation and heartbeat ---------------------------------------------------------------------------
def test_activating_again_from_the_same_device_is_answered_as_before() -> None:
    c = code()
    assert c.activate("dev-1", {}, T0 + timedelta(microseconds=456), GRACE)  # kept in milliseconds
    assert not c.activate("dev-1", {}, T0 + timedelta(hours=1), GRACE)
    assert c.activated_at == T0


def test_another_device_cannot_take_an_activated_code() -> None:
    c = code()
    c.activate("dev-1", {}, T0, GRACE)
    with pytest.raises(LicenseError) as err:
        c.activate("dev-2", {}, T0, GRACE)
    assert err.value.result_code == "LIC.0104"


@pytest.mark.parametrize(("days", "result"), [(31, "LIC.0102"), (31 + GRACE, "LIC.0103")])
def test_a_frozen_or_released_code_cannot_be_activated(days: int, result: str) -> None:
    c = code(valid_until=T0 + timedelta(days=30))
    with pytest.raises(LicenseError) as err:
        c.activate("dev-1", {}, T0 + timedelta(days=days), GRACE)
    assert err.value.result_code == result


def test_a_heartbeat_records_last_seen_and_answers_the_state() -> None:
    c = code(valid_until=T0 + timedelta(days=30))
    c.activate("dev-1", {}, T0, GRACE)
    assert c.heartbeat("dev-1", {"users": "3"}, T0 + timedelta(days=31), GRACE) == "frozen"
    assert c.last_seen_at == T0 + timedelta(days=31)
    assert c.heartbeats == 1
    assert c.usage == {"users": "3"}
    with pytest.raises(LicenseError) as err:
        c.heartbeat("dev-2", {}, T0, GRACE)
    assert err.value.result_code == "LIC.0106"


def test_a_heartbeat_of_a_code_never_activated_is_refused() -> None:
    with pytest.raises(LicenseError) as err:
        code().heartbeat("dev-1", {}, T0, GRACE)
    assert err.value.result_code == "LIC.0105"


# --- License 1.0: identifiers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "typed",
    ["00:1A:2B:3C:4D:5E", "WD-WCC4N7XXXXXX", "4C4C4544-0042-3510-8051-B4C04F565931", "a1b2c3d4e5f60718"],
)
def test_a_hardware_identifier_that_can_be_a_fingerprint_is_kept_as_typed(typed: str) -> None:
    assert check_hardware_identifier(f" {typed} ") == typed


@pytest.mark.parametrize(
    "typed",
    [
        "short",
        "has space inside 1234",
        "ünïcode-12345678",
        "-leading-dash-123",
        "00:00:00:00:00:00",
        "x" * 129,
    ],
)
def test_a_hardware_identifier_that_cannot_be_a_fingerprint_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_hardware_identifier(typed)
    assert err.value.field == "hardware_identifier"


def identifier_order() -> LicenseOrder:
    return LicenseOrder(
        order_id="CS9", kind="identifier", root_order_id="CS9", buyer_id="b", merchant_id="m", product_id="p"
    )


def test_a_system_identifier_is_generated_unique_and_the_request_id_is_stable() -> None:
    a, b = identifier_order(), identifier_order()
    assert a.submit_identifier("system", None, T0)
    assert b.submit_identifier("system", None, T0)
    assert a.identifier is not None
    assert a.identifier.startswith("SID-")
    assert a.identifier != b.identifier
    first = a.identifier
    assert not a.submit_identifier("system", None, T0)  # the same submission again: unchanged
    assert a.identifier == first
    assert a.request_id == "GL-CS9"


def test_a_second_different_identifier_is_refused() -> None:
    o = identifier_order()
    o.submit_identifier("hardware", "00:1A:2B:3C:4D:5E", T0)
    with pytest.raises(DomainError):
        o.submit_identifier("hardware", "00:1A:2B:3C:4D:5F", T0)


def test_the_first_license_delivered_for_a_request_stays() -> None:
    o = identifier_order()
    assert o.deliver("KEY-1", T0)
    assert not o.deliver("KEY-2", T0 + timedelta(hours=1))
    assert o.license == "KEY-1"


# --- the signature ----------------------------------------------------------------------------------------
def test_a_forged_or_replayed_open_api_call_is_refused() -> None:
    body = b'{"code":"X"}'
    headers = signing.sign_headers("merchant-ak-0001", body)
    seen: set[str] = set()
    signing.verify("merchant-ak-0001", headers, body, seen=seen)
    with pytest.raises(signing.BadSignature, match="replayed"):
        signing.verify("merchant-ak-0001", headers, body, seen=seen)
    with pytest.raises(signing.BadSignature, match="forged"):
        signing.verify("another-key-0002", headers, body)
    with pytest.raises(signing.BadSignature, match="forged"):
        signing.verify("merchant-ak-0001", headers, b'{"code":"Y"}')
