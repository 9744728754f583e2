"""notification on the real broker and database with two sets of sinks, Mailpit and the SMS sink (primary and
secondary providers):
verification, fallback, traces, outages with recovery, failover, status callbacks, reminders, the per-address SMS
limit, and an account's erasure and export. Callers are Keycloak users with real tokens."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from devstack.mailbox import Mailbox
from devstack.procs import free_port
from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    DeadlineCleared,
    DeadlineScheduled,
    Event,
    NoticeRecipient,
    NoticeRequested,
    NoticeRequestedPayload,
    Parties,
)
from shared.schemas.enums import NoticeKind
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import Sinks, eventually, produce, running, start_sinks
from tests.identity import User


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("notif-primary")
    s = start_sinks(root / "data", root / "logs", name="sinks-primary")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def secondary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("notif-secondary")
    s = start_sinks(root / "data", root / "logs", name="sinks-secondary")
    yield s
    s.stop()


@dataclass
class SinkApi:
    sms: httpx.AsyncClient  # the SMS sink's API (listings and `/_control/sms`)
    mail: Mailbox  # Mailpit's (messages and SMTP faults)


@pytest.fixture
async def sink(primary: Sinks) -> AsyncIterator[SinkApi]:
    async with httpx.AsyncClient(base_url=primary.url, timeout=5) as c:
        api = SinkApi(c, primary.mailbox(c))
        await c.post("/_control/reset")
        await api.mail.reset_faults()
        yield api
        await c.post("/_control/reset")
        await api.mail.reset_faults()


def settings(infra: Infra, namespace: str, primary: Sinks, port: int, **extra: Any) -> NotificationSettings:
    fast: dict[str, Any] = {
        "delivery_backoff_seconds": 0.2,
        "delivery_backoff_max_seconds": 1.0,
        "dispatch_poll_seconds": 0.1,
        "breaker_cooldown_seconds": 1.0,
        "reminder_poll_seconds": 0.2,
    }
    return f.settings(
        NotificationSettings,
        infra,
        namespace,
        smtp_port=primary.smtp_port,
        twilio_api_base_url=primary.url,
        public_base_url=f"http://127.0.0.1:{port}",
        **(fast | extra),
    )


@contextlib.asynccontextmanager
async def service(s: NotificationSettings, port: int) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan in-process, and its routes also on a real port (the sinks POST status callbacks)."""
    app = create_app(s)
    async with running(app) as client:
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        try:
            yield client
        finally:
            server.should_exit = True
            await task


async def publish(infra: Infra, namespace: str, event: Event) -> None:
    await produce(
        infra.kafka_client(),
        f"{namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=event.partition_key,
    )


def notice(
    kind: NoticeKind, role: AccountRole, account_id: str, subject: str, params: dict[str, str]
) -> NoticeRequested:
    """A service asking notification to tell one account something (its notice id: the fact's key)."""
    return NoticeRequested(
        producer="orders",
        correlation_id=f.rid("corr"),
        payload=NoticeRequestedPayload(
            notice_id=f"{kind.value}:{subject}:{params.get('status', '')}",
            kind=kind,
            recipients=[NoticeRecipient(role=role, account_id=account_id)],
            subject_id=subject,
            params=params,
        ),
    )


async def people(infra: Infra) -> tuple[Parties, User, User]:
    """A buyer and a merchant of the identity provider: their `sub` is their account id everywhere."""
    buyer, merchant = await infra.idp.user("buyer"), await infra.idp.user("merchant")
    return (
        Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id),
        buyer,
        merchant,
    )


async def register(infra: Infra, namespace: str, p: Parties, phone: str, locale: str = "en-US") -> None:
    await publish(
        infra,
        namespace,
        f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=phone, locale=locale),
    )
    await publish(
        infra,
        namespace,
        f.account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone=phone, locale="zh-CN"),
    )


def phone() -> str:
    return "+86139" + f"{abs(hash(f.rid('p'))) % 10**8:08d}"


