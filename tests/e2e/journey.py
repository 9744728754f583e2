"""A buyer, a merchant and a provider walking an order through the running services over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from devstack.stack import Stack
from tests.factories import rid
from tests.helpers import eventually

EVIDENCE = {"evidence": [{"kind": "sow", "name": "SOW.pdf"}, {"kind": "acceptance_document", "name": "acc.pdf"}],
            "actual_activation_time": "2026-11-20T09:00:00+08:00"}


@dataclass
class Journey:
    stack: Stack
    http: httpx.AsyncClient
    buyer: str = ""
    merchant: str = ""
    provider: str = ""
    order_id: str = ""
    so_id: str = ""

    def url(self, service: str, path: str) -> str:
        return self.stack.url(service) + path

    async def call(self, method: str, service: str, path: str, account: str, expect: int = 200,
                   **kw: Any) -> Any:
        resp = await self.http.request(method, self.url(service, path), headers={"X-Account-Id": account}, **kw)
        assert resp.status_code == expect, f"{method} {service}{path}: {resp.status_code} {resp.text}"
        return resp.json()

    async def register(self, role: str, phone: str) -> str:
        account_id = rid(role)
        await self.call("POST", "orders", "/accounts", account_id, expect=201, json={
            "account_id": account_id, "role": role, "display_name": account_id, "locale": "en-US",
            "bound_email": f"{account_id}@example.com", "bound_phone": phone})
        return account_id

    async def setup(self, *, provider: bool = True) -> Journey:
        self.buyer = await self.register("buyer", "+8613811110001")
        self.merchant = await self.register("merchant", "+8613811110002")
        if provider:
            self.provider = await self.register("provider", "+8613811110003")
        return self

    async def buy(self, amount: str = "1288.00", ratio: str = "0.12") -> str:
        order = await self.call("POST", "orders", "/orders", self.buyer, expect=201, json={
            "merchant_account_id": self.merchant, "provider_id": self.provider or None, "amount": amount,
            "product": {"product_id": "p-migration", "name": "Database migration", "delivery_type": "manual_service",
                        "provider_share_ratio": ratio}})
        self.order_id = order["order_id"]
        await self.call("POST", "orders", f"/orders/{self.order_id}/pay", self.buyer)
        return self.order_id

    async def service_order(self, timeout: float = 30) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            resp = await self.http.get(self.url("supervision", f"/service-orders/by-order/{self.order_id}"),
                                       headers={"X-Account-Id": self.buyer})
            return resp.json() if resp.status_code == 200 else None

        so = await eventually(found, timeout=timeout, what=f"service order of {self.order_id}")
        self.so_id = so["service_order_id"]
        return so

    async def act(self, actor: str, action: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        return await self.call("POST", "supervision", f"/service-orders/{self.so_id}/actions/{action}", actor,
                               expect=expect, json=body or {})

    async def walk_to_acceptance(self) -> None:
        await self.act(self.buyer, "submit")
        await self.act(self.merchant, "confirm")
        await self.act(self.merchant, "deliver", EVIDENCE)
        await self.act(self.buyer, "accept")

    async def order(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "orders", f"/orders/{self.order_id}", self.buyer)
        return result

    async def completed(self, timeout: float = 30) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            order = await self.order()
            return order if order["status"] == "completed" else None

        return await eventually(done, timeout=timeout, what=f"{self.order_id} completed")

    async def mail(self, account: str) -> list[dict[str, Any]]:
        resp = await self.http.get(self.stack.sinks_url + "/mail", params={"to": f"{account}@example.com"})
        return [m for m in resp.json() if self.order_id in m["subject"]]

    async def sms(self, phone: str) -> list[dict[str, Any]]:
        resp = await self.http.get(self.stack.sinks_url + "/sms", params={"to": phone})
        return [s for s in resp.json() if self.order_id in s["body"]]

    async def inbox(self, account: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "notification", f"/accounts/{account}/inbox", account)
        return result
