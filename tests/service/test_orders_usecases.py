"""Orders use cases over the in-memory unit of work: catalogue and review, placing from the catalogue, private
links, the unpaid sweeper, the buyer's side and billing eligibility (the HTTP routes are thin over these)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.orders.commands import (
    BuyFavourite,
    Certify,
    CreateProduct,
    PayOrder,
    PlaceOrder,
    Rate,
    RegisterAccount,
    RegisterAsset,
    Renew,
    RequestUnsubscribe,
    Review,
    ScanResult,
)
from services.orders.services import OrdersService
from services.orders.settings import OrdersSettings
from services.orders.store import fake_uow
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import AccountRole, OrderStatus, OrderStatusChanged, RefundRequested, links
from tests.factories import rid
from tests.service.rig import FAST

PRIVATE, PUBLIC = links.new_keypair()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 5, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def svc(state: FakeState, clock: Clock) -> OrdersService:
    settings = OrdersSettings(**FAST, private_link_public_key=PUBLIC, unpaid_cancel_minutes=15)
    return OrdersService(UnitOfWorkFactory(fake_uow(state)), settings, clock)


async def account(svc: OrdersService, role: AccountRole) -> str:
    acc = await svc.register_account(RegisterAccount(role=role, display_name=f"{role.value} Co",
                                                     bound_email=f"{role.value}@example.com",
                                                     bound_phone="+8613800001234"))
    return acc.account_id


def product_cmd(**over: Any) -> CreateProduct:
    body: dict[str, Any] = {"name": "Cloud migration", "delivery_type": "manual_service", "flow_template": "standard",
                            "promised_delivery_days": 10, "acceptance_standard": "signed SOW",
                            "specifications": [{"spec_id": "y1", "name": "Yearly", "billing_mode": "periodic_yearly",
                                                "price": "1200.00", "period_months": 12}]}
    return CreateProduct.model_validate({**body, **over})


async def listed(svc: OrdersService, merchant: str, operator: str, **over: Any) -> str:
    product = await svc.create_product(merchant, product_cmd(**over))
    await svc.publish(product.product_id, merchant)
    await svc.review(product.product_id, operator, Review(approve=True))
    return product.product_id


@pytest.fixture
async def people(svc: OrdersService) -> dict[str, str]:
    return {r.value: await account(svc, r) for r in AccountRole}


# --- catalogue -----------------------------------------------------------------------------------


async def test_a_license_product_is_refused_until_its_package_is_released_and_scanned(
        svc: OrdersService, people: dict[str, str]) -> None:
    m, op = people["merchant"], people["operator"]
    asset = await svc.register_asset(m, RegisterAsset(name="pkg.tar.gz"))
    p = await svc.create_product(m, product_cmd(delivery_type="license_package", asset_id=asset.asset_id))
    with pytest.raises(DomainError, match="not released"):
        await svc.publish(p.product_id, m)
    await svc.release_asset(asset.asset_id, m)
    with pytest.raises(Forbidden):
        await svc.scan_asset(asset.asset_id, m, ScanResult(passed=True))
    await svc.scan_asset(asset.asset_id, op, ScanResult(passed=True))

    published = await svc.publish(p.product_id, m)

    assert published.status == "pending_review"


async def test_a_joint_operation_product_is_refused_until_certified(svc: OrdersService,
                                                                     people: dict[str, str]) -> None:
    m, op = people["merchant"], people["operator"]
    p = await svc.create_product(m, product_cmd(sale_mode="joint_operation"))
    with pytest.raises(DomainError, match="certification"):
        await svc.publish(p.product_id, m)
    await svc.certify(op, Certify(merchant_account_id=m, product_id=p.product_id, score=90))
    assert (await svc.publish(p.product_id, m)).status == "pending_review"


async def test_only_operators_review_and_only_listed_products_are_public(svc: OrdersService,
                                                                          people: dict[str, str]) -> None:
    m, op = people["merchant"], people["operator"]
    p = await svc.create_product(m, product_cmd())
    await svc.publish(p.product_id, m)
    for who in (people["merchant"], people["buyer"], people["provider"]):
        with pytest.raises(Forbidden):
            await svc.review(p.product_id, who, Review(approve=True))
    with pytest.raises(NotFound):
        await svc.get_product(p.product_id, people["buyer"])
    assert await svc.list_products() == []

    await svc.review(p.product_id, op, Review(approve=True))

    assert [x.product_id for x in await svc.list_products()] == [p.product_id]
    assert (await svc.get_product(p.product_id, None)).status == "listed"


async def test_only_merchants_create_products(svc: OrdersService, people: dict[str, str]) -> None:
    with pytest.raises(Forbidden):
        await svc.create_product(people["buyer"], product_cmd())


# --- placing orders ------------------------------------------------------------------------------


async def test_an_order_from_the_catalogue_snapshots_the_specification_and_publishes_its_creation(
        svc: OrdersService, people: dict[str, str], state: FakeState, clock: Clock) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])

    order = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, spec_id="y1"))

    assert order.amount == Decimal("1200.00")
    assert order.merchant_account_id == people["merchant"]
    assert (order.product.spec_id, order.product.period_months, order.product.merchant_name) == \
        ("y1", 12, "merchant Co")
    assert order.pay_by == clock.now + timedelta(minutes=15)
    [created] = state.outbox[-1:]
    assert isinstance(created, OrderStatusChanged)
    assert (created.payload.from_status, created.payload.to_status) == (None, OrderStatus.PENDING_PAYMENT)


async def test_an_unlisted_product_cannot_be_bought(svc: OrdersService, people: dict[str, str]) -> None:
    p = await svc.create_product(people["merchant"], product_cmd())
    with pytest.raises(InvalidInput) as refused:
        await svc.place_order(people["buyer"], PlaceOrder(product_id=p.product_id))
    assert refused.value.field == "product_id"


async def test_hardware_needs_a_delivery_contact(svc: OrdersService, people: dict[str, str]) -> None:
    pid = await listed(svc, people["merchant"], people["operator"], delivery_type="hardware")
    with pytest.raises(InvalidInput) as refused:
        await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))
    assert refused.value.field == "delivery_contact"
    order = await svc.place_order(people["buyer"], PlaceOrder.model_validate({
        "product_id": pid, "delivery_contact": {"name": "Li", "phone": "+8613800001111", "address": "Shenzhen"}}))
    assert order.delivery_contact is not None


async def test_milestones_on_a_periodic_specification_are_refused_citing_the_dossier(
        svc: OrdersService, people: dict[str, str]) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])
    with pytest.raises(InvalidInput, match=r"§4\.2") as refused:
        await svc.place_order(people["buyer"], PlaceOrder.model_validate({
            "product_id": pid, "milestones": [{"milestone_id": "a", "title": "a", "proportion": "1"}]}))
    assert refused.value.field == "milestones"


def link(**claims: Any) -> str:
    base: dict[str, Any] = {"link_id": rid("link"), "provider_id": "prov-1", "expires_at": int(time.time()) + 600}
    return links.sign(links.LinkClaims(**{**base, **claims}), PRIVATE)


async def test_a_private_link_binds_the_provider_and_applies_the_discount(svc: OrdersService,
                                                                           people: dict[str, str]) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])
    token = link(link_id="L-1", product_id=pid, customer_account_id=people["buyer"], offer_id="OF-1",
                 discount="0.15")

    order = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, private_link=token))

    assert (order.provider_id, order.private_link_id, order.offer_id) == ("prov-1", "L-1", "OF-1")
    assert order.amount == Decimal("1020.00")


@pytest.mark.parametrize(("claims", "why"), [
    ({"expires_at": 1}, "expired"),
    ({"product_id": "another-product"}, "for product another-product"),
    ({"customer_account_id": "someone-else"}, "another customer"),
])
async def test_an_invalid_private_link_is_a_422_naming_the_reason(svc: OrdersService, people: dict[str, str],
                                                                  claims: dict[str, Any], why: str) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])
    with pytest.raises(InvalidInput, match=why) as refused:
        await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, private_link=link(**claims)))
    assert refused.value.field == "private_link"


async def test_a_forged_private_link_is_refused(svc: OrdersService, people: dict[str, str]) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])
    other_private, _ = links.new_keypair()
    forged = links.sign(links.LinkClaims(link_id="x", provider_id="p", expires_at=int(time.time()) + 60),
                        other_private)
    with pytest.raises(InvalidInput, match="signature") as refused:
        await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, private_link=forged))
    assert refused.value.field == "private_link"


# --- the unpaid sweeper --------------------------------------------------------------------------


async def test_the_sweeper_cancels_only_orders_past_their_window(svc: OrdersService, people: dict[str, str],
                                                                 state: FakeState, clock: Clock) -> None:
    pid = await listed(svc, people["merchant"], people["operator"])
    late = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=10)
    fresh = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=6)

    assert await svc.cancel_overdue() == 1
    assert await svc.cancel_overdue() == 0

    assert (await svc.get_order(late.order_id, people["buyer"])).status is OrderStatus.CANCELLED
    assert (await svc.get_order(fresh.order_id, people["buyer"])).status is OrderStatus.PENDING_PAYMENT
    [cancelled] = [e for e in state.outbox if isinstance(e, OrderStatusChanged)
                   and e.payload.to_status is OrderStatus.CANCELLED]
    assert cancelled.payload.reason == "not paid within 15 minutes"
    assert cancelled.order_id == late.order_id


# --- the buyer's side ----------------------------------------------------------------------------


async def test_favourites_add_list_buy_remove(svc: OrdersService, people: dict[str, str]) -> None:
    b, pid = people["buyer"], await listed(svc, people["merchant"], people["operator"])
    await svc.add_favourite(b, pid)
    await svc.add_favourite(b, pid)  # idempotent
    assert [f.product_id for f in await svc.list_favourites(b)] == [pid]
    order = await svc.buy_favourite(b, pid, BuyFavourite())
    assert order.product.product_id == pid
    await svc.remove_favourite(b, pid)
    assert await svc.list_favourites(b) == []
    with pytest.raises(NotFound):
        await svc.buy_favourite(b, pid, BuyFavourite())


async def paid_order(svc: OrdersService, people: dict[str, str], **over: Any) -> str:
    pid = await listed(svc, people["merchant"], people["operator"], **over)
    order = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))
    await svc.pay(order.order_id, people["buyer"])
    return order.order_id


async def test_purchased_services_are_the_buyers_own_paid_orders_with_filters(
        svc: OrdersService, people: dict[str, str], clock: Clock) -> None:
    supervised = await paid_order(svc, people)
    clock.now += timedelta(minutes=1)
    image = await paid_order(svc, people, delivery_type="image", flow_template=None, name="OS image")
    other_buyer = await account(svc, AccountRole.BUYER)
    pid = await listed(svc, people["merchant"], people["operator"])
    await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))  # unpaid: not a purchased service

    everything = [o.order_id for o in await svc.purchased(people["buyer"])]
    assert everything == [image, supervised]  # newest first
    assert [o.order_id for o in await svc.purchased(people["buyer"], status=OrderStatus.PROCESSING)] == [supervised]
    assert [o.order_id for o in await svc.purchased(people["buyer"], delivery_type="image")] == [image]
    assert [o.order_id for o in await svc.purchased(people["buyer"], name="os im")] == [image]
    assert await svc.purchased(other_buyer) == []
    with pytest.raises(Forbidden):
        await svc.details(other_buyer, supervised)


async def test_resource_details_carry_the_merchants_contacts(svc: OrdersService, people: dict[str, str]) -> None:
    order_id = await paid_order(svc, people)
    details = await svc.details(people["buyer"], order_id)
    assert details.merchant is not None
    assert (details.merchant.display_name, details.merchant.email, details.merchant.phone) == \
        ("merchant Co", "merchant@example.com", "+8613800001234")
    assert details.progress.current_node is None


async def test_a_supervised_unsubscribe_publishes_refund_requested(svc: OrdersService, people: dict[str, str],
                                                                   state: FakeState) -> None:
    order_id = await paid_order(svc, people)
    await svc.unsubscribe(people["buyer"], order_id, RequestUnsubscribe(reason="plans changed"))
    [requested] = [e for e in state.outbox if isinstance(e, RefundRequested)]
    assert (requested.order_id, requested.payload.amount) == (order_id, Decimal("1200.00"))


async def test_no_reason_refunds_count_against_the_yearly_quota(svc: OrdersService, people: dict[str, str],
                                                                state: FakeState) -> None:
    order_id = await paid_order(svc, people, delivery_type="api", flow_template=None)
    refunded = await svc.unsubscribe(people["buyer"], order_id, RequestUnsubscribe(reason="x"))
    assert refunded.status is OrderStatus.REFUNDED
    assert state.tables["quotas"][f"{people['buyer']}:2026"]["used"] == 1


async def test_renewal_after_completion_and_rating(svc: OrdersService, people: dict[str, str],
                                                   clock: Clock) -> None:
    order_id = await paid_order(svc, people)
    with pytest.raises(DomainError, match="once it is completed"):
        await svc.renew(people["buyer"], order_id, Renew())
    async with svc.uow() as uow:  # supervision completed (as acceptance.done would do)
        order = await uow.orders.get(order_id)
        assert order is not None
        order.complete_after_acceptance(clock.now, None)
        await uow.orders.save(order)
        await uow.commit()

    renewal = await svc.renew(people["buyer"], order_id, Renew())
    paid = await svc.pay(renewal.order_id, people["buyer"])

    assert (paid.order_type, paid.original_order_id, paid.status) == ("renewal", order_id, OrderStatus.COMPLETED)
    assert paid.validity_starts_at == clock.now.replace(year=2027)  # continues the first year
    rated = await svc.rate(people["buyer"], order_id, Rate(quality=5, after_sales=5, delivery_speed=4))
    assert rated.rating is not None


async def test_billing_eligibility_is_for_operators_and_merchants(svc: OrdersService,
                                                                  people: dict[str, str]) -> None:
    order_id = await paid_order(svc, people, delivery_type="api", flow_template=None)
    with pytest.raises(Forbidden):
        await svc.billing_eligibility(people["buyer"], "2026-11")
    [row] = await svc.billing_eligibility(people["operator"], "2026-11")
    assert (row.order_id, row.billable) == (order_id, True)
    assert [r.order_id for r in await svc.billing_eligibility(people["merchant"], "2026-11")] == [order_id]
    assert await svc.billing_eligibility(people["operator"], "2026-10") == []


async def test_credit_orders_become_billable_once_an_operator_records_repayment(
        svc: OrdersService, people: dict[str, str]) -> None:
    pid = await listed(svc, people["merchant"], people["operator"], delivery_type="api", flow_template=None)
    order = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid))
    await svc.pay(order.order_id, people["buyer"], PayOrder(credit=True))
    [row] = await svc.billing_eligibility(people["operator"], "2026-11")
    assert not row.billable
    with pytest.raises(Forbidden):
        await svc.credit_repaid(order.order_id, people["buyer"])
    await svc.credit_repaid(order.order_id, people["operator"])
    [row] = await svc.billing_eligibility(people["operator"], "2026-11")
    assert row.billable


async def test_an_upgrade_needs_the_buyers_completed_order_of_the_product(svc: OrdersService,
                                                                          people: dict[str, str]) -> None:
    order_id = await paid_order(svc, people, delivery_type="api", flow_template=None)
    pid = (await svc.get_order(order_id, people["buyer"])).product.product_id
    with pytest.raises(InvalidInput) as refused:
        await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, order_type="upgrade"))
    assert refused.value.field == "original_order_id"
    other = await account(svc, AccountRole.BUYER)
    with pytest.raises(InvalidInput, match="not one of your orders"):
        await svc.place_order(other, PlaceOrder(product_id=pid, order_type="upgrade", original_order_id=order_id))

    upgrade = await svc.place_order(people["buyer"], PlaceOrder(product_id=pid, order_type="upgrade",
                                                                original_order_id=order_id))
    paid = await svc.pay(upgrade.order_id, people["buyer"])

    assert (paid.order_type, paid.original_order_id, paid.status) == ("upgrade", order_id, OrderStatus.COMPLETED)
    assert paid.history[-1].reason == "upgrade paid; no new service order"
