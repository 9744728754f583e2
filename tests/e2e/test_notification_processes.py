"""notification as its own process with the sinks: status callbacks over real HTTP, a crash during an SMTP
outage, operator replay of dead deliveries, and reminders that survive a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.identity import User
from devstack.stack import Ports, Stack
from shared.schemas import (
    AccountRole,
    DeadlineKind,
    DeadlineScheduled,
    DeadlineScheduledPayload,
    Event,
    Parties,
    PartyRole,
)
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce
from tests.identity import IdentityProvider


@pytest.fixture(scope="module")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Only the sinks (Mailpit, the SMS sink) and the notification process: the test produces the events."""
    ports = Ports.free()
    env = {
        "NOTIFICATION_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports.services['notification']}",
        "NOTIFICATION_DELIVERY_BACKOFF_SECONDS": "0.2",
        "NOTIFICATION_DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
        "NOTIFICATION_DELIVERY_MAX_ATTEMPTS": "3",
        "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.1",
        "NOTIFICATION_BREAKER_COOLDOWN_SECONDS": "0.5",
        "NOTIFICATION_REMINDER_POLL_SECONDS": "0.2",
        "NOTIFICATION_DELIVERY_LEASE_SECONDS": "2",
        "NOTIFICATION_CONSUMER_BACKOFF_SECONDS": "0.1",
        "NOTIFICATION_RELAY_POLL_SECONDS": "0.2",
        "NOTIFICATION_RATE_LIMIT_SMS": "0",
    }
    s = Stack(
        tmp_path_factory.mktemp("e2e-notification"),
        ports,
        namespace=f"n{uuid.uuid4().hex[:8]}",
        service_env=env,
    ).using(infra.stack)
    try:
        s.provision()
        s.start_sinks()
        s.start_service("notification")
        yield s
    finally:
        s.stop()


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        mailbox = stack.mailbox(c)
        await c.post(f"{stack.sms_url}/_control/reset")
        await mailbox.reset_faults()
        yield c
        await c.post(f"{stack.sms_url}/_control/reset")
        await mailbox.reset_faults()


async def publish(stack: Stack, event: Event) -> None:
    """As the producing service would (here the test plays it, as the broker admin)."""
    await produce(
        stack.kafka_client(),
        f"{stack.namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=event.partition_key,
    )


async def people(idp: IdentityProvider) -> tuple[Parties, dict[str, User]]:
    """A buyer and a merchant of the running Keycloak: the events name them, their tokens read their logs."""
    buyer, merchant = await idp.user("buyer"), await idp.user("merchant")
    return (
        Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id),
        {buyer.account_id: buyer, merchant.account_id: merchant},
    )


def phone() -> str:
    return "+86139" + f"{uuid.uuid4().int % 10**8:08d}"


async def deliveries(stack: Stack, c: httpx.AsyncClient, who: User, order_id: str) -> list[dict[str, Any]]:
    r = await c.get(
        f"{stack.url('notification')}/accounts/{who.account_id}/deliveries",
        params={"order_id": order_id},
        headers=await who.headers(),
    )
    return list(r.json()) if r.status_code == 200 else []


async def sink_rows(stack: Stack, c: httpx.AsyncClient, kind: str, to: str) -> list[dict[str, Any]]:
    """The mails (from Mailpit) or SMS (from the SMS sink) sent to one address."""
    if kind == "mail":
        return [asdict(m) for m in await stack.mailbox(c).messages(to, full=True)]
    return list((await c.get(f"{stack.sms_url}/sms", params={"to": to})).json())


async def test_sms_status_callbacks_reach_the_delivery_over_http(
    stack: Stack, client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    (p, who), number = await people(idp), phone()
    await publish(stack, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=number))
    await publish(stack, f.account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone=phone()))
    paid = f.order_paid(p)
    await publish(stack, paid)

    async def delivered() -> list[dict[str, Any]]:
        ds = [
            d
            for d in await deliveries(stack, client, who[p.buyer_account_id], paid.order_id)
            if d["channel"] == "sms"
        ]
        return ds if ds and ds[0]["provider_status"] == "delivered" else []

    [sms] = await eventually(
        delivered, timeout=30, what="the SMS marked delivered by the provider's callback"
    )
    assert sms["provider_ref"].startswith("SM")
    assert [m["to"] for m in await sink_rows(stack, client, "sms", number)] == [number]


