"""Use cases on deliveries after the fact: the SMS provider's status callbacks, and an operator's replay of
dead deliveries (the desk's list of them is a query: queries.py)."""

from __future__ import annotations

from services.notification.deps import Deps
from services.notification.domain import DeliveryStatus
from services.notification.store import NotificationUnitOfWork
from services.notification.store.deliveries import ProviderStatus
from shared.platform.errors import NotFound


async def record_sms_status(deps: Deps, delivery_id: str, sid: str, status: str) -> None:
    """Record the provider's status on the delivery it was sent for (a stale one changes nothing). Two
    callbacks come for every SMS (sent, delivered): those that arrive together are written together
    (`Deps.sms_statuses`), each answered once its write is done."""
    note = f"provider status {status} at {deps.clock().isoformat()}"
    await deps.sms_statuses.submit(ProviderStatus(delivery_id, status, sid, note))


async def replay_delivery(deps: Deps, operator_id: str, delivery_id: str) -> str:
    """A dead (or refused) delivery goes back to the queue with fresh attempts; its key stays the same,
    so the e-mail keeps its Message-ID and a replay can never create a second row. Its status afterwards."""

    async def work(uow: NotificationUnitOfWork) -> str:  # a plain value: a keyed retry gets it back (effects)
        now = deps.clock()
        note = f"replayed by operator {operator_id} at {now.isoformat()}"
        if await uow.deliveries.replay(delivery_id, now, note):
            await uow.commit()
            return DeliveryStatus.PENDING.value
        status = await uow.deliveries.status(delivery_id)
        if status is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return status  # not dead: nothing to replay (a second click is harmless)

    status = await deps.uow.run(work)
    if status == DeliveryStatus.PENDING.value:
        deps.queued()  # queued again (or already waiting: a nudge more does no harm)
    return status
