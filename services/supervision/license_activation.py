"""License 2.0: the merchant's software activated the order's authorization code (partner's signed open API),
so the system passes the activation node (授权码激活, dossier §2.2.a node 3) and the activation time becomes
the actual activation time, the validity start (§10). Consumed from license.activated, claimed in the same
transaction as the step, so a redelivered event changes nothing."""

from __future__ import annotations

import logging

from services.supervision.service_order import ServiceOrder
from services.supervision.service_order.state import Status
from services.supervision.services import CONSUMER, SupervisionService, save
from services.supervision.store import SupervisionUnitOfWork
from shared.platform.errors import NotYetKnown
from shared.platform.logs import event_fields
from shared.schemas import LicenseActivated

log = logging.getLogger("supervision.license")
NODE, ACTION = "activation", "activate"  # templates.LICENSE_CODE
BEFORE = {"implement", "claim_code"}  # the nodes the flow passes before it waits for the activation


async def on_license_activated(sv: SupervisionService, event: LicenseActivated) -> ServiceOrder | None:
    """Pass the activation node with the code's activation time. None when there is nothing to pass: the
    order has no service order, its flow is past the node, or the event was handled before."""
    p = event.payload

    async def work(uow: SupervisionUnitOfWork) -> ServiceOrder | None:
        so = await uow.service_orders.of_order(p.order_id)
        if so is None:
            if await uow.unsupervised.get(p.order_id) is not None:
                return None
            raise NotYetKnown(
                p.order_id, f"license.activated of order {p.order_id} came before its order.paid"
            )
        early = so.node in BEFORE and so.status in {Status.ACTIVE, Status.FROZEN}
        if early or (so.node == NODE and so.status is Status.FROZEN):
            # [I] The dossier has the merchant implement and the buyer claim the code before it is
            # activated (§2.2.a nodes 1-2), but the code is the buyer's from payment and may be activated
            # earlier; and an open appeal freezes every step (§5.3). The activation waits, parked, and is
            # tried again (with backoff, for a day, then dead-lettered with this reason for an operator to
            # replay) until the flow reaches the node; it then passes with the code's own activation time.
            raise NotYetKnown(
                p.order_id, f"code {p.code_id} was activated while the flow is at {so.node} ({so.status})"
            )
        if so.node != NODE or so.status is not Status.ACTIVE:
            return None  # past the node (the merchant passed it by hand) or the flow has ended
        # The merchant's software made the signed call: the step is the merchant's node, taken by the system
        # for it; the note says so on the timeline.
        note = f"code {p.code_id} activated on device {p.device_id[:64]}: passed by the system"
        events = so.act(
            p.parties.merchant_account_id,
            ACTION,
            sv.clock(),
            event.correlation_id,
            activation_time=p.activated_at,
            note=note,
            policy=sv.policy,
        )
        await save(uow, so, events)
        return so

    so = await sv.uow.handle(CONSUMER, event, work)
    log.info("license activated: node %s", "passed" if so else "unchanged", extra=event_fields(event))
    return so
