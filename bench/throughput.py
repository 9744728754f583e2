"""Throughput of the two pipelines the ceilings are compared with.

- deliveries: a burst of payments (4 external sends and 2 in-site messages per order.paid); external
  deliveries per second from the first payment to the last send the sinks stamped, each counted exactly once
  per (order, channel, recipient) from what the sinks accepted.
- notification: N `order.paid` events handed to the broker at once, as its ceiling loop gets them; events
  per second until the sinks stamped the last of their sends (counted as above).
- orders: N `acceptance.done` events handed to the broker at once (the bench publishes them as supervision's
  relay would, for orders already paid and processing); events per second until the orders relay published
  the last `order.status_changed` to completed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.api import PRICE, Api, BenchError, Party
from bench.exactly import Send, account, sends
from bench.latency import bounded
from bench.memory import cpu_share
from bench.watch import CompletionWatch, topic_name
from devstack.stack import Stack
from shared.schemas import (
    AcceptanceDone,
    DeliveryType,
    Event,
    OrderPaid,
    OrderPaidPayload,
    PartyRole,
    ProductSnapshot,
)
from shared.schemas.events import AcceptanceDonePayload, Parties

SINK_POLL = 1.0  # each poll lists every row for the two parties; the end time comes from the sinks' stamps


async def _sent(api: Api, parties: list[Party]) -> tuple[list[Send], list[float]]:
    """Every send the sinks accepted for these parties, and the sinks' stamps of them."""
    got: list[Send] = []
    stamps: list[float] = []
    for p in parties:
        mail, sms = await asyncio.gather(api.sink("mail", p.email), api.sink("sms", p.phone))
        for rows, channel, field, to in ((mail, "email", "subject", p.email), (sms, "sms", "body", p.phone)):
            found = sends(rows, channel, field, to)
            got += found
            stamps += [datetime.fromisoformat(r["received_at"]).timestamp() for r in rows]
    return got, stamps


def _expected(order_ids: list[str], buyer: Party, merchant: Party) -> list[tuple[str, str, str]]:
    """The external sends of these paid orders: e-mail and SMS to the buyer and to the merchant."""
    return [
        (oid, channel, to.lower())
        for oid in order_ids
        for channel, to in (
            ("email", buyer.email),
            ("email", merchant.email),
            ("sms", buyer.phone),
            ("sms", merchant.phone),
        )
    ]


