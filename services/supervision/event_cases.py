"""Consumed events: each through the runner's `handle`, its id claimed in the same transaction as its effect,
so a redelivered event changes nothing. `EVENT_HANDLERS` says which use cases an event runs (handlers.py
subscribes each event's topic and calls them)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from services.supervision.license_activation import on_license_activated
from services.supervision.rules import acceptance_rule, check_milestone_offer
from services.supervision.service_order import ServiceOrder
from services.supervision.services import CONSUMER, SupervisionService, load, save, seal
from services.supervision.store import ERASED, SupervisionUnitOfWork
from services.supervision.templates import template_for
from services.supervision.unsupervised import NoServiceOrder
from shared.platform.errors import NotYetKnown, PermanentError
from shared.platform.logs import event_fields
from shared.schemas import AccountErased, Event, LicenseActivated, OrderPaid, RefundDecided

log = logging.getLogger("supervision.events")


async def on_order_paid(sv: SupervisionService, event: OrderPaid) -> ServiceOrder | None:
    """Open the service order of a supervised new purchase. None if there is none (a marker says why) or the
    event is a duplicate."""
    check_order_paid(event)
    so = await sv.uow.handle(CONSUMER, event, lambda uow: _open(sv, uow, event))
    _log_opened(event, so)
    return so


async def on_orders_paid(sv: SupervisionService, events: list[OrderPaid]) -> list[ServiceOrder | None]:
    """`on_order_paid` for a batch, in one unit of work (the shared runner's `handle_batch`): the buyers'
    erasure marks read in one query, the service orders and their timers written together. An event that
    fails its checks fails the batch, whose events are then handled one by one."""
    for event in events:
        check_order_paid(event)

    async def prefetch(uow: SupervisionUnitOfWork, fresh: list[Event]) -> None:
        await uow.prefetch(ERASED, [cast(OrderPaid, e).payload.parties.buyer_account_id for e in fresh])

    opened = await sv.uow.handle_batch(
        CONSUMER, list(events), lambda uow, e: _open(sv, uow, cast(OrderPaid, e)), prefetch
    )
    for event, so in zip(events, opened, strict=True):
        _log_opened(event, so)
    return opened


def check_order_paid(event: OrderPaid) -> None:
    """What makes an order.paid poison (dead-lettered with the rule in the reason), before anything is
    written."""
    p = event.payload
    if NoServiceOrder.of(p) is not None:
        return
    check_milestone_offer(p)  # refused offers are dead-lettered with the rule in the reason (dossier §4.2)
    if template_for(p.product.delivery_type, p.product.flow_template) is None:
        raise PermanentError(f"no flow template for delivery type {p.product.delivery_type.value}")


async def _open(sv: SupervisionService, uow: SupervisionUnitOfWork, event: OrderPaid) -> ServiceOrder | None:
    p = event.payload
    marker = NoServiceOrder.of(p)
    if marker is not None:
        # Image, API, instant-use SaaS (dossier §1.2), or a renewal (§1.6): no service order.
        await uow.unsupervised.add(marker)
        return None
    template = template_for(p.product.delivery_type, p.product.flow_template)
    assert template is not None  # check_order_paid
    so, events = ServiceOrder.from_order_paid(
        p, template, acceptance_rule(p), sv.clock(), event.correlation_id, sv.policy
    )
    if await uow.erased.includes(p.parties.buyer_account_id):
        so.erase_contact(sv.clock())  # the buyer erased its contact data before this order reached us
    await uow.service_orders.add(so)
    await uow.timers.sync(so)
    uow.emit(*events)
    return so


def _log_opened(event: OrderPaid, so: ServiceOrder | None) -> None:
    p = event.payload
    if so is not None:
        log.info("service order opened", extra=event_fields(event))
    elif NoServiceOrder.of(p) is not None:
        log.info(
            "no service order (%s, %s order), or order.paid handled before",
            p.product.delivery_type.value,
            p.order_type,
            extra=event_fields(event),
        )
    else:
        log.info("order.paid handled before", extra=event_fields(event))


async def on_account_erased(sv: SupervisionService, event: AccountErased) -> int:
    """Mask the contact data supervision holds for the account: the hardware delivery contact of the service
    orders where it is the buyer (of which supervision keeps only the phone; name and address are never
    stored). The timeline is evidence and stays as it is: what a record must keep is kept. The number of
    service orders masked; a redelivered event masks nothing again."""
    p = event.payload

    async def work(uow: SupervisionUnitOfWork) -> int:
        await uow.erased.record(p.account_id, p.erased_at)  # an order.paid that arrives later is masked too
        masked = 0
        for so_id in await uow.service_orders.holding_contact(p.account_id):
            so = await load(uow, so_id)
            if so.erase_contact(p.erased_at):
                await uow.service_orders.save(so)
                masked += 1
        return masked

    masked = await sv.uow.handle(CONSUMER, event, work) or 0
    log.info("contact data erased on %d service order(s)", masked, extra=event_fields(event))
    return masked


async def on_refund_decided(sv: SupervisionService, event: RefundDecided) -> ServiceOrder | None:
    """The orders service decided a refund (it owns refunds, dossier §1.4): approved ends the service order as
    refunded, rejected leaves the flow as it is (refunds.py). It may come before the order.paid that opens the
    service order (another topic): then it waits, parked. None for an order that has no service order and
    never will (a marker says so), and for a redelivery."""
    p = event.payload

    async def work(uow: SupervisionUnitOfWork) -> ServiceOrder | None:
        so = await uow.service_orders.of_order(p.order_id)
        if so is None:
            if await uow.unsupervised.get(p.order_id) is not None:
                return None  # e.g. the 5-day no-reason refund of an image product: nothing to close
            raise NotYetKnown(
                p.order_id,
                f"service order {ServiceOrder.id_for(p.order_id)} is not open yet: the "
                f"order.paid of order {p.order_id} has not arrived",
            )
        events = so.refund_decided(p, sv.clock(), event.correlation_id)
        seal(sv, so)
        await save(uow, so, events)
        return so

    so = await sv.uow.handle(CONSUMER, event, work)
    log.info("refund %s %s", p.refund_id, "approved" if p.approved else "rejected", extra=event_fields(event))
    return so


Handler = Callable[[SupervisionService, Any], Awaitable[object]]
EVENT_HANDLERS: dict[type[Event], list[Handler]] = {
    OrderPaid: [on_order_paid],
    AccountErased: [on_account_erased],
    RefundDecided: [on_refund_decided],
    LicenseActivated: [on_license_activated],
}
# The events taken in batches (what a poll fetched, one unit of work): the batch form of their use case above.
# A batch that fails is handled one event at a time through EVENT_HANDLERS. Both are looked up per call, so a
# test that swaps a use case swaps its batch form too.
BATCH_HANDLERS: dict[type[Event], Callable[[SupervisionService, Any], Awaitable[object]]] = {
    OrderPaid: on_orders_paid,
}
