"""A buyer, a merchant, an operator and a provider walking an order through the running services over HTTP,
each with its own real token from the running Keycloak (devstack.marketplace has the steps)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from devstack.identity import Login, User
from devstack.marketplace import Caller, Suite
from devstack.stack import SERVICES, Stack
from tests.identity import IdentityProvider

__all__ = ["Journey"]
PHONES = {
    "buyer": "+8613811110001",
    "merchant": "+8613811110002",
    "provider": "+8613811110003",
    "operator": "+8613811110009",
}


@dataclass
class Journey:
    stack: Stack
    http: httpx.AsyncClient
    idp: IdentityProvider
    suite: Suite = field(init=False)
    people: dict[str, User] = field(default_factory=dict)
    product: dict[str, Any] = field(default_factory=dict)
    order_id: str = ""
    so_id: str = ""

    def __post_init__(self) -> None:
        self.suite = Suite({s: self.stack.url(s) for s in SERVICES}, self.http)

    @property
    def buyer(self) -> User:
        return self.people["buyer"]

    @property
    def merchant(self) -> User:
        return self.people["merchant"]

    @property
    def provider(self) -> User:
        return self.people["provider"]

    @property
    def operator(self) -> User:
        return self.people["operator"]

    @property
    def payment(self) -> Login:
        return self.idp.payment

    def url(self, service: str, path: str) -> str:
        return self.stack.url(service) + path

    async def call(
        self, method: str, service: str, path: str, who: Caller | None, expect: int = 200, **kw: Any
    ) -> Any:
        return await self.suite.call(method, service, path, who, expect=expect, **kw)

    async def person(self, role: str, phone: str | None = None) -> User:
        """A new person with a registered profile (its phone: the role's usual test number)."""
        user = await self.idp.user(role)
        await self.suite.profile(user, phone or PHONES[role])
        return user

    async def setup(
        self, *, provider: bool = True, price: str = "1288.00", ratio: str = "0.12", **product: Any
    ) -> Journey:
        for role in ("buyer", "merchant", "operator", *(("provider",) if provider else ())):
            self.people[role] = await self.person(role)
        spec = {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": price}
        self.product = await self.suite.list_product(
            self.merchant, self.operator, provider_share_ratio=ratio, specifications=[spec], **product
        )
        return self

    async def become_provider(self, company: str = "ACME Services") -> dict[str, Any]:
        """The partner applies to the programme with a Service certification; the operator approves it
        (dossier §7.2): from then on it is a customer service provider."""
        app = await self.call(
            "POST",
            "partner",
            "/programme/applications",
            self.provider,
            expect=201,
            json={"company": company, "certifications": ["Service"]},
        )
        reviewed: dict[str, Any] = await self.call(
            "POST",
            "partner",
            f"/programme/applications/{app['application_id']}/review",
            self.operator,
            json={"approve": True},
        )
        return reviewed

    async def private_link(self, product_id: str | None = None, **body: Any) -> str:
        """The provider's signed private link of a product for the buyer; an order placed through it is the
        provider's (dossier §7.5)."""
        link = await self.call(
            "POST",
            "partner",
            f"/providers/{self.provider.account_id}/private-links",
            self.provider,
            expect=201,
            json={
                "product_id": product_id or self.product["product_id"],
                "customer_account_id": self.buyer.account_id,
                **body,
            },
        )
        return str(link["token"])

    async def buy(self, **body: Any) -> str:
        """Order the listed product and have the payment system pay it."""
        order = await self.suite.order(self.buyer, self.product["product_id"], **body)
        self.order_id = order["order_id"]
        await self.suite.pay(self.payment, order)
        return self.order_id

    async def service_order(self, timeout: float = 30) -> dict[str, Any]:
        so: dict[str, Any] = await self.suite.service_order(self.buyer, self.order_id, timeout)
        self.so_id = so["service_order_id"]
        return so

    async def act(
        self, actor: Caller, action: str, body: dict[str, Any] | None = None, expect: int = 200
    ) -> Any:
        return await self.suite.act(actor, self.so_id, action, body, expect=expect)

    async def walk_to_acceptance(self) -> None:
        await self.suite.walk_to_acceptance(self.buyer, self.merchant, self.so_id)

    async def order(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "orders", f"/orders/{self.order_id}", self.buyer)
        return result

    async def completed(self, timeout: float = 30) -> dict[str, Any]:
        result: dict[str, Any] = await self.suite.completed(self.buyer, self.order_id, timeout)
        return result

    async def mail(self, who: User) -> list[dict[str, Any]]:
        """This order's mails to a person at Mailpit, oldest first: subject, text, html, message_id, ..."""
        mailbox = self.stack.mailbox(self.http)
        mine = [m for m in await mailbox.messages(who.email) if self.order_id in m.subject]
        return [asdict(await mailbox.message(m.id)) for m in mine]

    async def sms(self, phone: str) -> list[dict[str, Any]]:
        resp = await self.http.get(self.stack.sms_url + "/sms", params={"to": phone})
        return [s for s in resp.json() if self.order_id in s["body"]]

    async def inbox(self, who: User) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "GET", "notification", f"/accounts/{who.account_id}/inbox", who
        )
        return result