async def _sends_since(
    api: Api,
    parties: list[Party],
    expected: list[tuple[str, str, str]],
    started: tuple[float, float],
    cap: float,
    log: Any,
) -> dict[str, Any]:
    """Wait until the sinks hold every expected send (at most `cap` seconds from `started`, a perf_counter
    and a wall-clock reading of the same moment); the span ends at the sinks' stamp of the last one."""
    t0, wall0 = started
    wanted = set(expected)
    capped = False
    while True:
        await asyncio.sleep(SINK_POLL)
        seen, _ = await _sent(api, parties)
        if len({s.slot for s in seen} & wanted) >= len(wanted):
            break
        if time.perf_counter() - t0 > cap:  # a slow machine: the rate so far is still a measurement
            capped = True
            log(f"  stopped waiting after {cap:.0f}s; rate over that window")
            break
    observed_s = time.perf_counter() - t0
    # Let a late duplicate (a re-claimed send) show up before counting: the sinks are read once more.
    await asyncio.sleep(2.0)
    seen, stamps_all = await _sent(api, parties)
    if not any(s.slot in wanted for s in seen):
        raise BenchError(f"no e-mail or SMS of {len(wanted) // 4} paid orders reached the sinks ({cap:.0f}s)")
    once = account(seen, expected)
    stamps = sorted(t - wall0 for t in stamps_all if t >= wall0)
    span = max(observed_s if capped else stamps[-1], 1e-6)
    delivered = once["delivered"]
    progress = {f"{q}%": round(stamps[max(0, len(stamps) * q // 100 - 1)], 2) for q in (25, 50, 75, 100)}
    log(
        f"  {delivered}/{len(expected)} sends in {span:.2f}s; {once['duplicates']} duplicates, "
        f"{once['missing']} missing"
    )
    return {
        "external_sends_expected": len(expected),
        "external_sends_seen": delivered,
        "exactly_once": once,
        "capped": capped,
        "span_s": round(span, 3),
        "observed_s": round(observed_s, 3),
        "first_send_s": round(stamps[0], 3),
        "progress_s": progress,
        # a duplicate notifies no one new: the rate counts each (order, channel, recipient) once
        "external_deliveries_per_s": round(delivered / span, 1),
        "events_per_s": round(delivered / 4 / span, 1),
    }


async def deliveries(
    api: Api, orders: int, concurrency: int, log: Any, cpu: Callable[[], dict[str, float]], cap: float
) -> dict[str, Any]:
    buyer, merchant = await api.pair()
    parties = [buyer, merchant]
    order_ids = await bounded(6, [api.place(buyer, merchant) for _ in range(orders)])
    await api.quiesce(parties)
    log(f"  placed {orders} orders; paying them with concurrency {concurrency}")

    cpu0, t0, wall0 = cpu(), time.perf_counter(), time.time()
    await bounded(concurrency, [api.pay(buyer, oid) for oid in order_ids])
    paid_s = time.perf_counter() - t0
    sent = await _sends_since(api, parties, _expected(order_ids, buyer, merchant), (t0, wall0), cap, log)
    return {
        "orders": orders,
        "pay_concurrency": concurrency,
        "pay_phase_s": round(paid_s, 3),
        "pay_requests_per_s": round(orders / paid_s, 1),
        **sent,
        "cpu_cores": cpu_share(cpu0, cpu(), sent["observed_s"]),
    }


def paid_event(buyer: str, merchant: str) -> OrderPaid:
    """An `order.paid` as the orders relay publishes it, for a new order of these two accounts."""
    now = datetime.now(UTC)
    oid = f"CS{now:%y%m%d%H%M%S}{uuid.uuid4().hex[:8].upper()}"
    product = ProductSnapshot(
        product_id=f"p-{uuid.uuid4().hex[:8]}",
        name="Database migration",
        delivery_type=DeliveryType.MANUAL_SERVICE,
        provider_share_ratio=Decimal("0.10"),
    )
    return OrderPaid(
        producer="orders",
        correlation_id=f"bench-{uuid.uuid4().hex[:12]}",
        order_id=oid,
        payload=OrderPaidPayload(
            order_id=oid,
            parties=Parties(buyer_account_id=buyer, merchant_account_id=merchant),
            product=product,
            amount=Decimal(PRICE),
            paid_at=now,
        ),
    )


async def notification_pipeline(
    api: Api, stack: Stack, n: int, log: Any, cpu: Callable[[], dict[str, float]], cap: float
) -> dict[str, Any]:
    """The notification pipeline alone, as its ceiling loop is measured: `n` order.paid events handed to
    the broker at once (as the orders relay would publish them), timed until the sinks hold every e-mail and
    SMS they cause. The other consumers of order.paid (supervision, partner) take them too, as they would."""
    buyer, merchant = await api.pair()
    parties = [buyer, merchant]
    await api.quiesce(parties)
    events: list[Event] = [paid_event(buyer.account_id, merchant.account_id) for _ in range(n)]
    producer = AIOKafkaProducer(**stack.kafka_client(), acks="all", linger_ms=5)
    await producer.start()
    try:
        cpu0, t0, wall0 = cpu(), time.perf_counter(), time.time()
        await publish(producer, topic_name(stack, OrderPaid.topic), events)
        handed = time.perf_counter() - t0
    finally:
        await producer.stop()
    order_ids = [e.order_id for e in events if e.order_id is not None]
    sent = await _sends_since(api, parties, _expected(order_ids, buyer, merchant), (t0, wall0), cap, log)
    return {
        "events": n,
        "handover_s": round(handed, 3),
        **sent,
        "cpu_cores": cpu_share(cpu0, cpu(), sent["observed_s"]),
    }


def acceptance_event(order_id: str, so_id: str, buyer: str, merchant: str) -> AcceptanceDone:
    now = datetime.now(UTC)
    return AcceptanceDone(
        producer="supervision",
        correlation_id=f"bench-{uuid.uuid4().hex[:12]}",
        order_id=order_id,
        payload=AcceptanceDonePayload(
            service_order_id=so_id,
            order_id=order_id,
            accepted_by=PartyRole.BUYER,
            accepted_at=now,
            parties=Parties(buyer_account_id=buyer, merchant_account_id=merchant),
        ),
    )


async def publish(producer: AIOKafkaProducer, topic: str, events: list[Event]) -> None:
    """As an outbox relay does: every record handed over, then every ack awaited."""
    acks = [
        await producer.send(
            topic,
            e.model_dump_json().encode(),
            key=e.partition_key.encode(),
            headers=[
                ("content-type", b"application/json"),
                ("event-type", e.event_type.encode()),
                ("event-id", str(e.event_id).encode()),
            ],
        )
        for e in events
    ]
    await asyncio.gather(*acks)


async def orders_pipeline(
    api: Api, stack: Stack, watch: CompletionWatch, n: int, log: Any, cpu: Callable[[], dict[str, float]]
) -> dict[str, Any]:
    buyer, merchant = await api.pair()

    async def processing() -> tuple[str, str]:
        oid = await api.place(buyer, merchant)
        await api.pay(buyer, oid)
        return oid, await api.service_order(buyer, oid)

    ready = await bounded(6, [processing() for _ in range(n)])
    log(f"  {n} orders paid (processing); backlog drained in {await api.quiesce([buyer, merchant]):.1f}s")
    events: list[Event] = [
        acceptance_event(oid, so, buyer.account_id, merchant.account_id) for oid, so in ready
    ]
    producer = AIOKafkaProducer(**stack.kafka_client(), acks="all", linger_ms=5)
    await producer.start()
    try:
        cpu0, t0 = cpu(), time.time()
        await publish(producer, topic_name(stack, AcceptanceDone.topic), events)
        handed = time.time() - t0
        seen = await asyncio.gather(*(watch.wait(oid, 120) for oid, _ in ready))
        wall = time.time() - t0
        cores = cpu_share(cpu0, cpu(), wall)
    finally:
        await producer.stop()
    done = [s for s in seen if s is not None]
    if not done:
        raise BenchError("no order completed after its acceptance.done")
    last = max(s.stamped for s in done)
    template = await api.call("GET", "orders", f"/orders/{ready[0][0]}", buyer)  # the ceiling's documents
    log(f"  {len(done)}/{n} orders completed {last - t0:.2f}s after the events were handed over")
    return {
        "events": n,
        "completed": len(done),
        "handover_s": round(handed, 3),
        "span_s": round(last - t0, 3),
        "events_per_s": round(len(done) / max(last - t0, 1e-6), 1),
        "cpu_cores": cores,
        "_template": template,
    }