async def test_a_crash_during_an_smtp_outage_then_an_operator_replay(
    stack: Stack, client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    (p, who), operator = await people(idp), await idp.user("operator")
    buyer = who[p.buyer_account_id]
    await publish(
        stack, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=phone(), email=buyer.email)
    )
    await publish(stack, f.account_registered(p.merchant_account_id, AccountRole.MERCHANT, phone=phone()))
    await stack.mailbox(client).smtp_outage()
    burst = [f.order_paid(p) for _ in range(3)]
    for event in burst:
        await publish(stack, event)

    async def dead() -> bool:  # three attempts each, then dead-lettered and visible
        emails = [
            d
            for e in burst
            for d in await deliveries(stack, client, buyer, e.order_id)
            if d["channel"] == "email"
        ]
        return len(emails) == 3 and all(d["status"] == "dead" for d in emails)

    await eventually(dead, timeout=60, what="the buyer's e-mails dead after their attempts")
    stack.services["notification"].kill()  # a crash: nothing it holds may be lost
    await stack.mailbox(client).smtp_outage(False)
    stack.start_service("notification")

    base = stack.url("notification")
    listed = await client.get(f"{base}/operator/deliveries/dead", headers=await operator.headers())
    not_operator = await client.get(f"{base}/operator/deliveries/dead", headers=await buyer.headers())
    assert not_operator.status_code == 403
    anonymous = await client.get(
        f"{base}/operator/deliveries/dead", headers={"X-Account-Id": operator.account_id}
    )
    assert anonymous.status_code == 401
    mine = [d for d in listed.json() if d["account_id"] == p.buyer_account_id]
    assert len(mine) == 3
    assert "address" not in mine[0]
    for d in mine:
        r = await client.post(
            f"{base}/operator/deliveries/{d['delivery_id']}/replay", headers=await operator.headers()
        )
        assert r.json()["status"] == "pending"
    again = await client.post(
        f"{base}/operator/deliveries/{mine[0]['delivery_id']}/replay", headers=await operator.headers()
    )
    assert again.json()["status"] in {"pending", "sending", "sent"}  # a second click changes nothing

    async def sent() -> bool:
        emails = [
            d
            for e in burst
            for d in await deliveries(stack, client, buyer, e.order_id)
            if d["channel"] == "email"
        ]
        return all(d["status"] == "sent" for d in emails) and len(emails) == 3

    await eventually(sent, timeout=30, what="the replayed e-mails sent")
    subjects = [m["subject"] for m in await sink_rows(stack, client, "mail", buyer.email)]
    assert sorted(subjects) == sorted(f"Payment received for order {e.order_id}" for e in burst)
    [one] = [d for d in await deliveries(stack, client, buyer, burst[0].order_id) if d["channel"] == "email"]
    assert any(f"replayed by operator {operator.account_id}" in line for line in one["trace"])


async def test_reminders_survive_a_restart(
    stack: Stack, client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    p, who = await people(idp)
    buyer = who[p.buyer_account_id]
    await publish(stack, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=phone()))
    oid = f.rid("CS")
    due = datetime.now(UTC) + timedelta(seconds=14)  # steps at 7 s, 10.5 s and 12.6 s from now
    await publish(
        stack,
        DeadlineScheduled(
            producer="t",
            correlation_id="c",
            order_id=oid,
            payload=DeadlineScheduledPayload(
                deadline_id=f.rid("dl"),
                kind=DeadlineKind.AUTO_ACCEPTANCE,
                service_order_id="SO",
                order_id=oid,
                node="accept",
                party=PartyRole.BUYER,
                due_at=due,
                consequence="the system accepts",
                parties=p,
            ),
        ),
    )
    base = stack.url("notification")

    async def scheduled() -> bool:
        r = await client.get(
            f"{base}/accounts/{p.buyer_account_id}/reminders",
            params={"order_id": oid},
            headers=await buyer.headers(),
        )
        return r.status_code == 200 and len(r.json()) == 1

    await eventually(scheduled, what="the reminder series stored")
    stack.services["notification"].kill()
    stack.start_service("notification")

    async def all_three() -> list[dict[str, Any]]:
        ds = await deliveries(stack, client, buyer, oid)
        return (
            ds if {d["channel"] for d in ds if d["status"] == "sent"} == {"in_site", "email", "sms"} else []
        )

    ds = await eventually(all_three, timeout=40, what="in-site, then e-mail, then SMS reminders")
    by_channel = {d["channel"]: d["created_at"] for d in ds}
    assert by_channel["in_site"] < by_channel["email"] < by_channel["sms"]
    assert len(ds) == 3


async def test_a_waiting_inbox_read_is_answered_by_the_next_message_and_by_a_stop(
    stack: Stack, client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    p, who = await people(idp)
    buyer = who[p.buyer_account_id]
    inbox = f"{stack.url('notification')}/accounts/{p.buyer_account_id}/inbox"

    async def holding() -> bool:  # the service counts the reads it holds in /readyz
        ready = await client.get(f"{stack.url('notification')}/readyz")
        return bool(ready.json()["waiting_reads"]["inbox"] == 1)

    async def read(**params: Any) -> asyncio.Task[httpx.Response]:
        headers = await buyer.headers()
        held = asyncio.create_task(
            client.get(inbox, params={"wait": 25, **params}, headers=headers, timeout=40)
        )
        await eventually(holding, what="the read held by the service")
        return held

    await publish(stack, f.account_registered(p.buyer_account_id, AccountRole.BUYER, phone=phone()))
    held = await read()
    paid = f.order_paid(p)
    await publish(stack, paid)
    page = (await held).json()  # answered by the message, not by the end of its wait
    assert [m["order_id"] for m in page["items"]] == [paid.order_id]
    assert page["items"][0]["title"] == f"Payment received for order {paid.order_id}"
    seen = page["items"][0]["message_id"]

    # Told to stop, the process answers a held read with what it has, then stops: without that, the server
    # would wait out its graceful timeout and then cut the request off without an answer.
    held = await read(seen=seen)
    process = stack.services["notification"]
    stopping = asyncio.create_task(asyncio.to_thread(process.stop))
    answered = await held
    assert answered.status_code == 200
    assert [m["message_id"] for m in answered.json()["items"]] == [seen]
    await stopping
    # A clean shutdown (uvicorn then re-raises the SIGTERM it caught, so the exit status is the signal's).
    assert '"msg": "notification stopped"' in process.output()
    stack.start_service("notification")
