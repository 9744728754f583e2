"""Delivery guarantees on the real broker and database: dead letters, redelivery, exactly-once effects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack.mailbox import Mail
from devstack.marketplace import Suite
from services.notification.app import create_app as notification_app
from services.notification.settings import NotificationSettings
from services.orders.app import create_app as orders_app
from services.orders.settings import OrdersSettings
from services.partner.app import create_app as partner_app
from services.partner.settings import PartnerSettings
from shared.schemas import AccountRole, Event, Topic, dead_letter
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import Sinks, eventually, produce, read_topic, running, start_sinks


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("delivery-sinks")
    s = start_sinks(root / "data", root / "logs")
    yield s
    s.stop()


async def publish(infra: Infra, namespace: str, event: Event, key: str | None = None) -> None:
    """Publish like a service would; `key` overrides the partition key so a later marker event lands on the
    same partition as earlier ones, and is consumed only after them."""
    await produce(
        infra.kafka_client(),
        f"{namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=key or event.partition_key,
    )


async def test_malformed_events_are_dead_lettered_and_the_next_good_one_is_processed(
    infra: Infra, namespace: str
) -> None:
    """Poison goes to the dead-letter topic at once; an event about an order not known (yet) is parked, not
    poison, and dead-lettered with that reason only after its bound (here a few seconds)."""
    settings = f.settings(OrdersSettings, infra, namespace, park_bound_seconds=3.0)
    buyer, merchant, operator = [await infra.idp.user(r) for r in ("buyer", "merchant", "operator")]
    async with running(orders_app(settings)) as orders:
        suite = Suite({"orders": ""}, orders)
        for who, phone in ((buyer, "+8613800001234"), (merchant, "+8613800005678")):
            await suite.profile(who, phone)
        product = await suite.list_product(merchant, operator)
        order = await suite.order(buyer, product["product_id"])
        await suite.pay(infra.idp.payment, order)
        topic = f"{namespace}.{Topic.ACCEPTANCE_DONE}"
        key = order["order_id"]  # same key, same partition: the bad records sit right before the good one
        p = f.Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
        await produce(infra.kafka_client(), topic, b"{not json", key=key)
        await produce(
            infra.kafka_client(), topic, {"event_type": "acceptance.done", "producer": "x"}, key=key
        )
        unknown = f.acceptance_done(p, "CS-does-not-exist")
        await produce(infra.kafka_client(), topic, unknown.model_dump_json().encode(), key=key)
        await publish(infra, namespace, f.acceptance_done(p, key))

        async def completed() -> bool:
            r = await orders.get(f"/orders/{key}", headers=await buyer.headers())
            return bool(r.json()["status"] == "completed")

        await eventually(completed, what="the good event after three bad ones")
        ops = await operator.headers()

        async def parked() -> list[dict[str, object]]:
            rows = (await orders.get("/operator/parked", headers=ops)).json()
            return [r for r in rows if r["aggregate"] == "CS-does-not-exist"]

        [waiting] = await eventually(parked, what="the unknown order's event parked")
        assert "not known" in str(waiting["reason"])
        dlt = await read_topic(infra.kafka_client(), dead_letter(topic), at_least=3, timeout=40)
        reasons = [dict(r.headers)["x-reason"].decode() for r in dlt]
        assert len(dlt) == 3, reasons
        assert "JSONDecodeError" in reasons[0] or "invalid" in reasons[0]
        assert "payload" in reasons[1]
        assert "Field required" in reasons[1]
        assert reasons[2].startswith("NotYetKnown")
        assert "CS-does-not-exist" in reasons[2]
        assert await parked() == []
        assert {dict(r.headers)["x-original-topic"].decode() for r in dlt} == {topic}
        assert all(r.key == key.encode() for r in dlt)


async def test_redelivered_events_send_nothing_twice(infra: Infra, namespace: str, sinks: Sinks) -> None:
    settings = f.settings(
        NotificationSettings, infra, namespace, smtp_port=sinks.smtp_port, twilio_api_base_url=sinks.url
    )
    buyer, merchant = await infra.idp.user("buyer"), await infra.idp.user("merchant")
    p = f.Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
    people = {buyer.account_id: buyer, merchant.account_id: merchant}
    async with (
        running(notification_app(settings)) as notification,
        httpx.AsyncClient(base_url=sinks.url) as sink,
    ):
        await publish(
            infra, namespace, f.account_registered(buyer.account_id, AccountRole.BUYER, email=buyer.email)
        )
        await publish(
            infra,
            namespace,
            f.account_registered(merchant.account_id, AccountRole.MERCHANT, email=merchant.email),
        )
        paid = f.order_paid(p)
        await publish(infra, namespace, paid)

        async def mails(to: str) -> list[Mail]:
            return await sinks.mailbox(sink).messages(to)

        async def sent(order_id: str) -> bool:
            deliveries = []
            for account, who in people.items():
                deliveries += (
                    await notification.get(
                        f"/accounts/{account}/deliveries",
                        params={"order_id": order_id},
                        headers=await who.headers(),
                    )
                ).json()
            return len(deliveries) == 6 and all(d["status"] == "sent" for d in deliveries)

        await eventually(lambda: sent(paid.order_id), what="first order's six deliveries sent")
        await publish(infra, namespace, paid)  # the same event again (same event id): a redelivery
        await publish(infra, namespace, paid)
        marker = f.order_paid(p)  # a later event on the same partition: once it is done, so are the repeats
        await publish(infra, namespace, marker, key=paid.order_id)
        await eventually(lambda: sent(marker.order_id), what="the marker's deliveries sent")
        subjects = [m.subject for m in await mails(buyer.email)]
        assert sum(paid.order_id in s for s in subjects) == 1, subjects
        sms = (await sink.get("/sms", params={"to": "+8613800001234"})).json()
        assert sum(paid.order_id in s["body"] for s in sms) == 2  # one to the buyer, one to the merchant
        inbox = (
            await notification.get(f"/accounts/{p.buyer_account_id}/inbox", headers=await buyer.headers())
        ).json()
        assert sum(paid.order_id in m["title"] for m in inbox["items"]) == 1
        assert inbox["unread"] == 2


async def test_commission_accrues_once_whichever_event_comes_first(infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra, namespace)
    csp, stranger = await infra.idp.user("provider"), await infra.idp.user("provider")
    provider = csp.account_id
    async with running(partner_app(settings)) as partner:
        first, second = f.parties(provider), f.parties(provider)
        paid1, paid2 = (
            f.order_paid(first, amount="1234.56", ratio="0.15"),
            f.order_paid(second, amount="99.99"),
        )
        # order 1: paid then accepted, each delivered twice; order 2: accepted before its payment arrives
        accepted1 = f.acceptance_done(first, paid1.order_id)
        # Everything on order 1's partitions, so order 2's events are consumed after order 1's repeats.
        for event in (
            paid1,
            paid1,
            accepted1,
            accepted1,
            accepted1,
            f.acceptance_done(second, paid2.order_id),
            paid2,
        ):
            await publish(infra, namespace, event, key=paid1.order_id)

        async def ledger() -> dict[str, object] | None:
            body = (await partner.get(f"/providers/{provider}/ledger", headers=await csp.headers())).json()
            return body if len(body["entries"]) >= 2 else None

        body = await eventually(ledger, what="two ledger entries")
        amounts = sorted(e["amount"] for e in body["entries"])
        assert amounts == [
            "10.00",
            "185.18",
        ]  # 1234.56 × 0.15 = 185.184 → 185.18; 99.99 × 0.10 = 9.999 → 10.00
        assert body["total"] == "195.18"
        forbidden = await partner.get(f"/providers/{provider}/ledger", headers=await stranger.headers())
        assert forbidden.status_code == 403
        anonymous = await partner.get(f"/providers/{provider}/ledger", headers={"X-Account-Id": provider})
        assert anonymous.status_code == 401
