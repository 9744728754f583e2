"""supervision on order.paid: open one service order for a supervised purchase, nothing otherwise."""

from __future__ import annotations

import copy

import pytest

from services.supervision import event_cases, templates
from services.supervision.checkpoints import TimelineKeys
from services.supervision.queries import SupervisionQueries
from services.supervision.service_order import ServiceOrder, Status
from services.supervision.services import SupervisionService
from services.supervision.unsupervised import NotSupervised
from shared.platform.auth import Principal
from shared.platform.errors import Forbidden, NotFound
from shared.platform.http import status_of
from shared.schemas import DeadlineScheduled, DeliveryType, OrderPaid
from tests.factories import order_paid, parties
from tests.service.rig import Rig, flaky


async def test_a_paid_manual_service_opens_its_service_order(supervision_rig: Rig) -> None:
    event = order_paid(parties())
    async with supervision_rig.running() as rig:
        await rig.publish(event)

    [row] = rig.state.tables["service_orders"].values()
    so = ServiceOrder.model_validate(row)
    assert so.service_order_id == f"SO-{event.order_id}"
    assert so.order_id == event.order_id
    assert so.parties == event.payload.parties
    assert so.product == event.payload.product
    assert so.node == "submit_request"
    assert so.status is Status.ACTIVE
    assert so.template.template_id == "manual_service.standard"
    assert [e.action for e in so.timeline] == ["open"]
    assert rig.state.processed == {f"supervision:{event.event_id}"}
    # Opening starts two clocks: the 180-day reminder (dossier §1.5) and the buyer's idle deadline at the first node.
    assert sorted(
        (e.payload.kind.value, e.payload.party.value)
        for e in rig.state.outbox
        if isinstance(e, DeadlineScheduled)
    ) == [("idle", "buyer"), ("long_running", "merchant")]
    assert len(rig.state.outbox) == 2
    assert {r["kind"] for r in rig.state.tables["timers"].values()} == {"idle", "long_running"}
    assert rig.dead == []


async def test_a_batch_of_order_paid_opens_each_service_order_in_one_unit_of_work(
    supervision_rig: Rig,
) -> None:
    first, second = order_paid(parties()), order_paid(parties())
    async with supervision_rig.running() as rig:
        await rig.publish_batch(first, second, first, topic="order.paid")
    consumer = rig.broker.context.get("batch_consumer:order.paid")

    assert (consumer.batches, consumer.fallbacks) == (1, 0)
    assert set(rig.state.tables["service_orders"]) == {f"SO-{first.order_id}", f"SO-{second.order_id}"}
    assert len(rig.state.outbox) == 4  # two deadlines each; the repeat of `first` opened nothing
    assert {r["service_order_id"] for r in rig.state.tables["timers"].values()} == set(
        rig.state.tables["service_orders"]
    )
    assert rig.dead == []


async def test_a_redelivered_order_paid_changes_nothing(supervision_rig: Rig) -> None:
    event = order_paid(parties())
    async with supervision_rig.running() as rig:
        await rig.publish(event)
        first = copy.deepcopy(rig.state.tables)

        await rig.publish(event)

    assert rig.state.tables == first
    assert len(rig.state.processed) == 1
    assert rig.dead == []


@pytest.mark.parametrize("delivery_type", [DeliveryType.IMAGE, DeliveryType.API, DeliveryType.SAAS_INSTANT])
async def test_unsupervised_products_open_nothing(supervision_rig: Rig, delivery_type: DeliveryType) -> None:
    event = order_paid(parties(), delivery_type=delivery_type)
    order_id, buyer = event.order_id, event.payload.parties.buyer_account_id
    async with supervision_rig.running() as rig:
        await rig.publish(event)

    assert rig.state.tables.get("service_orders", {}) == {}
    assert rig.dead == []
    queries = SupervisionQueries(rig.state.collections(), TimelineKeys.generate())
    with pytest.raises(NotSupervised, match=r"not supervised \(dossier §1\.2\)") as refused:
        await queries.of_order(order_id, Principal(buyer, frozenset({"buyer"})))
    assert refused.value.code == "not_supervised"
    assert status_of(refused.value) == 404
    with pytest.raises(Forbidden) as stranger:
        await queries.of_order(order_id, Principal("stranger", frozenset({"buyer"})))
    assert stranger.value.rule == "parties_and_operators_only"


async def test_a_supervised_type_without_a_template_is_dead_lettered(
    supervision_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(templates.TEMPLATES, DeliveryType.HARDWARE)
    event = order_paid(parties(), delivery_type=DeliveryType.HARDWARE)
    async with supervision_rig.running() as rig:
        await rig.publish(event)

    [dead] = rig.dead
    assert dead.topic == "svc.order.paid.dlt"
    assert dead.key == event.order_id.encode()
    assert dead.headers["x-exception"] == "PermanentError"
    assert "hardware" in dead.headers["x-reason"]
    assert dead.headers["x-attempts"] == "1"
    assert rig.state.tables.get("service_orders", {}) == {}
    assert rig.state.processed == set()


async def test_an_unknown_delivery_type_is_dead_lettered_naming_the_field(supervision_rig: Rig) -> None:
    body = order_paid(parties()).model_dump(mode="json")
    body["payload"]["product"]["delivery_type"] = "teleportation"
    async with supervision_rig.running() as rig:
        await rig.publish_raw(body, "order.paid", key=body["order_id"])

    [dead] = rig.dead
    assert dead.headers["x-exception"] == "ValidationError"
    assert "payload.product.delivery_type" in dead.headers["x-reason"]
    assert rig.state.tables.get("service_orders", {}) == {}


async def test_a_transient_failure_is_retried_and_the_service_order_opened_once(
    supervision_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = order_paid(parties())
    async with supervision_rig.running() as rig:
        wrapper, calls = flaky(event_cases.on_order_paid, failures=2)

        async def batch(supervision: SupervisionService, events: list[OrderPaid]) -> None:
            for e in events:
                await wrapper(supervision, e)

        monkeypatch.setitem(event_cases.EVENT_HANDLERS, OrderPaid, [wrapper])
        monkeypatch.setitem(event_cases.BATCH_HANDLERS, OrderPaid, batch)

        await rig.publish(event)

    assert len(calls) == 3
    assert list(rig.state.tables["service_orders"]) == [f"SO-{event.order_id}"]
    assert rig.dead == []


@pytest.mark.parametrize("order_type", ["renewal", "unsubscribe"])
async def test_only_a_new_purchase_opens_a_service_order(supervision_rig: Rig, order_type: str) -> None:
    event = order_paid(parties())
    event = event.model_copy(update={"payload": event.payload.model_copy(update={"order_type": order_type})})
    async with supervision_rig.running() as rig:
        await rig.publish(event)

    assert rig.state.tables.get("service_orders", {}) == {}
    assert rig.dead == []
    # A marker says why there is none, so a refund.decided about it is known to have nothing to close.
    queries = SupervisionQueries(rig.state.collections(), TimelineKeys.generate())
    with pytest.raises(
        NotFound, match=r"only a new purchase opens a service order \(dossier §1\.6\)"
    ) as refused:
        await queries.of_order(
            event.order_id, Principal(event.payload.parties.buyer_account_id, frozenset({"buyer"}))
        )
    assert refused.value.code == "not_found"
    assert rig.state.tables["unsupervised_orders"][event.order_id]["order_type"] == order_type
