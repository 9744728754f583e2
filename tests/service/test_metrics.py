"""The series counted where things happen: notification's sends by channel, provider and result; dead letters
by topic; a redelivered event as an inbox duplicate; FastStream's consumer series on a service's broker."""

from __future__ import annotations

from services.notification.breaker import CircuitBreaker, Failover
from services.notification.catalogue import Channel
from services.notification.channels import EmailMessage, PermanentSendError, SmsMessage, TransientSendError
from shared.platform import metrics
from tests.helpers import eventually
from tests.service.notification_memdb import MemDatabase
from tests.service.rig import Rig
from tests.service.test_notification_workers import delivery, dispatcher_on, dispatching, settings
from tests.service.test_orders_handlers import accepted, paid_order


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str, **labels: str) -> float:
    """The sum of a series over the labels not named."""
    return sum(
        s.value
        for family in metrics.REGISTRY.collect()
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def deliveries(channel: str, provider: str, result: str) -> float:
    return value(
        "koo_deliveries_total", service="notification", channel=channel, provider=provider, result=result
    )


class Answering:
    async def send(self, msg: EmailMessage | SmsMessage) -> str:
        return "ref"


class Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def send(self, msg: EmailMessage | SmsMessage) -> str:
        raise self.error


async def _all(db: MemDatabase, *statuses: str) -> bool:
    return sorted(d["status"] for d in db["deliveries"].docs.values()) == sorted(statuses)


async def test_sends_are_counted_by_channel_provider_and_result() -> None:
    """The primary's sends, the secondary's after the primary failed, and the secondary's refusal each under
    their provider; a failed attempt, and the last one as dead."""
    db, s = MemDatabase(), settings(delivery_max_attempts=2)
    email: Failover[EmailMessage] = Failover(Answering(), None, CircuitBreaker(100, 30.0))
    sms: Failover[SmsMessage] = Failover(
        Refusing(TransientSendError("Twilio HTTP 503")),
        Refusing(PermanentSendError("Twilio HTTP 400: not a number")),
        CircuitBreaker(100, 30.0),
    )
    before = {
        key: deliveries(*key)
        for key in (
            ("email", "primary", "sent"),
            ("sms", "secondary", "failed"),
            ("sms", "secondary", "sent"),
            ("sms", "primary", "failed"),
        )
    }
    await db["deliveries"].insert_many([delivery(Channel.EMAIL), delivery(Channel.SMS)])
    async with dispatching(db, dispatcher_on(db, email, sms, s), s):
        await eventually(lambda: _all(db, "sent", "failed"), timeout=5, what="one sent, one refused")
    assert deliveries("email", "primary", "sent") == before["email", "primary", "sent"] + 1
    assert deliveries("sms", "secondary", "failed") == before["sms", "secondary", "failed"] + 1
    assert deliveries("sms", "secondary", "sent") == before["sms", "secondary", "sent"]
    assert deliveries("sms", "primary", "failed") == before["sms", "primary", "failed"]


async def test_a_transient_failure_is_failed_then_dead_once_its_attempts_are_spent() -> None:
    db, s = MemDatabase(), settings(delivery_max_attempts=2)
    email: Failover[EmailMessage] = Failover(
        Refusing(TransientSendError("SMTP 451")), None, CircuitBreaker(100, 30.0)
    )
    sms: Failover[SmsMessage] = Failover(Answering(), Answering(), CircuitBreaker(100, 30.0))
    failed, dead = deliveries("email", "primary", "failed"), deliveries("email", "primary", "dead")
    await db["deliveries"].insert_many([delivery(Channel.EMAIL)])
    async with dispatching(db, dispatcher_on(db, email, sms, s), s):
        await eventually(lambda: _all(db, "dead"), timeout=5, what="the e-mail dead")
    assert deliveries("email", "primary", "failed") == failed + 1
    assert deliveries("email", "primary", "dead") == dead + 1


async def test_a_rate_limited_send_is_deferred_without_a_provider() -> None:
    db, s = MemDatabase(), settings(rate_limit_sms=1)
    email: Failover[EmailMessage] = Failover(Answering(), None, CircuitBreaker(100, 30.0))
    sms: Failover[SmsMessage] = Failover(Answering(), None, CircuitBreaker(100, 30.0))
    sent, deferred = deliveries("sms", "primary", "sent"), deliveries("sms", "none", "deferred")
    await db["deliveries"].insert_many([delivery(Channel.SMS), delivery(Channel.SMS)])  # one phone
    async with dispatching(db, dispatcher_on(db, email, sms, s), s):
        await eventually(lambda: _all(db, "sent", "pending"), timeout=5, what="one sent, one deferred")
    assert deliveries("sms", "primary", "sent") == sent + 1
    assert deliveries("sms", "none", "deferred") == deferred + 1


async def test_a_dead_letter_is_counted_by_the_topic_it_came_from(orders_rig: Rig) -> None:
    labels = {"service": "orders", "topic": "svc.acceptance.done"}
    before = value("koo_dead_letters_total", **labels)
    async with orders_rig.running() as rig:
        await rig.publish_raw(b"{not json", "acceptance.done")
    assert len(rig.dead) == 1
    assert value("koo_dead_letters_total", **labels) == before + 1


async def test_a_redelivered_event_counts_as_an_inbox_duplicate_and_faststream_counts_both(
    orders_rig: Rig,
) -> None:
    labels = {"service": "orders", "consumer": "orders"}
    duplicates = value("koo_inbox_duplicates_total", **labels)
    received = total("faststream_received_processed_messages_total", app_name="orders", status="acked")
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        event = accepted(p, order.order_id)
        await rig.publish(event)
        assert value("koo_inbox_duplicates_total", **labels) == duplicates
        await rig.publish(event)
    assert value("koo_inbox_duplicates_total", **labels) == duplicates + 1
    assert (
        total("faststream_received_processed_messages_total", app_name="orders", status="acked")
        >= received + 2
    )