async def rows(sink: SinkApi, kind: str, to: str) -> list[dict[str, Any]]:
    """The mails (subject, text, html, message_id, ...) or SMS (body, num_segments, ...) sent to one address."""
    if kind == "mail":
        return [asdict(m) for m in await sink.mail.messages(to, full=True)]
    return list((await sink.sms.get("/sms", params={"to": to})).json())


async def deliveries(
    client: httpx.AsyncClient, account: User, order_id: str | None = None
) -> list[dict[str, Any]]:
    params = {"order_id": order_id} if order_id else {}
    r = await client.get(f"/accounts/{account}/deliveries", params=params, headers=await account.headers())
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_verification_then_the_recipient_replaces_the_bound_contact(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer_user, merchant_user), bound_phone, rcpt_phone = await people(infra), phone(), phone()
    rcpt_email = f"{f.rid('ops')}@example.com"
    buyer = await buyer_user.headers()
    async with service(settings(infra, namespace, primary, port), port) as client:
        await register(infra, namespace, p, bound_phone)
        added = await client.post(
            f"/accounts/{p.buyer_account_id}/recipients",
            headers=buyer,
            json={
                "recipients": [
                    {
                        "name": "ops",
                        "email": rcpt_email,
                        "phone": rcpt_phone,
                        "categories": ["creation_activation"],
                    }
                ]
            },
        )
        assert added.status_code == 201, added.text
        [r] = added.json()
        assert r["active"] is False
        stranger = await client.get(
            f"/accounts/{p.buyer_account_id}/recipients", headers=await merchant_user.headers()
        )
        assert stranger.status_code == 403
        assert stranger.json()["detail"]["rule"] == "own_account_only"
        assert (await client.get(f"/accounts/{p.buyer_account_id}/recipients")).status_code == 401

        [mail] = await eventually(lambda: rows(sink, "mail", rcpt_email), what="verification e-mail")
        [sms] = await eventually(lambda: rows(sink, "sms", rcpt_phone), what="verification SMS")
        match = re.search(r"http\S+/verify/email\?token=[\w.-]+", mail["text"])
        assert match, mail["text"]
        link = match.group(0)
        assert mail["html"] is not None  # multipart: text and HTML
        assert str(mail["message_id"]).endswith("@koo-suite.local>")
        code = "".join(ch for ch in sms["body"] if ch.isdigit())[:6]
        wrong = await client.post(
            f"/accounts/{p.buyer_account_id}/recipients/{r['recipient_id']}/verify-phone",
            params={"code": "000000" if code != "000000" else "111111"},
            headers=buyer,
        )
        assert wrong.status_code == 422
        url = urlsplit(link)
        assert (await client.get(f"{url.path}?{url.query}")).json() == {
            "email_verified": True,
            "active": False,
        }
        ok = await client.post(
            f"/accounts/{p.buyer_account_id}/recipients/{r['recipient_id']}/verify-phone",
            params={"code": code},
            headers=buyer,
        )
        assert ok.json()["active"] is True

        paid = f.order_paid(p)
        await publish(infra, namespace, paid)

        async def sent() -> list[dict[str, Any]]:
            ds = await deliveries(client, buyer_user, paid.order_id)
            return ds if len(ds) == 3 and all(d["status"] == "sent" for d in ds) else []

        ds = {d["channel"]: d for d in await eventually(sent, what="the buyer's deliveries")}
        assert ds["email"]["address"] == rcpt_email
        assert ds["sms"]["address"] == rcpt_phone
        assert any("recipient ops is verified and subscribed" in line for line in ds["email"]["trace"])
        # the merchant has no recipient: its bound contact, and the trace says so
        merchant = await eventually(lambda: deliveries(client, merchant_user, paid.order_id))
        trace = (
            await client.get(
                f"/accounts/{p.merchant_account_id}/deliveries/{merchant[0]['delivery_id']}",
                headers=await merchant_user.headers(),
            )
        ).json()["trace"]
        assert any("fell back to the account's bound email and phone" in line for line in trace)
        # both locales: the buyer reads English, the merchant Chinese
        assert any(
            m["subject"] == f"Payment received for order {paid.order_id}"
            for m in await rows(sink, "mail", rcpt_email)
        )
        zh = await eventually(lambda: rows(sink, "mail", f"{p.merchant_account_id}@example.com"))
        assert zh[0]["subject"] == f"新订单 {paid.order_id} 已支付"

        async def merchant_sms() -> list[dict[str, Any]]:
            return [m for m in await rows(sink, "sms", bound_phone) if paid.order_id in m["body"]]

        zh_sms = await eventually(merchant_sms, what="the merchant's SMS")
        assert zh_sms[0]["body"] == f"[KooGallery] 新订单 {paid.order_id} 已支付"
        assert int(zh_sms[0]["num_segments"]) <= 2  # as the provider counts them (UCS-2)

        # A notice (notice.requested) from another service's flow: its kind's category picks the recipient
        # (activation failures are 101, creation_activation, which the buyer's recipient subscribed to) ...
        subject = f.rid("CS")
        failed = notice(
            NoticeKind.ACTIVATION_FAILED,
            AccountRole.BUYER,
            p.buyer_account_id,
            subject,
            {"product": "Backup as a service", "order_id": subject, "reason": "quota"},
        )
        await publish(infra, namespace, failed)

        async def activation_mail() -> list[dict[str, Any]]:
            return [m for m in await rows(sink, "mail", rcpt_email) if "Activation" in m["subject"]]

        [mail] = await eventually(activation_mail, what="the activation-failure notice by e-mail")
        assert mail["subject"] == "Activation of Backup as a service failed"
        assert f"for order {subject}: quota" in mail["text"]
        # ... and a statement (billing, no recipient subscribed) goes to the merchant's bound e-mail, in
        # Chinese, once however often it is told: the same notice id again, then another notice on the same
        # partition (its subject), which arrives after it.
        statement = notice(
            NoticeKind.STATEMENT_STATUS,
            AccountRole.MERCHANT,
            p.merchant_account_id,
            subject,
            {"statement_id": "ST-1", "period": "2026-10", "status": "sent"},
        )
        await publish(infra, namespace, statement)
        await publish(infra, namespace, statement.model_copy(update={"event_id": uuid.uuid4()}))
        after = notice(
            NoticeKind.BILL_STATUS,
            AccountRole.MERCHANT,
            p.merchant_account_id,
            subject,
            {"bill_id": "B-1", "status": "paid"},
        )
        await publish(infra, namespace, after)

        async def billing_mail() -> list[dict[str, Any]]:
            found = await rows(sink, "mail", f"{p.merchant_account_id}@example.com")
            return found if any(m["subject"] == "账单 B-1 已付款" for m in found) else []

        told = [m["subject"] for m in await eventually(billing_mail, what="the merchant's billing notices")]
        assert told.count("结算单 ST-1 已发送") == 1


