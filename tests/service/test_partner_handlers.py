"""partner: the provider's commission accrues once both order.paid and acceptance.done are known, in either order."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from services.partner import earnings, license_cases, saas
from services.partner.domain import BoundOrder, LedgerEntry
from services.partner.handlers import SUBSCRIBERS
from services.partner.ordering import remember_payment
from services.partner.services import EVENT_HANDLERS
from shared.schemas import DeliveryType, Event, OrderPaid
from tests.factories import acceptance_done, order_paid, parties, rid
from tests.service.rig import Rig


def ledger(rig: Rig) -> list[LedgerEntry]:
    return [LedgerEntry.model_validate(r) for r in rig.state.tables.get("ledger", {}).values()]


def bound(rig: Rig, order_id: str) -> BoundOrder:
    return BoundOrder.model_validate(rig.state.tables["bound_orders"][order_id])


def both(provider: str | None = None, ratio: str | None = "0.15") -> tuple[Event, Event]:
    p = parties(provider)
    paid = order_paid(p, amount="1234.56", ratio=ratio)
    return paid, acceptance_done(p, paid.order_id)


@pytest.mark.parametrize("paid_first", [True, False], ids=["paid-then-accepted", "accepted-then-paid"])
async def test_the_commission_accrues_once_in_either_order(partner_rig: Rig, paid_first: bool) -> None:
    provider = rid("prov")
    paid, accepted = both(provider)
    async with partner_rig.running() as rig:
        for event in (paid, accepted) if paid_first else (accepted, paid):
            await rig.publish(event)
        for event in (paid, accepted):  # both redelivered
            await rig.publish(event)

    [entry] = ledger(rig)
    assert entry.provider_id == provider
    assert entry.order_id == paid.order_id
    assert entry.base == Decimal("1234.56")
    assert entry.ratio == Decimal("0.15")
    assert entry.amount == Decimal("185.18")
    assert bound(rig, paid.order_id).accrued
    assert rig.dead == []


async def test_a_batch_holding_both_facts_of_an_order_accrues_once(partner_rig: Rig) -> None:
    provider = rid("prov")
    paid, accepted = both(provider)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish_batch(accepted, accepted, topic="acceptance.done")  # a repeat inside the batch
    consumer = rig.broker.context.get("batch_consumer:acceptance.done")

    assert (consumer.batches, consumer.fallbacks) == (1, 0)
    [entry] = ledger(rig)
    assert entry.provider_id == provider
    assert bound(rig, paid.order_id).accrued
    assert rig.dead == []


async def test_one_fact_alone_accrues_nothing(partner_rig: Rig) -> None:
    paid, _ = both(rid("prov"))
    async with partner_rig.running() as rig:
        await rig.publish(paid)

    assert ledger(rig) == []
    order = bound(rig, paid.order_id)
    assert order.amount == Decimal("1234.56")
    assert order.accepted_at is None
    assert not order.accrued


async def test_a_redelivered_event_changes_nothing(partner_rig: Rig) -> None:
    paid, accepted = both(rid("prov"))
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(accepted)
        first = copy.deepcopy(rig.state.tables)

        await rig.publish(accepted)

    assert rig.state.tables == first
    assert len(rig.state.processed) == 2


async def test_an_order_without_a_provider_is_ignored(partner_rig: Rig) -> None:
    paid, accepted = both(provider=None)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(accepted)

    assert rig.state.tables.get("bound_orders", {}) == {}
    assert ledger(rig) == []
    assert rig.state.processed == set()


async def test_a_product_without_a_share_ratio_accrues_nothing(partner_rig: Rig) -> None:
    paid, accepted = both(rid("prov"), ratio=None)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(accepted)

    assert ledger(rig) == []
    assert not bound(rig, paid.order_id).accrued
    assert rig.dead == []


async def test_a_share_ratio_above_one_is_dead_lettered_naming_the_field(partner_rig: Rig) -> None:
    paid, _ = both(rid("prov"))
    body = paid.model_dump(mode="json")
    body["payload"]["product"]["provider_share_ratio"] = "1.5"
    async with partner_rig.running() as rig:
        await rig.publish_raw(body, "order.paid", key=paid.order_id)

    [dead] = rig.dead
    assert dead.topic == "svc.order.paid.dlt"
    assert "payload.product.provider_share_ratio" in dead.headers["x-reason"]
    assert rig.state.tables.get("bound_orders", {}) == {}


def test_order_paid_is_four_small_handlers_and_every_consumed_event_has_a_subscriber() -> None:
    assert [h.does for h in EVENT_HANDLERS[OrderPaid]] == [
        remember_payment,
        saas.open_sale,
        earnings.bind_provider,
        license_cases.open_license,
    ]
    assert set(SUBSCRIBERS) == set(EVENT_HANDLERS)


async def test_a_provider_bound_saas_payment_runs_its_three_handlers_in_one_claimed_unit_of_work(
    partner_rig: Rig,
) -> None:
    paid = order_paid(parties(rid("prov")), delivery_type=DeliveryType.SAAS_INSTANT)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(paid)  # redelivered

    assert rig.state.processed == {f"partner:{paid.event_id}"}
    assert list(rig.state.tables["paid_orders"]) == [paid.order_id]  # remembered
    assert list(rig.state.tables["sales"]) == [paid.order_id]  # the sale, and its new-instance call
    assert list(rig.state.tables["merchant_calls"]) == [f"newInstance:{paid.order_id}"]
    assert bound(rig, paid.order_id).amount == paid.payload.amount  # the provider's side


async def test_a_payment_that_concerns_no_handler_but_the_memory_of_it_claims_nothing(
    partner_rig: Rig,
) -> None:
    paid, _ = both(provider=None)
    async with partner_rig.running() as rig:
        await rig.publish(paid)

    assert list(rig.state.tables["paid_orders"]) == [paid.order_id]
    assert rig.state.processed == set()
