"""The operators' audit log: who did what, on which resource, when, and how it ended.

Every request an operator makes (reads of others' data included) is recorded by the service that serves it,
in its own `audit_log` collection:
- the record is written *before* the route acts, from the authentication step; if it cannot be written the
  request fails (503), so no operator action goes unrecorded;
- when the response is known the record gets its outcome (allowed, refused or failed, with the HTTP status),
  once: the update matches only a pending record;
- nothing in the suite edits or deletes a record. Operators read the log (`GET /operator/audit`); there is no
  other route onto it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform.auth import Operator, Principal
from shared.platform.errors import Unavailable

log = logging.getLogger("audit")
COLLECTION = "audit_log"


class AuditUnavailable(Unavailable):
    code = "audit_unavailable"


class AuditRecord(BaseModel):
    audit_id: str
    at: AwareDatetime
    service: str
    actor_account_id: str
    actor_username: str
    method: str
    action: str  # the route, e.g. "POST /products/{product_id}/review"
    resource: dict[str, str]  # the path parameters: which product, order, appeal
    outcome: str  # pending, allowed, refused, failed
    status: int | None = None
    finished_at: AwareDatetime | None = None


def outcome_of(status: int) -> str:
    return "allowed" if status < 400 else "refused" if status < 500 else "failed"


class AuditLog(Protocol):
    async def begin(self, request: Request, principal: Principal) -> None: ...

    async def finish(self, audit_id: str, status: int) -> None: ...

    async def records(self, actor: str | None, since: datetime | None, limit: int) -> list[AuditRecord]: ...


def _record(service: str, request: Request, principal: Principal) -> AuditRecord:
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    return AuditRecord(
        audit_id=uuid.uuid4().hex,
        at=datetime.now(UTC),
        service=service,
        actor_account_id=principal.account_id,
        actor_username=principal.username,
        method=request.method,
        action=f"{request.method} {template}",
        resource={k: str(v) for k, v in request.path_params.items()},
        outcome="pending",
    )


class MongoAuditLog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], service: str) -> None:
        self.col, self.service = db[COLLECTION], service

    async def begin(self, request: Request, principal: Principal) -> None:
        if not principal.is_operator:
            return
        record = _record(self.service, request, principal)
        try:
            await self.col.insert_one({"_id": record.audit_id, **record.model_dump()})
        except PyMongoError as exc:
            raise AuditUnavailable(
                "the audit log cannot be written; operator actions wait until it can"
            ) from exc
        request.state.audit_id = record.audit_id

    async def finish(self, audit_id: str, status: int) -> None:
        await self.col.update_one(
            {"_id": audit_id, "outcome": "pending"},
            {"$set": {"outcome": outcome_of(status), "status": status, "finished_at": datetime.now(UTC)}},
        )

    async def records(self, actor: str | None, since: datetime | None, limit: int) -> list[AuditRecord]:
        query: dict[str, Any] = {}
        if actor:
            query["actor_account_id"] = actor
        if since:
            query["at"] = {"$gte": since}
        docs = await self.col.find(query).sort("at", DESCENDING).limit(limit).to_list(None)
        return [AuditRecord.model_validate(d) for d in docs]


class MemoryAuditLog:
    """For unit and service tests of the routes (in-memory, same rules)."""

    def __init__(self, service: str = "test") -> None:
        self.service = service
        self.rows: dict[str, AuditRecord] = {}

    async def begin(self, request: Request, principal: Principal) -> None:
        if principal.is_operator:
            record = _record(self.service, request, principal)
            self.rows[record.audit_id] = record
            request.state.audit_id = record.audit_id

    async def finish(self, audit_id: str, status: int) -> None:
        row = self.rows.get(audit_id)
        if row is not None and row.outcome == "pending":
            self.rows[audit_id] = row.model_copy(
                update={"outcome": outcome_of(status), "status": status, "finished_at": datetime.now(UTC)}
            )

    async def records(self, actor: str | None, since: datetime | None, limit: int) -> list[AuditRecord]:
        rows = [
            r
            for r in self.rows.values()
            if (not actor or r.actor_account_id == actor) and (not since or r.at >= since)
        ]
        return sorted(rows, key=lambda r: r.at, reverse=True)[:limit]


class AuditMiddleware:
    """Completes the record the authentication step opened, with the response's status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        scope.setdefault("state", {})

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            audit_id = (scope.get("state") or {}).get("audit_id")
            audit = getattr(scope["app"].state, "audit", None) if "app" in scope else None
            if audit_id and audit is not None:
                try:
                    await audit.finish(audit_id, status)
                except (
                    PyMongoError
                ):  # the record stays "pending": the action is recorded, its outcome unknown
                    log.exception("could not record the outcome of operator action %s", audit_id)


router = APIRouter(tags=["operator"])


@router.get("/operator/audit")
async def audit_log(
    request: Request,
    _: Operator,
    actor: str | None = Query(None, max_length=128),
    since: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditRecord]:
    """The operators' audit log of this service, newest first (operators only; nobody can edit it)."""
    log_: AuditLog = request.app.state.audit
    return await log_.records(actor, since, limit)
