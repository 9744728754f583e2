"""The few HTTP calls the measurements need, onto the real service processes and the mail/SMS sinks."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.stack import Stack

EVIDENCE = {"evidence": [{"kind": "sow", "name": "SOW.pdf"}, {"kind": "acceptance_document", "name": "acc.pdf"}],
            "actual_activation_time": "2026-11-20T09:00:00+08:00"}
PRODUCT = {"product_id": "p-bench", "name": "Database migration", "delivery_type": "manual_service",
           "provider_share_ratio": "0.10"}


class BenchError(RuntimeError):
    """A measurement could not complete (an unexpected answer or a timeout), as opposed to a target miss."""


def rid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def random_phone() -> str:
    return f"+86138{random.randrange(10**8):08d}"  # a valid mainland mobile number, unique enough per run


@dataclass(frozen=True)
class Party:
    account_id: str
    email: str
    phone: str


@dataclass
class Api:
    stack: Stack
    http: httpx.AsyncClient

    async def call(self, method: str, service: str, path: str, account: str, expect: int = 200,
                   **kw: Any) -> Any:
        resp = await self.http.request(method, self.stack.url(service) + path,
                                       headers={"X-Account-Id": account}, **kw)
        if resp.status_code != expect:
            raise BenchError(f"{method} {service}{path}: {resp.status_code} {resp.text[:300]}")
        return resp.json()

    async def register(self, role: str) -> Party:
        account_id = rid(f"bench-{role}")
        party = Party(account_id, f"{account_id}@example.com", random_phone())
        await self.call("POST", "orders", "/accounts", account_id, expect=201, json={
            "account_id": account_id, "role": role, "display_name": account_id, "locale": "en-US",
            "bound_email": party.email, "bound_phone": party.phone})
        return party

    async def pair(self) -> tuple[Party, Party]:
        return await self.register("buyer"), await self.register("merchant")

    async def place(self, buyer: Party, merchant: Party) -> str:
        order = await self.call("POST", "orders", "/orders", buyer.account_id, expect=201, json={
            "merchant_account_id": merchant.account_id, "amount": "1288.00", "product": PRODUCT})
        return str(order["order_id"])

    async def pay(self, buyer: Party, order_id: str) -> None:
        await self.call("POST", "orders", f"/orders/{order_id}/pay", buyer.account_id)

    async def order_status(self, buyer: Party, order_id: str) -> str:
        order = await self.call("GET", "orders", f"/orders/{order_id}", buyer.account_id)
        return str(order["status"])

    async def service_order(self, buyer: Party, order_id: str, within: float = 30) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            resp = await self.http.get(self.stack.url("supervision") + f"/service-orders/by-order/{order_id}",
                                       headers={"X-Account-Id": buyer.account_id})
            if resp.status_code == 200:
                return str(resp.json()["service_order_id"])
            await asyncio.sleep(0.05)
        raise BenchError(f"no service order for {order_id} within {within:.0f}s")

    async def act(self, so_id: str, actor: Party, action: str, body: dict[str, Any] | None = None) -> None:
        await self.call("POST", "supervision", f"/service-orders/{so_id}/actions/{action}", actor.account_id,
                        json=body or {})

    async def inbox(self, account: Party) -> list[dict[str, Any]]:
        page = await self.call("GET", "notification", f"/accounts/{account.account_id}/inbox", account.account_id,
                               params={"limit": 100})
        items: list[dict[str, Any]] = page["items"]
        return items

    async def sink(self, kind: str, to: str) -> list[dict[str, Any]]:
        """Rows the mail ("mail") or SMS ("sms") sink accepted for one address."""
        resp = await self.http.get(f"{self.stack.sinks_url}/{kind}", params={"to": to})
        if resp.status_code != 200:
            raise BenchError(f"GET sinks /{kind}: {resp.status_code}")
        rows: list[dict[str, Any]] = resp.json()
        return rows

    async def sink_total(self, parties: list[Party]) -> int:
        counts = await asyncio.gather(*(self.sink(kind, p.email if kind == "mail" else p.phone)
                                        for p in parties for kind in ("mail", "sms")))
        return sum(len(c) for c in counts)

    async def quiesce(self, parties: list[Party], *, settle: float = 1.0, limit: float = 60.0) -> float:
        """Wait until the sinks stop receiving mail/SMS for these parties (the notification backlog drained),
        so that one measurement does not pay for the previous one's deliveries. Returns the seconds waited."""
        start = time.monotonic()
        last, stable_since = -1, start
        while time.monotonic() - start < limit:
            total = await self.sink_total(parties)
            now = time.monotonic()
            if total != last:
                last, stable_since = total, now
            elif now - stable_since >= settle:
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - start