async def test_forty_recipient_changes_a_day(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port, user = free_port(), await infra.idp.user("merchant")
    account, headers = user.account_id, await user.headers()

    def batch(n: int) -> dict[str, Any]:
        return {
            "recipients": [
                {"name": f"r{i}", "email": f"{f.rid('r')}@example.com", "phone": phone()} for i in range(n)
            ]
        }

    async with service(settings(infra, namespace, primary, port, sms_status_callbacks=False), port) as client:
        too_many = await client.post(f"/accounts/{account}/recipients", headers=headers, json=batch(11))
        assert too_many.status_code == 422
        for _ in range(4):
            assert (
                await client.post(f"/accounts/{account}/recipients", headers=headers, json=batch(10))
            ).status_code == 201
        refused = await client.post(f"/accounts/{account}/recipients", headers=headers, json=batch(1))
        assert refused.status_code == 429
        assert "at most 40 recipient additions or changes per account per day" in refused.text
        listed = (await client.get(f"/accounts/{account}/recipients", headers=headers)).json()
        assert len(listed) == 40
        assert all(not r["active"] for r in listed)
        assert "email_token_hash" not in listed[0]


async def test_an_smtp_outage_during_a_burst_delivers_every_email_exactly_once(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    p, buyer, _ = await people(infra)
    buyer_mail = f"{p.buyer_account_id}@example.com"
    # Eight SMS to one phone too: the per-address SMS limit is turned off explicitly (this test is about e-mail).
    s = settings(
        infra,
        namespace,
        primary,
        port,
        sms_status_callbacks=False,
        delivery_max_attempts=30,
        rate_limit_sms=0,
    )
    async with service(s, port) as client:
        await register(infra, namespace, p, phone())
        await sink.mail.smtp_outage()
        burst = [f.order_paid(p) for _ in range(8)]
        for event in burst:
            await publish(infra, namespace, event)
        await publish(infra, namespace, burst[0])  # and a redelivery in the middle of it

        async def retrying() -> bool:
            ds = [d for d in await deliveries(client, buyer) if d["channel"] == "email"]
            # each one tried and refused (451), or held back by the open circuit breaker: none lost, none sent
            return (
                len(ds) == 8
                and all(d["last_error"] and d["status"] == "pending" for d in ds)
                and any("451" in d["last_error"] for d in ds)
                and any("circuit" in d["last_error"] for d in ds)
            )

        await eventually(retrying, what="every e-mail failing or held back during the outage")
        await sink.mail.smtp_outage(False)

        async def all_sent() -> bool:
            ds = [d for d in await deliveries(client, buyer) if d["channel"] == "email"]
            return len(ds) == 8 and all(d["status"] == "sent" for d in ds)

        await eventually(all_sent, timeout=30, what="every e-mail sent after the outage")
        subjects = [m["subject"] for m in await rows(sink, "mail", buyer_mail)]
        for event in burst:
            assert sum(event.order_id in s for s in subjects) == 1, subjects
        assert len(subjects) == 8


async def test_sms_5xx_then_recovery_and_status_callbacks(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer, merchant), number = await people(infra), phone()
    # Every attempt takes a slot of the per-address SMS limit (4 refused + 2 sent to one number): turned off.
    async with service(settings(infra, namespace, primary, port, rate_limit_sms=0), port) as client:
        await register(infra, namespace, p, number)
        await sink.sms.post("/_control/sms", json={"fail_next": 4, "status": 503})
        paid = f.order_paid(p)
        await publish(infra, namespace, paid)

        async def delivered() -> list[dict[str, Any]]:
            ds = [d for d in await deliveries(client, buyer, paid.order_id) if d["channel"] == "sms"]
            return ds if ds and ds[0]["provider_status"] == "delivered" else []

        [sms] = await eventually(delivered, timeout=30, what="the SMS delivered, status from the callback")
        assert sms["status"] == "sent"
        assert any("provider status delivered" in line for line in sms["trace"])  # signature accepted

        async def both_sent() -> bool:  # the merchant's SMS may still be in its backoff after the 503s
            sent = await deliveries(client, merchant, paid.order_id)
            return any(d["channel"] == "sms" and d["status"] == "sent" for d in sent)

        await eventually(both_sent, timeout=30, what="the merchant's SMS sent too")
        texts = [m["body"] for m in await rows(sink, "sms", number)]
        assert sum(paid.order_id in t for t in texts) == 2  # buyer and merchant share the number: once each
        forged = await client.post(
            f"/callbacks/sms/{sms['delivery_id']}",
            headers={"X-Twilio-Signature": "x"},
            data={"MessageSid": "SMx", "MessageStatus": "failed"},
        )
        assert forged.status_code == 403
        assert forged.json()["detail"]["rule"] == "twilio_signature"


async def test_failover_to_the_secondary_providers(
    infra: Infra, namespace: str, primary: Sinks, secondary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer, _), number = await people(infra), phone()
    s = settings(
        infra,
        namespace,
        primary,
        port,
        smtp2_host="127.0.0.1",
        smtp2_port=secondary.smtp_port,
        twilio2_api_base_url=secondary.url,
        sms_status_callbacks=False,
    )
    async with service(s, port) as client, httpx.AsyncClient(base_url=secondary.url) as c:
        backup = SinkApi(c, secondary.mailbox(c))
        await register(infra, namespace, p, number)
        await sink.sms.post("/_control/sms", json={"failing": True, "status": 500})
        await sink.mail.smtp_outage()
        paid = f.order_paid(p)
        await publish(infra, namespace, paid)

        async def sent() -> list[dict[str, Any]]:
            ds = [d for d in await deliveries(client, buyer, paid.order_id) if d["channel"] != "in_site"]
            return ds if len(ds) == 2 and all(d["status"] == "sent" for d in ds) else []

        ds = await eventually(sent, what="e-mail and SMS sent through the secondaries")
        assert {d["provider"] for d in ds} == {"secondary"}
        # The operator desk is decided by the token's operator role, not by any registration.
        operator = await infra.idp.user("operator")
        refused = await client.get("/operator/providers", headers=await buyer.headers())
        assert refused.status_code == 403
        assert refused.json()["detail"]["rule"] == "operators_only"
        r = await client.get("/operator/providers", headers=await operator.headers())
        assert r.status_code == 200, r.text
        breakers = r.json()
        assert breakers["sms"]["secondary_configured"] is True
        assert breakers["sms"]["consecutive_failures"] >= 1
        assert [m["subject"] for m in await rows(backup, "mail", f"{p.buyer_account_id}@example.com")] == [
            f"Payment received for order {paid.order_id}"
        ]
        assert any(paid.order_id in m["body"] for m in await rows(backup, "sms", number))
        assert await rows(sink, "mail", f"{p.buyer_account_id}@example.com") == []


def deadline_events(p: Parties, due_in: float) -> tuple[DeadlineScheduled, DeadlineCleared]:
    oid, dl, now = f.rid("CS"), f.rid("dl"), datetime.now(UTC)
    return (
        f.deadline_scheduled(p, dl, oid, now + timedelta(seconds=due_in)),
        f.deadline_cleared(p, dl, oid, now),
    )


async def test_reminders_escalate_then_stop_when_the_party_acts(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    p, buyer_user, _ = await people(infra)
    buyer = await buyer_user.headers()
    # The deadline is 15 s away: in-site after 3 s, e-mail after 6 s, SMS only after 12 s.
    s = settings(
        infra, namespace, primary, port, reminder_fractions=(0.8, 0.6, 0.2), sms_status_callbacks=False
    )
    async with service(s, port) as client:
        await register(infra, namespace, p, phone())
        scheduled, cleared = deadline_events(p, 15.0)
        await publish(infra, namespace, scheduled)

        async def reminded(channel: str) -> list[dict[str, Any]]:
            ds = await deliveries(client, buyer_user, scheduled.order_id)
            return [d for d in ds if d["channel"] == channel and d["status"] == "sent"]

        [in_site] = await eventually(lambda: reminded("in_site"), what="the in-site reminder")
        [email] = await eventually(lambda: reminded("email"), what="the e-mail reminder")
        assert "needs you by" in email["title"]
        await publish(infra, namespace, cleared)  # the buyer accepted

        async def stopped() -> list[dict[str, Any]]:
            series = (
                await client.get(
                    f"/accounts/{p.buyer_account_id}/reminders",
                    params={"order_id": scheduled.order_id},
                    headers=buyer,
                )
            ).json()
            return series if series and series[0]["status"] == "stopped" else []

        [series] = await eventually(stopped, what="the series stopped")
        assert series["stopped_reason"] == "acted"
        assert [st["state"] for st in series["steps"]] == ["sent", "sent", "waiting"]
        assert await reminded("sms") == []
        assert in_site["message_type"] == "deadline_reminder"


async def test_the_per_address_rate_limit_defers_and_never_drops(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer, _), number = await people(infra), phone()
    s = settings(
        infra,
        namespace,
        primary,
        port,
        rate_limit_sms=2,
        rate_limit_window_seconds=3.0,
        sms_status_callbacks=False,
    )
    async with service(s, port) as client:
        await publish(
            infra, namespace, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=number)
        )
        await publish(
            infra, namespace, f.account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone=phone())
        )
        burst = [f.order_paid(p) for _ in range(3)]
        for event in burst:
            await publish(infra, namespace, event)

        async def three_sent() -> list[dict[str, Any]]:
            texts = await rows(sink, "sms", number)
            return texts if len(texts) == 3 else []

        texts = await eventually(three_sent, what="all three SMS, the third after the window")
        received = sorted(datetime.fromisoformat(t["received_at"]) for t in texts)
        assert (received[2] - received[0]).total_seconds() >= 2.9  # the third waited for the window
        sms_rows = [
            d
            for e in burst
            for d in await deliveries(client, buyer, e.order_id)
            if d["channel"] == "sms" and d["last_error"] is None
        ]
        assert len(sms_rows) == 3  # sent ones clear their error; none dead, none dropped
        assert {
            m["channel"]
            for e in burst
            for m in await deliveries(client, buyer, e.order_id)
            if m["status"] == "sent"
        } == {"in_site", "email", "sms"}


async def test_the_per_address_sms_limit_is_on_by_default(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer, _), number = await people(infra), phone()
    s = settings(infra, namespace, primary, port, sms_status_callbacks=False)  # rate_limit_sms as shipped
    assert (s.rate_limit_sms, s.rate_limit_window_seconds) == (5, 60.0)
    async with service(s, port) as client:
        await publish(
            infra, namespace, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=number)
        )
        await publish(
            infra, namespace, f.account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone=phone())
        )
        burst = [f.order_paid(p) for _ in range(6)]
        for event in burst:
            await publish(infra, namespace, event)

        async def held_back() -> list[dict[str, Any]]:
            ds = [
                d for e in burst for d in await deliveries(client, buyer, e.order_id) if d["channel"] == "sms"
            ]
            return (
                ds
                if len(ds) == 6
                and sum(d["status"] == "sent" for d in ds) == 5
                and any("rate limit" in (d["last_error"] or "") for d in ds)
                else []
            )

        ds = await eventually(held_back, what="five SMS sent and the sixth deferred by the default limit")
        [deferred] = [d for d in ds if d["status"] != "sent"]
        assert deferred["status"] == "pending"  # deferred to when the window frees up, never dropped
        assert deferred["last_error"] == "rate limit: 5 sms per address per 60s, deferred"
        assert len(await rows(sink, "sms", number)) == 5


