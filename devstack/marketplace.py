"""The marketplace's common steps over HTTP, as its people take them, with their own tokens.

Used by `make demo`, the benchmark and the end-to-end tests, so all three walk the same way: profiles
registered from tokens, products listed through the operator's review, orders from the catalogue (or a
provider's private link), payments confirmed by the payment system, supervision steps by the parties.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

T = TypeVar("T")
# The delivery's evidence: files uploaded to the service order first, then named by their ids (evidence is
# always a stored file).
DELIVERY_FILES = (("sow", "SOW.pdf"), ("acceptance_document", "acc.pdf"))
ACTIVATION = {"actual_activation_time": "2026-11-20T09:00:00+08:00"}


class Caller(Protocol):
    async def headers(self) -> dict[str, str]: ...


class Unexpected(AssertionError):
    """The suite answered something else than the step expects."""


def product(**over: Any) -> dict[str, Any]:
    """A supervised manual service with one one-time specification (override anything)."""
    return {
        "product_id": f"prod-{uuid.uuid4().hex[:10]}",
        "name": "Database migration service",
        "delivery_type": "manual_service",
        "flow_template": "manual_service.standard",
        "promised_delivery_days": 10,
        "acceptance_standard": "SOW and acceptance report signed",
        "specifications": [
            {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": "1288.00"}
        ],
        **over,
    }


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Unexpected(f"{what} not reached within {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)


@dataclass
class Suite:
    urls: dict[str, str]
    http: httpx.AsyncClient

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        who: Caller | None,
        expect: int | set[int] = 200,
        **kw: Any,
    ) -> Any:
        headers = {**(await who.headers() if who is not None else {}), **kw.pop("headers", {})}
        resp = await self.http.request(method, self.urls[service] + path, headers=headers, **kw)
        if resp.status_code not in ({expect} if isinstance(expect, int) else expect):
            raise Unexpected(f"{method} {service}{path}: {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    async def find(self, service: str, path: str, who: Caller) -> Any:
        """The resource, or None while it does not exist yet."""
        resp = await self.http.get(self.urls[service] + path, headers=await who.headers())
        return resp.json() if resp.status_code == 200 else None

    # --- accounts -----------------------------------------------------------------------------------
    async def profile(
        self, who: Caller, phone: str, *, locale: str = "en-US", name: str | None = None
    ) -> Any:
        """Register the caller's own profile (idempotent: an existing one is answered as it is)."""
        body: dict[str, Any] = {"bound_phone": phone, "locale": locale}
        if name:
            body["display_name"] = name
        return await self.call("POST", "orders", "/accounts", who, expect={200, 201}, json=body)

    # --- catalogue ----------------------------------------------------------------------------------
    async def list_product(self, merchant: Caller, operator: Caller, **over: Any) -> Any:
        """The merchant creates and publishes a product, an operator lists it (dossier §9.1)."""
        draft = await self.call("POST", "orders", "/products", merchant, expect=201, json=product(**over))
        if draft["sale_mode"] == "joint_operation":  # certified first (联营认证, > 60 of 120 points, §9.1)
            await self.call(
                "POST",
                "orders",
                "/certifications",
                operator,
                expect=201,
                json={
                    "merchant_account_id": draft["merchant_account_id"],
                    "product_id": draft["product_id"],
                    "score": 90,
                },
            )
        await self.call("POST", "orders", f"/products/{draft['product_id']}/publish", merchant)
        return await self.call(
            "POST", "orders", f"/products/{draft['product_id']}/review", operator, json={"approve": True}
        )

    async def list_license(
        self,
        merchant: Caller,
        operator: Caller,
        delivery_type: str = "license_code",
        flow_template: str = "license.code",
        **over: Any,
    ) -> Any:
        """A License product: its package released in the asset centre and scanned first (dossier §9.1)."""
        asset = await self.call(
            "POST", "orders", "/assets", merchant, expect=201, json={"name": "package.tgz"}
        )
        await self.call("POST", "orders", f"/assets/{asset['asset_id']}/release", merchant)
        await self.call(
            "POST", "orders", f"/assets/{asset['asset_id']}/scan", operator, json={"passed": True}
        )
        return await self.list_product(
            merchant,
            operator,
            delivery_type=delivery_type,
            flow_template=flow_template,
            asset_id=asset["asset_id"],
            **over,
        )

    # --- orders -------------------------------------------------------------------------------------
    async def order(self, buyer: Caller, product_id: str, **body: Any) -> Any:
        return await self.call(
            "POST", "orders", "/orders", buyer, expect=201, json={"product_id": product_id, **body}
        )

    async def pay(self, payment: Caller, order: dict[str, Any], *, credit: bool = False) -> Any:
        """The payment system confirms the order's payment."""
        return await self.call(
            "POST",
            "orders",
            f"/orders/{order['order_id']}/pay",
            payment,
            json={"payment_id": f"PAY-{uuid.uuid4().hex[:16]}", "amount": order["amount"], "credit": credit},
        )

    async def completed(self, who: Caller, order_id: str, timeout: float = 30) -> Any:
        async def done() -> Any:
            order = await self.call("GET", "orders", f"/orders/{order_id}", who)
            return order if order["status"] == "completed" else None

        return await eventually(done, timeout=timeout, what=f"{order_id} completed")

    # --- supervision --------------------------------------------------------------------------------
    async def service_order(self, who: Caller, order_id: str, timeout: float = 30) -> Any:
        return await eventually(
            lambda: self.find("supervision", f"/service-orders/by-order/{order_id}", who),
            timeout=timeout,
            what=f"service order of {order_id}",
        )

    async def act(
        self, who: Caller, so_id: str, action: str, body: dict[str, Any] | None = None, expect: int = 200
    ) -> Any:
        return await self.call(
            "POST",
            "supervision",
            f"/service-orders/{so_id}/actions/{action}",
            who,
            expect=expect,
            json=body or {},
        )

    async def upload(self, who: Caller, so_id: str, kind: str, name: str) -> dict[str, str]:
        """Upload an evidence file (a small PDF) to the service order: the evidence item naming it."""
        meta = await self.call(
            "POST",
            "supervision",
            f"/service-orders/{so_id}/files",
            who,
            expect=201,
            files={"file": (name, f"%PDF-1.7 {name}".encode(), "application/pdf")},
            data={"kind": kind},
        )
        return {"kind": kind, "name": name, "file_id": meta["file_id"]}

    async def delivery(self, merchant: Caller, so_id: str, **extra: Any) -> dict[str, Any]:
        """The manual service's delivery body: the SOW and the acceptance document, uploaded first."""
        evidence = [await self.upload(merchant, so_id, kind, name) for kind, name in DELIVERY_FILES]
        return {"evidence": evidence, **ACTIVATION, **extra}

    async def walk_to_acceptance(self, buyer: Caller, merchant: Caller, so_id: str) -> None:
        """The standard manual-service flow: submit, confirm, deliver with evidence, accept."""
        await self.act(buyer, so_id, "submit")
        await self.act(merchant, so_id, "confirm")
        await self.act(merchant, so_id, "deliver", await self.delivery(merchant, so_id))
        await self.act(buyer, so_id, "accept")
