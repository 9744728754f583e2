"""`GET /metrics` on the four running services after one order: the named series are there, without a token,
with values that say what the order did (issue 13).

The stack is the session's: counters carry what earlier tests did too, so each is compared with a scrape taken
before this test's order."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import SERVICES, Stack
from tests.e2e.journey import Journey
from tests.helpers import eventually
from tests.identity import IdentityProvider

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(http: httpx.AsyncClient, stack: Stack, service: str) -> Samples:
    """Every replica's samples of `service`, by series name; no token (only the monitoring namespace may
    reach /metrics, by NetworkPolicy)."""
    out: Samples = defaultdict(list)
    for url in stack.urls(service):
        resp = await http.get(f"{url}/metrics")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/plain")
        for family in text_string_to_metric_families(resp.text):
            for s in family.samples:
                out[s.name].append((dict(s.labels), float(s.value)))
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


async def scrape_all(http: httpx.AsyncClient, stack: Stack) -> dict[str, Samples]:
    return {s: await scrape(http, stack, s) for s in SERVICES}


async def record_of(stack: Stack, topic: str, key: str) -> ConsumerRecord[bytes, bytes]:
    """The record keyed `key` on `topic`, read from the start (no consumer group: nothing committed)."""
    consumer = AIOKafkaConsumer(
        topic, **stack.kafka_client(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        if record.key == key.encode():
                            return record
    finally:
        await consumer.stop()


async def test_every_service_shows_the_named_series_after_an_order(
    e2e: Stack, http: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    before = await scrape_all(http, e2e)
    j = await Journey(e2e, http, idp).setup(provider=False)
    await j.buy()
    await j.service_order()

    async def buyer_heard() -> bool:  # order paid: a mail to the buyer
        return len(await j.mail(j.buyer)) >= 1

    await eventually(buyer_heard, timeout=60, what="the buyer's e-mail about the paid order")

    # a refused token, a poison record on order.paid, and order.paid delivered again
    refused = await http.get(
        f"{e2e.url('orders')}/orders/{j.order_id}", headers={"Authorization": "Bearer x"}
    )
    assert refused.status_code == 401
    topic = f"{e2e.namespace}.order.paid"
    paid = await record_of(e2e, topic, j.order_id)
    producer = AIOKafkaProducer(**e2e.kafka_client())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not json " + uuid.uuid4().hex.encode(), key=b"poison")
        await producer.send_and_wait(topic, paid.value, key=paid.key, headers=list(paid.headers))
    finally:
        await producer.stop()

    async def settled() -> dict[str, Samples] | None:
        now = await scrape_all(http, e2e)
        done = all(
            total(now[s], "koo_dead_letters_total", topic=topic)
            > total(before[s], "koo_dead_letters_total", topic=topic)
            and total(now[s], "koo_inbox_duplicates_total", consumer=s)
            > total(before[s], "koo_inbox_duplicates_total", consumer=s)
            for s in ("supervision", "notification")
        )
        return now if done else None

    after = await eventually(
        settled, timeout=60, interval=0.5, what="the dead letter and the duplicate counted"
    )

    def grew(scraped: str, name: str, **labels: str) -> float:
        """How much series `name` (summed over the labels not named) grew on service `scraped`."""
        return total(after[scraped], name, **labels) - total(before[scraped], name, **labels)

    # HTTP, by route template
    assert grew("orders", "http_requests_total", method="POST", route="/orders", status="201") >= 1
    assert (
        grew("orders", "http_requests_total", method="POST", route="/orders/{order_id}/pay", status="200")
        >= 1
    )
    assert grew("orders", "http_request_duration_seconds_count", method="POST", route="/orders") >= 1
    assert not any(
        j.order_id in labels.get("route", "") for labels, _ in after["orders"]["http_requests_total"]
    )
    assert grew("orders", "koo_token_verification_failures_total", reason="malformed") == 1
    # notification sent this order's messages
    assert grew("notification", "koo_deliveries_total", channel="email", result="sent") >= 1
    for service in SERVICES:
        samples = after[service]
        # every worker alive, the outbox relay among them, and each one's quarantined items (earlier tests of
        # the session may have left some: only their presence is asserted)
        workers = {
            labels["worker"]: v for labels, v in samples["koo_worker_up"] if labels["service"] == service
        }
        assert workers.get(f"outbox-relay:{service}") == 1, workers
        assert workers.get(f"parked-events:{service}") == 1, workers
        assert set(workers.values()) == {1.0}, workers
        quarantined = {labels["worker"]: v for labels, v in samples["koo_worker_quarantined"]}
        assert quarantined.keys() == workers.keys()
        assert min(quarantined.values()) >= 0
        [(labels, pending)] = samples["koo_outbox_pending"]
        assert labels == {"service": service}
        assert pending >= 0
        # FastStream's consumer series, named by FastStream, labelled with the service
        assert any(name.startswith("faststream_") for name in samples), service
        assert total(samples, "process_resident_memory_bytes") > 0
    # the relay's publishes and the consumers' receipts, as FastStream counts them
    assert grew("orders", "faststream_published_messages_total", app_name="orders", status="success") >= 1
    for service in ("supervision", "notification"):
        assert grew(service, "faststream_received_messages_total", app_name=service, service=service) >= 2
        assert grew(service, "koo_dead_letters_total", service=service, topic=topic) == 1
        assert grew(service, "koo_inbox_duplicates_total", service=service, consumer=service) >= 1
