"""Commands on a service order: a node's step, an appeal and its resolution, an evidence upload (callers are
the verified token's account; operators per step, dossier §5.3, §3.5), and the timer worker's firing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.supervision.access import admit
from services.supervision.commands import ActionRequest, AppealRequest, ResolveAppeal
from services.supervision.evidence import Received
from services.supervision.service_order import Evidence, ServiceOrder
from services.supervision.services import SupervisionService, change, change_in, correlation
from services.supervision.store import DueDeadline, Files, SupervisionUnitOfWork
from shared.platform.auth import Principal
from shared.platform.errors import InvalidInput, NotFound
from shared.platform.worker import Blocked
from shared.schemas import Event


async def act(
    sv: SupervisionService, so_id: str, caller: Principal, action: str, req: ActionRequest
) -> ServiceOrder:
    """The current node's step. Operators only at the steps that are theirs (the platform review, §3.5)."""

    async def decide(so: ServiceOrder, uow: SupervisionUnitOfWork) -> list[Event]:
        admit(so, caller, operators=True)
        evidence = await _with_digests(uow.files, so.service_order_id, req.evidence)
        return so.act(
            caller.account_id,
            action,
            sv.clock(),
            correlation(),
            evidence=evidence,
            activation_time=req.actual_activation_time,
            note=req.note,
            elements=req.acceptance_elements,
            recipient_phone=req.recipient_phone,
            operator=caller.is_operator,
            policy=sv.policy,
        )

    return await change_in(sv, so_id, decide)


async def raise_appeal(
    sv: SupervisionService, so_id: str, caller: Principal, req: AppealRequest
) -> ServiceOrder:
    async def decide(so: ServiceOrder, uow: SupervisionUnitOfWork) -> list[Event]:
        admit(so, caller, operators=False)  # the buyer or the merchant (dossier §5.1)
        proofs = await _stored_attachments(uow.files, so.service_order_id, req.attachments)
        return so.raise_appeal(
            caller.account_id,
            req.reason,
            req.demands,
            req.attachments,
            sv.clock(),
            correlation(),
            sv.policy,
            proofs=proofs,
        )

    return await change_in(sv, so_id, decide)


async def resolve_appeal(
    sv: SupervisionService, so_id: str, appeal_id: str, caller: Principal, req: ResolveAppeal
) -> ServiceOrder:
    """An operator's resolution; with a refund, the orders service carries it out (see
    service_order/disputes)."""

    def decide(so: ServiceOrder) -> list[Event]:
        now, operator = sv.clock(), caller.is_operator
        return so.resolve_appeal(
            caller.account_id,
            appeal_id,
            req.outcome,
            now,
            correlation(),
            operator=operator,
            node=req.node,
            note=req.note,
            policy=sv.policy,
        )

    return await change(sv, so_id, decide)


async def assign_appeal(
    sv: SupervisionService, appeal_id: str, caller: Principal, assignee: str | None
) -> ServiceOrder:
    """An operator assigns an open appeal from the queue: to another operator, or, by default, to themself."""
    async with sv.uow() as uow:
        row = await uow.appeal_queue.get(appeal_id)
    if row is None:
        raise NotFound(f"appeal {appeal_id} does not exist")

    def decide(so: ServiceOrder) -> list[Event]:
        who = assignee or caller.account_id
        return so.assign_appeal(caller.account_id, appeal_id, who, sv.clock(), operator=caller.is_operator)

    return await change(sv, str(row["service_order_id"]), decide)


async def upload(
    sv: SupervisionService, so_id: str, caller: Principal, kind: str, name: str, received: Received
) -> dict[str, Any]:
    """Keep the bytes and their digest; the timeline entry makes the upload part of the tamper-evident
    record."""
    meta: dict[str, Any] = {}

    async def decide(so: ServiceOrder, uow: SupervisionUnitOfWork) -> list[Event]:
        admit(so, caller, operators=True)
        role, now = so.role_of(caller.account_id, caller.is_operator), sv.clock()
        meta.update(
            file_id=f"EV-{uuid.uuid4().hex[:16]}",
            service_order_id=so.service_order_id,
            kind=kind,
            name=name,
            content_type=received.content_type,
            size=received.size,
            sha256=received.sha256,
            uploaded_by=caller.account_id,
            uploaded_at=now,
        )
        await uow.files.add({**meta, "data": received.data})
        so.record_upload(
            role, caller.account_id, now, {k: meta[k] for k in ("file_id", "kind", "name", "size", "sha256")}
        )
        return []

    await change_in(sv, so_id, decide)
    return meta


async def _with_digests(files: Files, so_id: str, evidence: list[Evidence]) -> list[Evidence]:
    """Evidence is a stored file: each item names a file uploaded to this service order and takes that file's
    digest (the caller cannot claim another one), so its timeline entry carries the file id and the content
    hash. Evidence without a stored file is refused: a name proves nothing."""
    out = []
    for n, item in enumerate(evidence):
        if item.file_id is None:
            raise InvalidInput(
                f"evidence item {n} ({item.kind}) names no stored file: upload it first (POST .../files) "
                "and give its file_id",
                field=f"evidence[{n}].file_id",
            )
        doc = await files.get(item.file_id)
        if doc is None or doc["service_order_id"] != so_id:
            raise NotFound(f"file {item.file_id} is not attached to service order {so_id}")
        out.append(item.model_copy(update={"sha256": doc["sha256"]}))
    return out


async def _stored_attachments(files: Files, so_id: str, attachments: list[str]) -> list[Evidence]:
    """The appeal's attachments that are files uploaded to this service order, with their digests; the others
    are names (a file of another service order is refused, never quietly taken for a name)."""
    out = []
    for name in attachments:
        doc = await files.get(name)
        if doc is None:
            continue
        if doc["service_order_id"] != so_id:
            raise NotFound(f"file {name} is not attached to service order {so_id}")
        out.append(Evidence(kind=doc["kind"], name=doc["name"], file_id=name, sha256=doc["sha256"]))
    return out


# --- the timer worker's use cases (its source is services/supervision/worker.py) ---------------------------


async def due_deadlines(
    sv: SupervisionService, now: datetime, limit: int, blocked: Blocked
) -> list[DueDeadline]:
    """Deadlines whose time has come, earliest first, but for the blocked ones (backing off after a failure,
    or quarantined)."""
    async with sv.uow() as uow:
        return await uow.timers.due(now, limit, blocked.all)


async def fire(sv: SupervisionService, deadline: DueDeadline) -> ServiceOrder:
    """Fire one deadline in its own transaction; firing it twice does nothing (it is gone after the first)."""
    return await change(
        sv,
        deadline.service_order_id,
        lambda so: so.fire(deadline.deadline_id, sv.clock(), correlation(), sv.policy),
    )
