"""Ceiling loops: what the broker, the database and the sinks allow for each pipeline without the services.

Each loop is a minimal script on the same Kafka, SecantusDB and sinks: it consumes real events (built
with shared/schemas) from a private topic, writes in one transaction per batch what the service writes for
them (the inbox claim, the state, the outbox or the delivery rows), then does the pipeline's output (the
e-mail and SMS sends, or the publication of the outbox rows) and marks it done, and commits the consumed
offsets. It batches as the services may (`handle_batch`, a dispatcher sending several at once, a relay
awaiting a batch of acks), and overlaps a batch's output with the next batch's transaction.

- notification, per order.paid: claim (`processed_events`), the two accounts' contacts read, 2 `inbox` rows
  and 6 `deliveries` rows (in-site, e-mail, SMS for buyer and merchant); then 2 e-mails over pooled SMTP
  sessions to Mailpit and 2 SMS through the Twilio SDK's async client to the SMS sink, and each delivery
  marked sent with its provider reference. Like the service, it asks for the SMS status callbacks: a small
  HTTP server in the bench takes them (two per SMS, signed), checks their signature and records each status
  on its delivery, those that arrive together in one write (shared/platform/groupcommit.py).
- orders, per acceptance.done: claim, the order read and replaced (versioned, completed), the outbox key's
  sequence read and updated, the `order.status_changed` outbox row inserted; then the row published and
  marked.

Both run in databases of their own (`<namespace>_ceiling_*`) and send to addresses of their own.
"""

from __future__ import annotations

import asyncio
import email.message
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiosmtplib
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from bench.api import random_phone
from bench.throughput import acceptance_event, paid_event, publish
from bench.watch import topic_name
from devstack.stack import Stack
from shared.platform.groupcommit import GroupCommit
from shared.platform.mongo import outbox_document
from shared.schemas import (
    AcceptanceDone,
    Event,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
)

Doc = dict[str, Any]
BATCH = 50  # events per transaction at most
SEND_CONCURRENCY = 16  # in flight per channel (the service allows up to 128 concurrent deliveries)
TWILIO_SID, TWILIO_TOKEN, TWILIO_FROM = "AC00000000000000000000000000000000", "dev-token", "+15005550006"


async def _topic(stack: Stack, name: str) -> str:
    topic = topic_name(stack, name)
    await asyncio.to_thread(stack.admin().topics, [topic], 6)
    return topic


