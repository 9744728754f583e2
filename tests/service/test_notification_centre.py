"""Message-centre use cases on fakes: verification through the delivery queue, limits, ownership."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.notification import centre_service as centre
from services.notification.centre import DailyLimitReached, TooManyWrongCodes
from services.notification.centre_service import AddRecipients, EditRecipient
from services.notification.deps import Deps
from services.notification.domain import Delivery
from services.notification.settings import NotificationSettings
from services.notification.store import fake_uow
from shared.platform.errors import InvalidInput, NotFound
from shared.platform.fakes import FakeState
from shared.platform.http import status_of
from shared.platform.mongo import UnitOfWorkFactory
from tests.factories import rid
from tests.service.rig import FAST, Counter


def service(state: FakeState, **extra: Any) -> Deps:
    settings = NotificationSettings(**FAST, public_base_url="http://notify.test", **extra)
    return Deps(
        UnitOfWorkFactory(fake_uow(state)),
        Counter(),
        clock=lambda: datetime(2026, 3, 1, 10, tzinfo=UTC),
        settings=settings,
    )


def body(n: int = 1) -> AddRecipients:
    return AddRecipients.model_validate(
        {
            "recipients": [
                {"name": f"ops{i}", "email": f"ops{i}@example.com", "phone": f"+86 139 0000 {i:04d}"}
                for i in range(n)
            ]
        }
    )


def queued(state: FakeState, recipient_id: str) -> list[Delivery]:
    return [
        Delivery.model_validate(r)
        for r in state.table("deliveries").values()
        if r["event_id"].startswith(f"verify:{recipient_id}:")
    ]


def secrets_sent(state: FakeState, recipient_id: str) -> tuple[str, str]:
    mails = [d for d in queued(state, recipient_id) if d.channel.value == "email"]
    sms = [d for d in queued(state, recipient_id) if d.channel.value == "sms"]
    token = mails[-1].body.split("token=")[1].split()[0]
    code = "".join(ch for ch in sms[-1].body if ch.isdigit())[:6]
    return token, code


async def test_a_recipient_becomes_active_after_both_verifications() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    assert r.phone == "+8613900000000"  # normalised to E.164
    assert not r.active
    planned = queued(state, r.recipient_id)
    assert sorted(d.channel.value for d in planned) == ["email", "sms"]
    assert all(d.status.value == "pending" for d in planned)  # through the ordinary delivery queue
    token, code = secrets_sent(state, r.recipient_id)
    assert token.startswith(r.recipient_id)

    assert (await centre.verify_email(deps, token)).email_verified
    with pytest.raises(InvalidInput, match="wrong verification code"):
        await centre.verify_phone(deps, account, r.recipient_id, "999999" if code != "999999" else "111111")
    assert (await centre.verify_phone(deps, account, r.recipient_id, code)).active
    stored = state.table("recipients")[r.recipient_id]
    assert stored["code_attempts"] == 1  # the wrong code was counted
    assert code not in str(stored)  # only hashes are stored


async def test_resend_invalidates_the_old_secrets() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    old_token, _ = secrets_sent(state, r.recipient_id)
    await centre.resend(deps, account, r.recipient_id)
    new_token, _ = secrets_sent(state, r.recipient_id)
    assert len(queued(state, r.recipient_id)) == 4
    with pytest.raises(InvalidInput):
        await centre.verify_email(deps, old_token)
    assert (await centre.verify_email(deps, new_token)).email_verified


def test_at_most_ten_recipients_per_request() -> None:
    body(10)
    with pytest.raises(ValidationError, match="at most 10"):
        body(11)


def test_addresses_are_validated() -> None:
    with pytest.raises(ValidationError, match="email"):
        AddRecipients.model_validate(
            {"recipients": [{"name": "x", "email": "not-an-email", "phone": "+8613900000001"}]}
        )
    with pytest.raises(ValidationError, match="phone"):
        AddRecipients.model_validate({"recipients": [{"name": "x", "email": "a@example.com", "phone": "12"}]})


async def test_forty_additions_or_changes_a_day() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    added = []
    for _ in range(3):
        added += await centre.add_recipients(deps, account, body(10))
    await centre.edit_recipient(deps, account, added[0].recipient_id, EditRecipient(name="renamed"))
    with pytest.raises(DailyLimitReached, match="at most 40") as refused:
        await centre.add_recipients(deps, account, body(10))
    assert status_of(refused.value) == 429
    for r in added[1:10]:
        await centre.edit_recipient(deps, account, r.recipient_id, EditRecipient(categories=["appeal"]))
    with pytest.raises(DailyLimitReached):
        await centre.edit_recipient(deps, account, added[0].recipient_id, EditRecipient(name="again"))
    await centre.delete_recipient(deps, account, added[0].recipient_id)  # deleting is always allowed
    assert len(state.table("recipients")) == 29
    assert (
        len(await centre.add_recipients(service(state), rid("other"), body(10))) == 10
    )  # the limit is per account


async def test_a_changed_phone_is_verified_again_and_a_stranger_sees_nothing() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    token, code = secrets_sent(state, r.recipient_id)
    await centre.verify_email(deps, token)
    await centre.verify_phone(deps, account, r.recipient_id, code)
    edited = await centre.edit_recipient(deps, account, r.recipient_id, EditRecipient(phone="+8613900009999"))
    assert edited.email_verified
    assert not edited.phone_verified
    assert [d.channel.value for d in queued(state, r.recipient_id)][-1] == "sms"  # only the phone again
    with pytest.raises(NotFound):
        await centre.edit_recipient(deps, rid("stranger"), r.recipient_id, EditRecipient(name="mine"))
    with pytest.raises(InvalidInput, match="unknown message categories"):
        await centre.edit_recipient(deps, account, r.recipient_id, EditRecipient(categories=["spam"]))


async def test_a_resend_counts_toward_the_daily_limit() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    for _ in range(39):
        await centre.resend(deps, account, r.recipient_id)
    assert state.table("recipient_changes")[f"{account}|2026-03-01"]["count"] == 40
    with pytest.raises(DailyLimitReached):
        await centre.resend(deps, account, r.recipient_id)
    assert (
        len([d for d in queued(state, r.recipient_id) if d.channel.value == "sms"]) == 40
    )  # 40 SMS a day at most


async def test_the_wrong_code_counter_survives_a_resend() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    _, first = secrets_sent(state, r.recipient_id)
    for _ in range(3):
        with pytest.raises(InvalidInput):
            await centre.verify_phone(
                deps, account, r.recipient_id, "000000" if first != "000000" else "111111"
            )
    await centre.resend(deps, account, r.recipient_id)
    assert state.table("recipients")[r.recipient_id]["code_attempts"] == 3  # no fresh guesses
    _, code = secrets_sent(state, r.recipient_id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(2):
        with pytest.raises(InvalidInput):
            await centre.verify_phone(deps, account, r.recipient_id, wrong)
    with pytest.raises(TooManyWrongCodes) as refused:  # even the right code, once the bound is reached
        await centre.verify_phone(deps, account, r.recipient_id, code)
    assert status_of(refused.value) == 429
    await centre.resend(deps, account, r.recipient_id)  # a counted resend renews the guesses
    _, code = secrets_sent(state, r.recipient_id)
    assert (await centre.verify_phone(deps, account, r.recipient_id, code)).phone_verified
    assert state.table("recipient_changes")[f"{account}|2026-03-01"]["count"] == 3


async def test_resending_to_an_active_recipient_sends_and_counts_nothing() -> None:
    state, account = FakeState(), rid("acc")
    deps = service(state)
    [r] = await centre.add_recipients(deps, account, body())
    token, code = secrets_sent(state, r.recipient_id)
    await centre.verify_email(deps, token)
    await centre.verify_phone(deps, account, r.recipient_id, code)
    assert (await centre.resend(deps, account, r.recipient_id)).active
    assert len(queued(state, r.recipient_id)) == 2
    assert state.table("recipient_changes")[f"{account}|2026-03-01"]["count"] == 1
