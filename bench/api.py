"""The few HTTP calls the measurements need, onto the real service processes, Mailpit and the SMS sink."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from devstack.identity import KeycloakAdmin, Login, User, payment_system
from devstack.marketplace import Suite, Unexpected
from devstack.stack import SERVICES, Stack

PRICE = "1288.00"


class BenchError(RuntimeError):
    """A measurement could not complete (an unexpected answer or a timeout), as opposed to a target miss."""


def random_phone() -> str:
    return f"+86138{random.randrange(10**8):08d}"  # a valid mainland mobile number, unique enough per run


@dataclass(frozen=True)
class Party:
    login: User
    email: str
    phone: str

    @property
    def account_id(self) -> str:
        return self.login.account_id


@dataclass
class Api:
    """The bench's people are made in the stack's Keycloak and call with their own tokens."""

    stack: Stack
    http: httpx.AsyncClient
    products: dict[str, str] = field(default_factory=dict)  # merchant account id -> its listed product
    parties: list[Party] = field(default_factory=list)  # everyone `pair` made, in order
    _operator: User | None = None
    # The requests the phases fire many at a time (accept, pay) go through aiohttp: httpx's connection pool
    # added about 2 s to 100 concurrent requests here (100 GETs: p50 400-800 ms with httpx, 100 ms with
    # aiohttp, against the same service), which would have been counted as the services' latency.
    load: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        assert self.stack.keycloak is not None, "the bench starts its own identity provider"
        self.admin = KeycloakAdmin(self.stack.keycloak.url, self.stack.keycloak.admin_password)
        self.payment = payment_system(self.stack.issuer)
        self.suite = Suite({s: self.stack.url(s) for s in SERVICES}, self.http)

    async def call(
        self, method: str, service: str, path: str, who: Party | User, expect: int = 200, **kw: Any
    ) -> Any:
        caller = who.login if isinstance(who, Party) else who
        try:
            return await self.suite.call(method, service, path, caller, expect=expect, **kw)
        except Unexpected as exc:
            raise BenchError(str(exc)) from exc

    async def register(self, role: str) -> Party:
        user = await self.admin.user(role, name=f"bench-{role}-{uuid.uuid4().hex[:8]}")
        party = Party(user, user.email, random_phone())
        await self.suite.profile(user, party.phone)
        return party

    async def pair(self) -> tuple[Party, Party]:
        """A buyer, and a merchant with a listed product (an operator reviewed it)."""
        if self._operator is None:
            self._operator = await self.admin.user("operator")
        buyer, merchant = await self.register("buyer"), await self.register("merchant")
        listed = await self.suite.list_product(
            merchant.login,
            self._operator,
            name="Database migration",
            provider_share_ratio="0.10",
            specifications=[{"spec_id": "std", "name": "Standard", "price": PRICE}],
        )
        self.products[merchant.account_id] = listed["product_id"]
        self.parties += [buyer, merchant]
        return buyer, merchant

    async def place(self, buyer: Party, merchant: Party) -> str:
        order = await self.call(
            "POST",
            "orders",
            "/orders",
            buyer,
            expect=201,
            json={"product_id": self.products[merchant.account_id]},
        )
        return str(order["order_id"])

    async def post(self, service: str, path: str, who: Party | Login, body: dict[str, Any]) -> Any:
        """A POST expecting 200, through the load client when there is one."""
        caller = who.login if isinstance(who, Party) else who
        if self.load is None:
            try:
                return await self.suite.call("POST", service, path, caller, json=body)
            except Unexpected as exc:
                raise BenchError(str(exc)) from exc
        url = self.stack.url(service) + path
        async with self.load.post(url, json=body, headers=await caller.headers()) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise BenchError(f"POST {service}{path}: {resp.status} {text[:500]}")
            return json.loads(text) if text else None

    async def pay(self, buyer: Party, order_id: str) -> None:
        """The payment system confirms the payment (the buyer's own token could not)."""
        body = {"payment_id": f"PAY-{uuid.uuid4().hex[:16]}", "amount": PRICE, "credit": False}
        await self.post("orders", f"/orders/{order_id}/pay", self.payment, body)

    async def order_status(self, buyer: Party, order_id: str) -> str:
        order = await self.call("GET", "orders", f"/orders/{order_id}", buyer)
        return str(order["status"])

    async def service_order(self, buyer: Party, order_id: str, within: float = 30) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            resp = await self.http.get(
                self.stack.url("supervision") + f"/service-orders/by-order/{order_id}",
                headers=await buyer.login.headers(),
            )
            if resp.status_code == 200:
                return str(resp.json()["service_order_id"])
            await asyncio.sleep(0.05)
        raise BenchError(f"no service order for {order_id} within {within:.0f}s")

    async def act(self, so_id: str, actor: Party, action: str, body: dict[str, Any] | None = None) -> None:
        await self.post("supervision", f"/service-orders/{so_id}/actions/{action}", actor, body or {})

    async def inbox(
        self, account: Party, limit: int = 100, wait: float = 0, seen: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest in-site messages; with `wait`, once the newest is not `seen` (or `wait` s pass)."""
        params: dict[str, Any] = {"limit": limit}
        if wait:
            params["wait"] = wait
        if seen:
            params["seen"] = seen
        path = f"/accounts/{account.account_id}/inbox"
        if self.load is None:
            page = await self.call("GET", "notification", path, account, params=params)
        else:
            url = self.stack.url("notification") + path
            async with self.load.get(url, params=params, headers=await account.login.headers()) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise BenchError(f"GET notification{path}: {resp.status} {text[:500]}")
                page = json.loads(text)
        items: list[dict[str, Any]] = page["items"]
        return items

    async def sink(self, kind: str, to: str) -> list[dict[str, Any]]:
        """What Mailpit ("mail": subject, message_id, received_at) or the SMS sink ("sms": body,
        received_at, ...) accepted for one address."""
        try:
            if kind == "mail":
                return [
                    {
                        "subject": m.subject,
                        "message_id": m.message_id,
                        "received_at": m.received_at.isoformat(),
                    }
                    for m in await self.stack.mailbox(self.http).messages(to)
                ]
            resp = await self.http.get(f"{self.stack.sms_url}/sms", params={"to": to})
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise BenchError(f"reading the {kind} sink: {exc!r}") from exc
        rows: list[dict[str, Any]] = resp.json()
        return rows

    async def sink_total(self, parties: list[Party]) -> int:
        counts = await asyncio.gather(
            *(
                self.sink(kind, p.email if kind == "mail" else p.phone)
                for p in parties
                for kind in ("mail", "sms")
            )
        )
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
