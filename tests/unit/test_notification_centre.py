"""Message centre rules: verification of both addresses, edits that re-verify, the daily change limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.centre import (
    MAX_CODE_ATTEMPTS,
    DailyLimitReached,
    Recipient,
    TooManyWrongCodes,
    check_daily_quota,
)
from shared.platform.errors import DomainError, InvalidInput
from shared.platform.http import status_of

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def fresh() -> Recipient:
    r = Recipient(
        recipient_id="rcp-1",
        account_id="acc",
        name="Ops",
        email="ops@example.com",
        phone="+8613900000001",
        categories=["supervision"],
    )
    return r.challenge("tok", "123456", NOW + timedelta(hours=24), NOW)


def test_a_recipient_is_active_only_when_both_addresses_are_verified() -> None:
    r = fresh()
    assert not r.active
    r = r.verify_email("tok", NOW)
    assert r.email_verified
    assert not r.active
    r, ok = r.verify_phone("123456", NOW)
    assert ok
    assert r.active
    assert r.view().active
    assert "email_token_hash" not in r.view().model_dump()


def test_a_wrong_link_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        fresh().verify_email("other", NOW)


def test_wrong_codes_are_counted_and_bounded() -> None:
    r = fresh()
    for _ in range(MAX_CODE_ATTEMPTS):
        r, ok = r.verify_phone("000000", NOW)
        assert not ok
    with pytest.raises(DomainError, match="too many wrong codes"):
        r.verify_phone("123456", NOW)
    r = r.challenge("tok2", "654321", NOW + timedelta(hours=1), NOW)  # a resend starts over
    assert r.verify_phone("654321", NOW)[1]


def test_an_expired_challenge_is_refused() -> None:
    with pytest.raises(DomainError, match="expired"):
        fresh().verify_email("tok", NOW + timedelta(hours=25))


def test_a_resend_replaces_the_old_secrets() -> None:
    r = fresh().challenge("tok2", "222222", NOW + timedelta(hours=24), NOW)
    with pytest.raises(InvalidInput):
        r.verify_email("tok", NOW)
    assert r.verify_email("tok2", NOW).email_verified


@pytest.mark.parametrize(
    ("change", "email_ok", "phone_ok"),
    [
        ({"email": "new@example.com"}, False, True),
        ({"phone": "+8613900000009"}, True, False),
        ({"email": "OPS@example.com"}, True, True),  # same address, other case: still verified
        ({"name": "Ops 2", "categories": ["appeal"]}, True, True),
    ],
)
def test_a_changed_address_must_be_verified_again(
    change: dict[str, object], email_ok: bool, phone_ok: bool
) -> None:
    r = fresh().verify_email("tok", NOW).verify_phone("123456", NOW)[0]
    args: dict[str, object] = {"name": None, "email": None, "phone": None, "categories": None} | change
    edited = r.edit(now=NOW, **args)  # type: ignore[arg-type]
    assert (edited.email_verified, edited.phone_verified) == (email_ok, phone_ok)


@pytest.mark.parametrize(
    ("used", "wanted", "refused"),
    [(0, 10, False), (30, 10, False), (31, 10, True), (40, 1, True), (39, 1, False)],
)
def test_at_most_40_changes_a_day(used: int, wanted: int, refused: bool) -> None:
    if refused:
        with pytest.raises(DailyLimitReached, match="at most 40 recipient additions or changes") as err:
            check_daily_quota(used, wanted, 40)
        assert status_of(err.value) == 429
    else:
        check_daily_quota(used, wanted, 40)


def test_a_resend_keeps_the_wrong_code_count_until_the_bound_is_reached() -> None:
    r = fresh()
    for _ in range(2):
        r, _ = r.verify_phone("000000", NOW)
    r = r.challenge("tok2", "222222", NOW + timedelta(hours=24), NOW)  # a resend: no fresh guesses
    assert r.code_attempts == 2
    for _ in range(MAX_CODE_ATTEMPTS - 2):
        r, ok = r.verify_phone("000000", NOW)
        assert not ok
    with pytest.raises(TooManyWrongCodes):
        r.verify_phone("222222", NOW)
    r = r.challenge("tok3", "333333", NOW + timedelta(hours=24), NOW)  # the bound was reached: renewed
    assert r.code_attempts == 0
    assert r.verify_phone("333333", NOW)[1]
