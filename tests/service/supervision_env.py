"""The supervision routes over in-memory fakes, behind the real token check (test-key tokens, tests/tokens.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.supervision import api, event_cases, store
from services.supervision.evidence import Limits
from services.supervision.queries import SupervisionQueries
from services.supervision.services import SupervisionService
from services.supervision.worker import TimerSource
from shared.platform.audit import MemoryAuditLog
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.platform.mongo import UnitOfWorkFactory
from shared.platform.worker import Blocked
from shared.schemas import DeliveryContact, DeliveryType, OrderPaid, Parties
from tests import tokens
from tests.factories import order_paid, parties, rid

AUDIENCE = "koo-supervision"
PHONE = "+8613811110001"
PDF_ONLY = Limits(max_bytes=1000, content_types=frozenset({"application/pdf"}))


def auth(sub: str, *roles: str, audience: str = AUDIENCE) -> dict[str, str]:
    return tokens.bearer(sub, *roles, audience=audience)


@dataclass(frozen=True)
class People:
    """Headers of everyone who might call about one order: its buyer and merchant, and outsiders."""

    buyer: dict[str, str]
    merchant: dict[str, str]
    operator: dict[str, str]
    other_buyer: dict[str, str]
    other_merchant: dict[str, str]
    provider: dict[str, str]
    operator_id: str

    @classmethod
    def of(cls, p: Parties) -> People:
        op = rid("op")
        return cls(
            buyer=auth(p.buyer_account_id, "buyer"),
            merchant=auth(p.merchant_account_id, "merchant"),
            operator=auth(op, "operator"),
            other_buyer=auth(rid("buyer"), "buyer"),
            other_merchant=auth(rid("merchant"), "merchant"),
            provider=auth(rid("provider"), "provider"),
            operator_id=op,
        )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Env:
    def __init__(self, limits: Limits = PDF_ONLY) -> None:
        self.state, self.clock, self.audit = FakeState(), Clock(), MemoryAuditLog("supervision")
        self.service = SupervisionService(
            UnitOfWorkFactory(store.fake_uow(self.state)), clock=self.clock, limits=limits
        )
        app = FastAPI()
        install_security(app, tokens.verifier(AUDIENCE), self.audit)
        app.include_router(api.router)
        app.state.supervision = self.service
        app.state.queries = self.queries = SupervisionQueries(
            self.state.collections(), self.service.keys, self.clock
        )
        self.app = app
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://supervision")

    async def open(
        self, delivery_type: DeliveryType = DeliveryType.MANUAL_SERVICE, *, event: OrderPaid | None = None
    ) -> OrderPaid:
        event = event or order_paid(parties(), delivery_type=delivery_type)
        event = event.model_copy(
            update={
                "payload": event.payload.model_copy(
                    update={"delivery_contact": DeliveryContact(name="Li", phone=PHONE, address="Shenzhen")}
                )
            }
        )
        assert await event_cases.on_order_paid(self.service, event) is not None
        return event

    async def fire_due(self) -> int:
        """One round of the timer worker's source at the test clock's time, as the shared leased worker runs it
        (shared/platform/worker.py, tested on the real database): the number of deadlines fired."""
        source = TimerSource(self.service)
        due = await source.due(self.clock.now, 100, Blocked())
        for row in due:
            await source.process(row)
        return len(due)

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None, expect: int = 200, **kw: Any
    ) -> Any:
        resp = await self.http.request(method, path, headers=headers or {}, **kw)
        assert resp.status_code == expect, resp.text
        return resp.json()

    async def evidence(self, so_id: str, headers: dict[str, str], kind: str, name: str) -> dict[str, str]:
        """Upload a PDF to the service order and give it as an evidence item (evidence is a stored file)."""
        meta = await self.call(
            "POST",
            f"/service-orders/{so_id}/files",
            headers,
            expect=201,
            files={"file": (name, f"%PDF-1.7 {name}".encode(), "application/pdf")},
            data={"kind": kind},
        )
        return {"kind": kind, "name": name, "file_id": meta["file_id"]}

    async def refused(self, method: str, path: str, headers: dict[str, str], rule: str, **kw: Any) -> None:
        """403 naming `rule`."""
        body = await self.call(method, path, headers, expect=403, **kw)
        assert body["detail"]["code"] == "forbidden"
        assert body["detail"]["rule"] == rule, body