def erasure(account_id: str) -> AccountErased:
    return AccountErased(
        producer="orders",
        correlation_id=f.rid("corr"),
        payload=AccountErasedPayload(
            account_id=account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
        ),
    )


async def test_an_erased_account_keeps_no_address_and_gets_nothing_more_sent(
    infra: Infra, namespace: str, primary: Sinks, sink: SinkApi
) -> None:
    port = free_port()
    (p, buyer, merchant), number = await people(infra), phone()
    mine = await buyer.headers()
    rcpt_email = f"{f.rid('ops')}@example.com"
    async with service(settings(infra, namespace, primary, port, sms_status_callbacks=False), port) as client:
        await register(infra, namespace, p, number)
        paid = f.order_paid(p)
        await publish(infra, namespace, paid)

        async def sent() -> list[dict[str, Any]]:
            ds = await deliveries(client, buyer, paid.order_id)
            return ds if len(ds) == 3 and all(d["status"] == "sent" for d in ds) else []

        await eventually(sent, what="the buyer's deliveries sent")
        added = await client.post(
            f"/accounts/{buyer}/recipients",
            headers=mine,
            json={"recipients": [{"name": "ops", "email": rcpt_email, "phone": phone()}]},
        )
        assert added.status_code == 201, added.text

        # The owner's export: its contact, its recipients (no secrets), the addresses its messages went to.
        refused = await client.get(f"/accounts/{buyer}/export", headers=await merchant.headers())
        assert (refused.status_code, refused.json()["detail"]["rule"]) == (403, "own_account_only")
        exported = (await client.get(f"/accounts/{buyer}/export", headers=mine)).json()
        assert (exported["contact"]["bound_email"], exported["contact"]["bound_phone"]) == (
            f"{buyer}@example.com",
            number,
        )
        assert [r["email"] for r in exported["recipients"]] == [rcpt_email]
        assert "phone_code_hash" not in str(exported)
        assert f"{buyer}@example.com" in exported["delivery_addresses"]["email"]
        assert number in exported["delivery_addresses"]["sms"]

        # Mail stops going out; then the owner has its contact data erased while an e-mail is still queued.
        await sink.mail.smtp_outage()
        queued = f.order_paid(p)
        await publish(infra, namespace, queued)

        async def waiting() -> list[dict[str, Any]]:
            ds = [d for d in await deliveries(client, buyer, queued.order_id) if d["channel"] == "email"]
            return ds if ds and ds[0]["status"] == "pending" else []

        await eventually(waiting, what="the queued e-mail waiting for the SMTP server")
        event = erasure(buyer.account_id)
        await publish(infra, namespace, event)
        await publish(infra, namespace, event)  # redelivered: erased once

        async def erased() -> dict[str, Any]:
            body: dict[str, Any] = (await client.get(f"/accounts/{buyer}/export", headers=mine)).json()
            return body if body["contact"] and body["contact"]["erased_at"] else {}

        after = await eventually(erased, what="the contact erased")
        masked_email = f"{buyer.account_id[0]}***@example.com"
        assert (after["contact"]["bound_email"], after["contact"]["bound_phone"]) == (
            masked_email,
            f"***{number[-2:]}",
        )
        assert after["recipients"] == []
        assert set(after["delivery_addresses"]["email"]) == {
            masked_email,
            "o***@example.com",
        }  # with the recipient's
        assert rcpt_email not in str(after)
        assert number not in str(after)
        await sink.mail.smtp_outage(False)

        async def merchant_mailed() -> (
            bool
        ):  # the queue runs again: the merchant's e-mail of that order goes out
            return any(
                d["channel"] == "email" and d["status"] == "sent"
                for d in await deliveries(client, merchant, queued.order_id)
            )

        await eventually(merchant_mailed, timeout=30, what="the merchant's e-mail sent after the outage")
        log = await deliveries(client, buyer)
        assert [d["status"] for d in log if d["order_id"] == queued.order_id and d["channel"] == "email"] == [
            "cancelled"
        ]
        assert all(number not in str(d) and f"{buyer}@example.com" not in str(d) for d in log)

        later = f.order_paid(p)
        await publish(infra, namespace, later)
        inbox = await eventually(
            lambda: inbox_titles(client, buyer, later.order_id), what="the later in-site message"
        )
        assert inbox
        assert [d["channel"] for d in await deliveries(client, buyer, later.order_id)] == ["in_site"]
        # the merchant's data is untouched; nothing went to the erased buyer's mailbox after the erasure
        assert any(d["address"] == number for d in await deliveries(client, merchant, paid.order_id))
        assert not any(
            queued.order_id in m["subject"] for m in await rows(sink, "mail", f"{buyer}@example.com")
        )


async def inbox_titles(client: httpx.AsyncClient, user: User, order_id: str) -> list[str]:
    page = (await client.get(f"/accounts/{user}/inbox", headers=await user.headers())).json()
    return [m["title"] for m in page["items"] if m["order_id"] == order_id]
