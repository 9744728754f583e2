"""The world the orders run in: buyers, merchants with listed products, approved customer service providers,
an operator, and the payment system, each a real person (or client) of the stack's Keycloak calling with its
own tokens (devstack.identity), as tests/e2e/test_access.py builds its world.

Each merchant lists two products through the operator's review: a supervised manual service (the whole
supervision story) and an unsupervised image (complete once paid; the 5-day no-reason refund applies). Both
give a customer service provider 10 % of what an order through the provider's private link is paid.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chaos.cluster import Cluster
from devstack.identity import KeycloakAdmin, Login, User, payment_system

SUPERVISED_PRICE, IMAGE_PRICE, SHARE = Decimal("1288.00"), Decimal("500.00"), Decimal("0.10")
PREFIX = {"buyer": 131, "merchant": 132, "provider": 133, "operator": 134}  # mainland mobile numbers, by role


@dataclass(frozen=True)
class Person:
    user: User
    phone: str

    @property
    def id(self) -> str:
        return self.user.account_id

    @property
    def email(self) -> str:
        return self.user.email

    async def headers(self) -> dict[str, str]:
        return await self.user.headers()


@dataclass
class World:
    operator: Person
    payment: Login
    buyers: list[Person] = field(default_factory=list)
    merchants: list[Person] = field(default_factory=list)
    providers: list[Person] = field(default_factory=list)
    products: dict[str, dict[str, str]] = field(default_factory=dict)  # merchant id -> kind -> product id

    @property
    def people(self) -> list[Person]:
        return [self.operator, *self.buyers, *self.merchants, *self.providers]


def sizes(orders: int) -> dict[str, int]:
    """About 20 orders per buyer, 100 per merchant, 200 per provider; never fewer than a few of each."""
    return {
        "buyer": max(6, orders // 20),
        "merchant": max(3, orders // 100),
        "provider": max(2, orders // 200),
    }


async def build(cluster: Cluster, admin: KeycloakAdmin, issuer: str, orders: int, log: Any) -> World:
    run = uuid.uuid4().hex[:6]
    counts = sizes(orders)
    gate = asyncio.Semaphore(8)
    serial = iter(range(1, 10_000))

    async def person(role: str) -> Person:
        async with gate:
            user = await admin.user(role, name=f"chaos-{role}-{run}-{uuid.uuid4().hex[:6]}")
            # A phone number per person (the SMS sink lists by number); the digits say the role and the run.
            phone = f"+86{PREFIX[role]}{int(run, 16) % 10**4:04d}{next(serial):04d}"
            p = Person(user, phone)
            await cluster.call(
                "POST",
                "orders",
                "/accounts",
                p,
                expect={200, 201},
                json={"bound_phone": phone, "locale": "en-US"},
            )
            return p

    operator = await person("operator")
    world = World(operator, payment_system(issuer))
    for role, target in (
        ("buyer", world.buyers),
        ("merchant", world.merchants),
        ("provider", world.providers),
    ):
        target += await asyncio.gather(*(person(role) for _ in range(counts[role])))
    log(f"  {len(world.people)} people registered: {counts}")
    await asyncio.gather(*(approve(cluster, world, p) for p in world.providers))
    for merchant in world.merchants:
        world.products[merchant.id] = dict(
            zip(
                ("supervised", "image"),
                await asyncio.gather(
                    list_product(
                        cluster,
                        merchant,
                        operator,
                        name="Database migration service",
                        delivery_type="manual_service",
                        flow_template="manual_service.standard",
                        price=SUPERVISED_PRICE,
                    ),
                    list_product(
                        cluster,
                        merchant,
                        operator,
                        name="Hardened OS image",
                        delivery_type="image",
                        flow_template=None,
                        price=IMAGE_PRICE,
                    ),
                ),
                strict=True,
            )
        )
    log(f"  {len(world.providers)} providers approved; {2 * len(world.merchants)} products listed")
    return world


async def approve(cluster: Cluster, world: World, provider: Person) -> None:
    """The partner applies to the programme with a Service certification and the operator approves it
    (§7.2)."""
    app = await cluster.call(
        "POST",
        "partner",
        "/programme/applications",
        provider,
        expect=201,
        json={"company": "Chaos Reseller Ltd", "certifications": ["Service"]},
    )
    await cluster.call(
        "POST",
        "partner",
        f"/programme/applications/{app['application_id']}/review",
        world.operator,
        json={"approve": True},
    )


async def list_product(
    cluster: Cluster,
    merchant: Person,
    operator: Person,
    *,
    name: str,
    delivery_type: str,
    flow_template: str | None,
    price: Decimal,
) -> str:
    """Create, publish, and have the operator list a product (dossier §9.1)."""
    draft = await cluster.call(
        "POST",
        "orders",
        "/products",
        merchant,
        expect=201,
        json={
            "product_id": f"chaos-{uuid.uuid4().hex[:12]}",
            "name": name,
            "delivery_type": delivery_type,
            "flow_template": flow_template,
            "promised_delivery_days": 10,
            "acceptance_standard": "SOW and acceptance report signed",
            "provider_share_ratio": str(SHARE),
            "specifications": [
                {"spec_id": "std", "name": "Standard", "billing_mode": "one_time", "price": str(price)}
            ],
        },
    )
    product_id = str(draft["product_id"])
    await cluster.call("POST", "orders", f"/products/{product_id}/publish", merchant)
    await cluster.call("POST", "orders", f"/products/{product_id}/review", operator, json={"approve": True})
    return product_id
