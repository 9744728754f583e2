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


async def on_license_activated(sv: SupervisionService, event: LicenseActivated) -> ServiceOrder | None:
    """Pass the activation node with the code's activation time. None when there is nothing to pass: the
    order has no service order, or its flow is not at the node (see below), or the event came before."""
    p = event.payload

    async def work(uow: SupervisionUnitOfWork) -> ServiceOrder | None:
        so = await uow.service_orders.of_order(p.order_id)
        if so is None:
            if await uow.unsupervised.get(p.order_id) is not None:
                return None
            raise NotYetKnown(
                p.order_id, f"license.activated of order {p.order_id} came before its order.paid"
            )
        if so.node != NODE or so.status is not Status.ACTIVE:
            # [I] The dossier has the buyer claim the code before it is activated (§2.2.a node 2). A code the
            # merchant's software activates earlier, or during an appeal, stays activated in partner (its
            # validity counts from then); the flow's node is then passed by the merchant's own step.
            log.warning("order %s: code activated while the flow is at %s", p.order_id, so.node)
            return None
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
