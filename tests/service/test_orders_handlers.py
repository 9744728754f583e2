"""orders on acceptance.done: complete the order once, dead-letter what can never apply, retry what may."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.orders.domain import Order, OrderStatus
from services.orders.services import OrdersService, PlaceOrder, RegisterAccount
from shared.schemas import AcceptanceDone, AccountRole, DeliveryType, Parties, ProductSnapshot
from tests.factories import acceptance_done, rid
from tests.service.rig import Rig, flaky

ACTIVATED = datetime(2026, 11, 1, tzinfo=UTC)


async def paid_order(svc: OrdersService) -> tuple[Order, Parties]:
    """An order paid through the service's own use cases: processing, waiting for its service order."""
    buyer = await svc.register_account(RegisterAccount(role=AccountRole.BUYER, display_name="b",
                                                       bound_email="b@example.com", bound_phone="+8613800001234"))
    merchant = await svc.register_account(RegisterAccount(role=AccountRole.MERCHANT, display_name="m",
                                                          bound_email="m@example.com", bound_phone="+8613800005678"))
    product = ProductSnapshot(product_id=rid("p"), name="Migration", delivery_type=DeliveryType.MANUAL_SERVICE)
    placed = await svc.place_order(buyer.account_id, PlaceOrder(merchant_account_id=merchant.account_id,
                                                                product=product, amount=Decimal("100.00")))
    order = await svc.pay(placed.order_id, buyer.account_id)
    assert order.status is OrderStatus.PROCESSING
    return order, order.parties


def accepted(p: Parties, order_id: str, activation: datetime | None = ACTIVATED) -> AcceptanceDone:
    event = acceptance_done(p, order_id)
    return event.model_copy(update={"payload": event.payload.model_copy(
        update={"actual_activation_time": activation})})


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
    assert [h.status for h in done.history] == [OrderStatus.PROCESSING, OrderStatus.COMPLETED]
    assert f"orders:{event.event_id}" in rig.state.processed
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


async def test_acceptance_for_an_unknown_order_is_dead_lettered_at_once(orders_rig: Rig) -> None:
    unknown = rid("CS")
    event = acceptance_done(Parties(buyer_account_id=rid("b"), merchant_account_id=rid("m")), unknown)
    async with orders_rig.running() as rig:
        await rig.publish(event)

    [dead] = rig.dead
    assert dead.topic == "svc.acceptance.done.dlt"
    assert dead.key == unknown.encode()
    assert AcceptanceDone.model_validate_json(dead.body) == event
    assert dead.headers["x-attempts"] == "1"
    assert dead.headers["x-exception"] == "NotFound"
    assert unknown in dead.headers["x-reason"]
    assert dead.headers["x-original-topic"] == "svc.acceptance.done"
    assert rig.state.processed == set()


async def test_the_dead_letter_names_the_consumer_group_that_gave_up(orders_rig: Rig) -> None:
    event = acceptance_done(Parties(buyer_account_id=rid("b"), merchant_account_id=rid("m")), rid("CS"))
    async with orders_rig.running() as rig:
        await rig.publish(event)

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


async def test_a_transient_failure_is_retried_in_process(orders_rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        wrapper, calls = flaky(rig.service.on_acceptance_done, failures=2)
        monkeypatch.setattr(rig.service, "on_acceptance_done", wrapper)

        await rig.publish(accepted(p, order.order_id))

    assert len(calls) == 3
    assert stored(rig, order.order_id).status is OrderStatus.COMPLETED
    assert rig.dead == []


async def test_a_failure_that_never_clears_is_dead_lettered_after_the_last_attempt(
        orders_rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    async with orders_rig.running() as rig:
        order, p = await paid_order(rig.service)
        wrapper, calls = flaky(rig.service.on_acceptance_done, failures=-1)
        monkeypatch.setattr(rig.service, "on_acceptance_done", wrapper)

        await rig.publish(accepted(p, order.order_id))

    attempts = rig.settings.consumer_max_attempts
    assert len(calls) == attempts
    [dead] = rig.dead
    assert dead.headers["x-attempts"] == str(attempts)
    assert dead.headers["x-exception"] == "RuntimeError"
    assert f"transient failure #{attempts}" in dead.headers["x-reason"]
    assert stored(rig, order.order_id).status is OrderStatus.PROCESSING
    assert rig.policy.dead_lettered == 1
