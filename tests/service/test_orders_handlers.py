"""orders on acceptance.done and the other events about its orders: complete the order once, park what is
about an order not known here yet, dead-letter what can never apply, retry what may. (Appeals and the refunds
they resolve: tests/service/test_orders_refunds.py.)"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from services.orders import order_cases
from services.orders.commands import PlaceOrder
from services.orders.context import OrdersContext
from services.orders.domain import Order, OrderStatus
from services.orders.event_cases import EVENT_HANDLERS, complete_order
from shared.schemas import (
    AcceptanceDone,
    AccountRole,
    AppealOutcome,
    Event,
    MerchantCallFailed,
    MerchantCallFailedPayload,
    MilestoneConfirmed,
    MilestoneConfirmedPayload,
    OrderStatusChanged,
    Parties,
    PartyRole,
    RefundDecided,
    SupervisionOverdue,
    SupervisionOverduePayload,
)
from tests.factories import acceptance_done, rid
from tests.service.orders_support import (
    FakeParking,
    appeal_raised,
    appeal_resolved,
    listed,
    one_time,
    payment,
    person,
    principal,
)
from tests.service.rig import Rig, flaky

ACTIVATED = datetime(2026, 11, 1, tzinfo=UTC)


async def paid_order(ctx: OrdersContext) -> tuple[Order, Parties]:
    """An order of a listed product, paid through the service's own use cases: processing, waiting for its
    service order."""
    buyer = await person(ctx, AccountRole.BUYER, display_name="b")
    merchant = await person(ctx, AccountRole.MERCHANT, display_name="m", phone="+8613800005678")
    pid = await listed(ctx, merchant, principal(AccountRole.OPERATOR), **one_time("100.00", name="Migration"))
    placed = await order_cases.place_order(ctx, buyer, PlaceOrder(product_id=pid))
    order = await order_cases.pay(ctx, placed.order_id, payment(placed))
    assert order.status is OrderStatus.PROCESSING
    return order, order.parties


def accepted(p: Parties, order_id: str, activation: datetime | None = ACTIVATED) -> AcceptanceDone:
    event = acceptance_done(p, order_id)
    return event.model_copy(
        update={"payload": event.payload.model_copy(update={"actual_activation_time": activation})}
    )


def stored(rig: Rig, order_id: str) -> Order:
    return Order.model_validate(rig.state.tables["orders"][order_id])


async def test_acceptance_completes_the_order_and_starts_its_validity(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        event = accepted(p, order.order_id)

        await rig.publish(event)

    done = stored(rig, order.order_id)
    assert done.status is OrderStatus.COMPLETED
    assert done.completed_at == event.payload.accepted_at
    assert done.validity_starts_at == ACTIVATED
    assert [h.status for h in done.history] == [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PROCESSING,
        OrderStatus.COMPLETED,
    ]
    assert f"orders:{event.event_id}" in rig.state.processed
    [changed] = [
        e
        for e in rig.state.outbox
        if isinstance(e, OrderStatusChanged) and e.payload.to_status is OrderStatus.COMPLETED
    ]
    assert changed.payload.from_status is OrderStatus.PROCESSING
    assert changed.payload.validity_starts_at == ACTIVATED
    assert changed.correlation_id == event.correlation_id
    assert rig.dead == []


async def test_a_redelivered_acceptance_changes_nothing(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        event = accepted(p, order.order_id)
        await rig.publish(event)
        after_first = copy.deepcopy(rig.state.tables)
        processed, outbox = set(rig.state.processed), list(rig.state.outbox)

        await rig.publish(event)

    assert rig.state.tables == after_first
    assert rig.state.processed == processed
    assert rig.state.outbox == outbox
    assert stored(rig, order.order_id).version == after_first["orders"][order.order_id]["version"]
    assert rig.dead == []


def _milestone(p: Parties, order_id: str) -> MilestoneConfirmed:
    return MilestoneConfirmed(
        producer="tests",
        correlation_id=rid("c"),
        order_id=order_id,
        payload=MilestoneConfirmedPayload(
            service_order_id=f"SO-{order_id}",
            order_id=order_id,
            node="submit_request",
            next_node="confirm_request",
            actor_role=PartyRole.BUYER,
            actor_account_id=None,
            parties=p,
            confirmed_at=datetime.now(UTC),
        ),
    )


ABOUT_AN_ORDER: dict[str, Callable[[Parties, str], Event]] = {
    "acceptance.done": lambda p, order_id: accepted(p, order_id),
    "milestone.confirmed": _milestone,
    "appeal.raised": lambda p, order_id: appeal_raised(p, order_id),
    "appeal.resolved": lambda p, order_id: appeal_resolved(p, order_id, AppealOutcome.REFUND),
    "merchant_call.failed": lambda p, order_id: _call_failed(p, order_id, final=True),
}


@pytest.mark.parametrize("topic", sorted(ABOUT_AN_ORDER))
async def test_an_event_about_an_order_not_known_here_is_parked_not_dead_lettered(
    orders_rig: Rig, topic: str
) -> None:
    """Issue 10: an unknown order was a permanent NotFound, dead-lettered at once. Events of other topics
    arrive in any order, so it is "not yet known": parked, tried again, dead-lettered with that reason only
    after the bound."""
    parking = FakeParking().install(orders_rig)
    unknown = rid("CS")
    event = ABOUT_AN_ORDER[topic](Parties(buyer_account_id=rid("b"), merchant_account_id=rid("m")), unknown)
    async with orders_rig.running() as rig:
        await rig.publish(event)

    assert rig.dead == []
    [(parked_topic, exc, group)] = parking.parked
    assert (parked_topic, group) == (f"svc.{topic}", f"orders.{topic}")
    assert exc.aggregate == unknown
    assert unknown in exc.message
    assert rig.state.processed == set()  # not claimed: when it is handled again, it applies
    assert rig.state.tables.get("orders", {}) == {}


async def test_the_dead_letter_names_the_consumer_group_that_gave_up(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        await rig.publish_raw(b"{not json", "acceptance.done")

    [dead] = rig.dead
    assert dead.headers["x-consumer-group"] == "orders.acceptance.done"


async def test_an_invalid_payload_is_dead_lettered_naming_the_bad_field(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        body = accepted(p, order.order_id).model_dump(mode="json")
        body["payload"]["accepted_by"] = "the cat"

        await rig.publish_raw(body, "acceptance.done", key=order.order_id)

    [dead] = rig.dead
    assert dead.topic == "svc.acceptance.done.dlt"
    assert dead.headers["x-exception"] == "ValidationError"
    assert "payload.accepted_by" in dead.headers["x-reason"]
    assert dead.headers["x-attempts"] == "1"
    assert dead.headers["content-type"] == "application/json"  # the original headers travel along
    assert stored(rig, order.order_id).status is OrderStatus.PROCESSING


async def test_a_record_that_is_not_json_is_dead_lettered(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        await rig.publish_raw(b"{not json", "acceptance.done")

    [dead] = rig.dead
    assert dead.body == b"{not json"
    assert dead.headers["x-exception"] == "JSONDecodeError"
    assert dead.headers["x-attempts"] == "1"


async def test_a_batch_is_applied_in_one_go_and_a_poison_record_in_it_costs_the_others_nothing(
    orders_rig: Rig,
) -> None:
    async with orders_rig.running() as rig:
        first, p = await paid_order(rig.service)
        second, _ = await paid_order(rig.service)
        await rig.publish_batch(
            accepted(p, first.order_id), b"{not json", accepted(p, second.order_id), topic="acceptance.done"
        )
    consumer = rig.broker.context.get("batch_consumer:acceptance.done")

    assert stored(rig, first.order_id).status is OrderStatus.COMPLETED
    assert stored(rig, second.order_id).status is OrderStatus.COMPLETED
    [dead] = rig.dead
    assert dead.body == b"{not json"
    assert dead.headers["x-exception"] == "JSONDecodeError"
    assert (consumer.batches, consumer.fallbacks) == (1, 0)  # the two good ones, in one unit of work


async def test_a_batch_with_an_event_about_an_unknown_order_is_handled_one_by_one(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        unknown = accepted(p, "CS000000000000DEADBEEF")
        await rig.publish_batch(unknown, accepted(p, order.order_id), topic="acceptance.done")
    consumer = rig.broker.context.get("batch_consumer:acceptance.done")

    assert (consumer.batches, consumer.fallbacks) == (1, 1)
    assert stored(rig, order.order_id).status is OrderStatus.COMPLETED  # the known one, on its own
    [dead] = rig.dead  # this rig has no parking: the unknown one goes its own way, as a single event would
    assert "NotYetKnown" in dead.headers["x-reason"]


async def test_a_transient_failure_is_retried_in_process(
    orders_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        wrapper, calls = flaky(complete_order, failures=2)
        monkeypatch.setitem(EVENT_HANDLERS, AcceptanceDone, [wrapper])

        await rig.publish(accepted(p, order.order_id))

    assert len(calls) == 3
    assert stored(rig, order.order_id).status is OrderStatus.COMPLETED
    assert rig.dead == []


async def test_a_failure_that_never_clears_is_dead_lettered_after_the_last_attempt(
    orders_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        wrapper, calls = flaky(complete_order, failures=-1)
        monkeypatch.setitem(EVENT_HANDLERS, AcceptanceDone, [wrapper])

        await rig.publish(accepted(p, order.order_id))

    attempts = rig.settings.consumer_max_attempts
    assert len(calls) == 1 + attempts  # the batch's try, then the event alone, `attempts` times
    [dead] = rig.dead
    assert dead.headers["x-attempts"] == str(attempts)
    assert dead.headers["x-exception"] == "RuntimeError"
    assert f"transient failure #{1 + attempts}" in dead.headers["x-reason"]  # the last one-by-one try
    assert stored(rig, order.order_id).status is OrderStatus.PROCESSING
    assert rig.policy.dead_lettered == 1


# --- the other subscriptions: progress, final provisioning failures -------------------------------------


def _call_failed(p: Parties, order_id: str, final: bool) -> MerchantCallFailed:
    return MerchantCallFailed(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=order_id,
        payload=MerchantCallFailedPayload(
            call_id=rid("call"),
            merchant_account_id=p.merchant_account_id,
            endpoint="newInstance",
            order_id=order_id,
            attempt=9,
            final=final,
            consequence="refund",
            error="HTTP 500",
            failed_at=datetime.now(UTC),
            parties=p,
        ),
    )


async def test_a_final_provisioning_failure_refunds_the_order_and_an_intermediate_one_does_not(
    orders_rig: Rig,
) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        await rig.publish(_call_failed(p, order.order_id, final=False))
        assert stored(rig, order.order_id).status is OrderStatus.PROCESSING

        await rig.publish(_call_failed(p, order.order_id, final=True))

    done = stored(rig, order.order_id)
    assert done.status is OrderStatus.REFUNDED
    assert "§8.2.2" in done.history[-1].reason
    [decided] = [e for e in rig.state.outbox if isinstance(e, RefundDecided)]
    assert (decided.payload.approved, decided.payload.decided_by_role) == (True, PartyRole.SYSTEM)
    assert rig.dead == []


async def test_a_legacy_supervision_overdue_unsubscribes_the_order_once(orders_rig: Rig) -> None:
    """Dossier §1.5, the old rule: supervision decided the legacy order is unsubscribed; orders refunds it."""
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        overdue = SupervisionOverdue(
            producer="supervision",
            correlation_id=rid("corr"),
            order_id=order.order_id,
            payload=SupervisionOverduePayload(
                service_order_id=f"SO-{order.order_id}",
                order_id=order.order_id,
                parties=p,
                overdue_at=datetime.now(UTC),
                reason="supervision overdue (dossier §1.5)",
            ),
        )
        await rig.publish(overdue)
        await rig.publish(overdue.model_copy(update={"event_id": uuid.uuid4()}))  # twice: refunded once

    done = stored(rig, order.order_id)
    assert done.status is OrderStatus.REFUNDED
    assert "§1.5" in done.history[-1].reason
    [decided] = [e for e in rig.state.outbox if isinstance(e, RefundDecided)]
    assert (decided.payload.approved, decided.payload.amount) == (True, order.amount)
    assert rig.dead == []


async def test_milestone_confirmations_and_acceptance_move_the_orders_progress(orders_rig: Rig) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        for node, nxt in (("submit_request", "confirm_request"), ("confirm_request", "deliver")):
            await rig.publish(
                MilestoneConfirmed(
                    producer="tests",
                    correlation_id=rid("c"),
                    order_id=order.order_id,
                    payload=MilestoneConfirmedPayload(
                        service_order_id="SO-1",
                        order_id=order.order_id,
                        node=node,
                        next_node=nxt,
                        actor_role=PartyRole.BUYER,
                        actor_account_id=None,
                        parties=p,
                        confirmed_at=datetime.now(UTC),
                    ),
                )
            )
        mid = stored(rig, order.order_id).progress
        await rig.publish(accepted(p, order.order_id))

    assert (mid.service_order_id, mid.current_node) == ("SO-1", "deliver")
    assert mid.confirmed_nodes == ["submit_request", "confirm_request"]
    assert stored(rig, order.order_id).progress.current_node == "service_complete"
    assert rig.dead == []