async def _produce(stack: Stack, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(**stack.kafka_client(), acks="all", linger_ms=5)
    await producer.start()
    try:
        await publish(producer, topic, events)
    finally:
        await producer.stop()


async def run_loop(
    stack: Stack,
    topic: str,
    model: type[Event],
    n: int,
    transact: Callable[[list[Any]], Awaitable[Any]],
    output: Callable[[Any], Awaitable[None]],
    within: float = 180.0,
) -> dict[str, Any]:
    """Consume `n` events: `transact` each batch, then `output` it and commit its offsets (in order, one batch
    behind, so a batch's output overlaps the next batch's transaction). Timed from the first record read."""
    consumer = AIOKafkaConsumer(
        topic,
        **stack.kafka_client(),
        group_id=f"{topic}.ceiling",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    queue: asyncio.Queue[tuple[int, Any, dict[TopicPartition, int]] | None] = asyncio.Queue(maxsize=2)
    first: list[float] = []
    done = [0, 0]  # events output, batches

    async def take() -> None:
        read = 0
        while read < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            first[:1] = first[:1] or [time.time()]
            events = [model.model_validate_json(r.value) for r in records]
            offsets = {tp: rs[-1].offset + 1 for tp, rs in batches.items()}
            await queue.put((len(events), await transact(events), offsets))
            read += len(events)
        await queue.put(None)

    async def give() -> None:
        while (item := await queue.get()) is not None:
            k, carried, offsets = item
            await output(carried)
            await consumer.commit(offsets)
            done[0] += k
            done[1] += 1

    try:
        async with asyncio.timeout(within):
            await asyncio.gather(take(), give())
    finally:
        await consumer.stop()
    span = time.time() - first[0]
    return {
        "events": done[0],
        "batches": done[1],
        "span_s": round(span, 3),
        "events_per_s": round(done[0] / max(span, 1e-6), 1),
    }


async def _in_transaction(db: AsyncDatabase[Doc], work: Callable[[Any], Awaitable[None]]) -> None:
    session = db.client.start_session()
    try:
        await session.start_transaction()
        await work(session)
        await session.commit_transaction()
    finally:
        await session.end_session()


# --- notification -----------------------------------------------------------------------------------------
class StatusCallbacks:
    """The SMS sink's status callbacks, as the service takes them: signature checked, status recorded."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.validator = RequestValidator(TWILIO_TOKEN)
        self.writes: GroupCommit[tuple[str, str, str]] = GroupCommit(self._write)
        self.received = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> StatusCallbacks:
        app = web.Application()
        app.router.add_post("/cb/{delivery_id}", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/cb"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _take(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = f"{self.url}/{request.match_info['delivery_id']}"
        if not self.validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403)
        self.received += 1
        await self.writes.submit(
            (request.match_info["delivery_id"], form["MessageStatus"], form["MessageSid"])
        )
        return web.Response(status=204)

    async def _write(self, statuses: list[tuple[str, str, str]]) -> None:
        await self.db["deliveries"].bulk_write(
            [
                UpdateOne(
                    {"_id": did, "channel": "sms"},
                    {"$set": {"provider_status": status, "provider_ref": sid}, "$push": {"trace": status}},
                )
                for did, status, sid in statuses
            ],
            ordered=False,
        )


class SmtpPool:
    """SMTP sessions kept open and reused, one message at a time each."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._free: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()

    async def __aenter__(self) -> SmtpPool:
        for _ in range(self.size):
            client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=10, start_tls=False)
            await client.connect()
            self._free.put_nowait(client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self._free.empty():
            client = self._free.get_nowait()
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()

    async def send(self, msg: email.message.EmailMessage) -> str:
        client = await self._free.get()
        try:
            _, reply = await client.send_message(msg)
            return reply
        finally:
            self._free.put_nowait(client)


def _mime(to: str, subject: str, text: str, message_id: str) -> email.message.EmailMessage:
    mime = email.message.EmailMessage()
    mime["From"] = "KooGallery Notifications <notify@koo-suite.local>"
    mime["To"], mime["Subject"], mime["Message-ID"] = to, subject, message_id
    mime.set_content(text)
    mime.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    return mime


def _delivery(e: OrderPaid, account: str, key: str, channel: str, address: str, title: str, body: str) -> Doc:
    now = datetime.now(UTC)
    did = f"{e.event_id}:{account}:{key}:{channel}:{address}"
    return {
        "_id": did,
        "delivery_id": did,
        "event_id": str(e.event_id),
        "event_type": e.event_type,
        "order_id": e.order_id,
        "account_id": account,
        "message_key": key,
        "category": "creation_activation",
        "channel": channel,
        "address": address,
        "title": title,
        "body": body,
        "html": f"<html><body><p>{body}</p></body></html>" if channel == "email" else None,
        "status": "sent" if channel == "in_site" else "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "trace": [f"channel {channel}: a default channel of {key}", "the account's bound contact"],
        "created_at": now,
        "sent_at": now if channel == "in_site" else None,
    }


async def notification_ceiling(stack: Stack, db: AsyncDatabase[Doc], n: int, log: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    people = {
        f"ceiling-buyer-{tag}": (f"ceiling-buyer-{tag}@bench.local", random_phone(), "order_paid"),
        f"ceiling-merchant-{tag}": (f"ceiling-merchant-{tag}@bench.local", random_phone(), "order_received"),
    }
    await db["contacts"].insert_many(
        [{"_id": a, "email": e, "phone": p, "locale": "en-US"} for a, (e, p, _) in people.items()]
    )
    buyer, merchant = list(people)
    topic = await _topic(stack, "bench.ceiling.order.paid")
    await _produce(stack, topic, [paid_event(buyer, merchant) for _ in range(n)])
    log(f"  notification ceiling: {n} order.paid events on {topic}")

    async def transact(events: list[OrderPaid]) -> list[Doc]:
        rows: list[Doc] = []
        inbox: list[Doc] = []

        async def work(session: Any) -> None:
            now = datetime.now(UTC)
            await db["processed_events"].insert_many(
                [
                    {"_id": f"notification:{e.event_id}", "event_type": e.event_type, "processed_at": now}
                    for e in events
                ],
                session=session,
            )
            found = await db["contacts"].find({"_id": {"$in": list(people)}}, session=session).to_list()
            contacts = {c["_id"]: c for c in found}
            rows.clear()
            inbox.clear()
            for e in events:
                for account, (_, _, key) in people.items():
                    c = contacts[account]
                    title = (
                        f"Payment received for order {e.order_id}"
                        if key == "order_paid"
                        else f"New paid order {e.order_id}"
                    )
                    body = f"{title}: Database migration, 1288.00 CNY. Follow it in the seller centre."
                    mine = [
                        _delivery(e, account, key, "in_site", account, title, body),
                        _delivery(e, account, key, "email", c["email"], title, body),
                        _delivery(e, account, key, "sms", c["phone"], title, body[:70]),
                    ]
                    inbox.append(
                        {
                            "_id": mine[0]["_id"],
                            "message_id": mine[0]["_id"],
                            "account_id": account,
                            "category": "creation_activation",
                            "title": title,
                            "body": body,
                            "order_id": e.order_id,
                            "read": False,
                            "created_at": now,
                        }
                    )
                    rows.extend(mine)
            await db["inbox"].insert_many(inbox, session=session)
            await db["deliveries"].insert_many(rows, session=session)

        await _in_transaction(db, work)
        return [r for r in rows if r["channel"] != "in_site"]

    async with (
        SmtpPool("127.0.0.1", stack.ports.smtp, SEND_CONCURRENCY) as smtp,
        StatusCallbacks(db) as callbacks,
    ):
        http = AsyncTwilioHttpClient(timeout=10)
        twilio = TwilioClient(TWILIO_SID, TWILIO_TOKEN, http_client=http)
        twilio.edge = twilio.region = None
        twilio.api.base_url = stack.sms_url
        sms_gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(d: Doc) -> UpdateOne:
            if d["channel"] == "email":
                ref = await smtp.send(_mime(d["address"], d["title"], d["body"], f"<{d['_id']}@bench.local>"))
            else:
                async with sms_gate:
                    msg = await twilio.messages.create_async(
                        to=d["address"],
                        from_=TWILIO_FROM,
                        body=d["body"],
                        status_callback=f"{callbacks.url}/{d['_id']}",
                    )
                ref = str(msg.sid)
            now = datetime.now(UTC)
            return UpdateOne(
                {"_id": d["_id"], "status": "pending"},
                {"$set": {"status": "sent", "sent_at": now, "provider_ref": ref, "provider": "primary"}},
            )

        async def output(rows: list[Doc]) -> None:
            marks = await asyncio.gather(*(send(d) for d in rows))
            await db["deliveries"].bulk_write(list(marks), ordered=False)

        try:
            result = await run_loop(stack, topic, OrderPaid, n, transact, output)
        finally:
            await http.close()
        callbacks_received, callback_writes = callbacks.received, callbacks.writes.writes
    sent = await db["deliveries"].count_documents({"status": "sent", "channel": {"$ne": "in_site"}})
    return {
        **result,
        "sms_status_callbacks": callbacks_received,
        "sms_status_callback_writes": callback_writes,
        "external_sends_marked": sent,
        "external_deliveries_per_s": round(4 * result["events_per_s"], 1),
    }


# --- orders -----------------------------------------------------------------------------------------------
async def orders_ceiling(
    stack: Stack, db: AsyncDatabase[Doc], n: int, template: Doc, log: Any
) -> dict[str, Any]:
    """`template`: one real order as the orders API returns it, so the documents are of the real size."""
    buyer, merchant = f"ceiling-buyer-{uuid.uuid4().hex[:8]}", f"ceiling-merchant-{uuid.uuid4().hex[:8]}"
    events = []
    orders = []
    for _ in range(n):
        now = datetime.now(UTC)
        oid = f"CS{now:%y%m%d%H%M%S}{uuid.uuid4().hex[:8].upper()}"
        events.append(acceptance_event(oid, f"SO-{oid}", buyer, merchant))
        orders.append({**template, "_id": oid, "order_id": oid, "status": "processing", "version": 3})
    await db["orders"].insert_many(orders)
    topic = await _topic(stack, "bench.ceiling.acceptance.done")
    out_topic = await _topic(stack, "bench.ceiling.order.status_changed")
    await _produce(stack, topic, list(events))
    log(f"  orders ceiling: {n} acceptance.done events on {topic}")

    async def transact(batch: list[AcceptanceDone]) -> list[Doc]:
        rows: list[Doc] = []

        async def work(session: Any) -> None:
            now = datetime.now(UTC)
            rows.clear()
            await db["processed_events"].insert_many(
                [
                    {"_id": f"orders:{e.event_id}", "event_type": e.event_type, "processed_at": now}
                    for e in batch
                ],
                session=session,
            )
            ids = [e.payload.order_id for e in batch]
            found = {
                o["_id"]: o for o in await db["orders"].find({"_id": {"$in": ids}}, session=session).to_list()
            }
            for e in batch:
                order = found[e.payload.order_id]
                change = {"from_status": "processing", "status": "completed", "at": now, "reason": "accepted"}
                saved = {
                    **order,
                    "status": "completed",
                    "completed_at": e.payload.accepted_at,
                    "history": [*order.get("history", []), change],
                    "version": order["version"] + 1,
                }
                replaced = await db["orders"].replace_one(
                    {"_id": order["_id"], "version": order["version"]}, saved, session=session
                )
                if replaced.matched_count != 1:
                    raise RuntimeError(f"order {order['_id']} changed meanwhile")
                event = OrderStatusChanged(
                    producer="orders",
                    **e.caused(),
                    order_id=order["_id"],
                    payload=OrderStatusChangedPayload(
                        order_id=order["_id"],
                        from_status=OrderStatus.PROCESSING,
                        to_status=OrderStatus.COMPLETED,
                        reason="service order accepted",
                        parties=e.payload.parties,
                        amount=Decimal("1288.00"),
                        changed_at=now,
                    ),
                )
                key = await db["outbox_keys"].find_one({"_id": order["_id"]}, session=session)
                seq = max(int(key["last"]) + 1 if key else 0, time.time_ns())
                await db["outbox_keys"].update_one(
                    {"_id": order["_id"]}, {"$set": {"last": seq}}, upsert=True, session=session
                )
                rows.append(outbox_document(event, seq))  # the services' own outbox row
            await db["outbox"].insert_many(rows, session=session)

        await _in_transaction(db, work)
        return list(rows)

    producer = AIOKafkaProducer(**stack.kafka_client(), acks="all", linger_ms=5)
    await producer.start()

    async def output(rows: list[Doc]) -> None:
        acks = [
            await producer.send(
                out_topic,
                r["body"].encode(),
                key=r["key"].encode(),
                headers=[("content-type", b"application/json"), ("event-type", r["event_type"].encode())],
            )
            for r in rows
        ]
        await asyncio.gather(*acks)
        await db["outbox"].update_many(
            {"_id": {"$in": [r["_id"] for r in rows]}}, {"$set": {"published_at": datetime.now(UTC)}}
        )

    try:
        result = await run_loop(stack, topic, AcceptanceDone, n, transact, output)
    finally:
        await producer.stop()
    published = await db["outbox"].count_documents({"published_at": {"$ne": None}})
    return {**result, "published_marked": published}
