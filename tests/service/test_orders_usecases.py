"""Orders use cases over the in-memory unit of work: catalogue and review, placing from the catalogue, private
links, the buyer's verified profile and coupons, payment confirmations, the unpaid sweeper, the buyer's side,
billing eligibility and accounts (the HTTP routes are thin over these; tests/service/test_orders_api.py covers
who may call which route)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.orders import account_cases, buyer_cases, catalogue_cases, order_cases, refund_cases
from services.orders.accounts import ERASED
from services.orders.commands import (
    BuyFavourite,
    Certify,
    GrantCoupon,
    PlaceOrder,
    Rate,
    RegisterAccount,
    RegisterAsset,
    Renew,
    RequestUnsubscribe,
    Review,
    ScanResult,
    VerifyProfile,
)
from services.orders.context import OrdersContext, ProfileRequired
from services.orders.settings import OrdersSettings
from services.orders.sweeper import UnpaidSource
from shared.platform.auth import Principal
from shared.platform.errors import DomainError, Forbidden, InvalidInput, NotFound
from shared.platform.fakes import FakeState
from shared.platform.http import status_of
from shared.platform.worker import Blocked
from shared.schemas import (
    AccountErased,
    AccountRegistered,
    AccountRole,
    BuyerTrack,
    CouponKind,
    DeliveryType,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    RefundRequested,
    links,
)
from tests.factories import rid
from tests.service.orders_support import in_memory, listed, one_time, payment, person, principal, product_cmd
from tests.service.rig import FAST

PRIVATE, PUBLIC = links.new_keypair()
People = dict[str, Any]  # role -> Principal


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
def ctx(state: FakeState, clock: Clock) -> OrdersContext:
    settings = OrdersSettings(**FAST, private_link_public_key=PUBLIC, unpaid_cancel_minutes=15)
    return in_memory(state, settings, clock)


@pytest.fixture
async def people(ctx: OrdersContext) -> People:
    return {r.value: await person(ctx, r, email=f"{r.value}@example.com") for r in AccountRole}


# --- catalogue -----------------------------------------------------------------------------------


async def test_a_license_product_is_refused_until_its_package_is_released_and_scanned(
    ctx: OrdersContext, people: People
) -> None:
    m, op = people["merchant"], people["operator"]
    asset = await catalogue_cases.register_asset(ctx, m, RegisterAsset(name="pkg.tar.gz"))
    p = await catalogue_cases.create_product(
        ctx, m, product_cmd(delivery_type="license_package", asset_id=asset.asset_id)
    )
    with pytest.raises(DomainError, match="not released"):
        await catalogue_cases.publish(ctx, p.product_id, m)
    await catalogue_cases.release_asset(ctx, asset.asset_id, m)
    with pytest.raises(Forbidden) as refused:
        await catalogue_cases.scan_asset(ctx, asset.asset_id, m, ScanResult(passed=True))
    assert refused.value.rule == "operators_only"
    await catalogue_cases.scan_asset(ctx, asset.asset_id, op, ScanResult(passed=True))

    published = await catalogue_cases.publish(ctx, p.product_id, m)

    assert published.status == "pending_review"


async def test_only_its_merchant_releases_an_asset(ctx: OrdersContext, people: People) -> None:
    asset = await catalogue_cases.register_asset(ctx, people["merchant"], RegisterAsset(name="pkg.tar.gz"))
    other = await person(ctx, AccountRole.MERCHANT)
    with pytest.raises(Forbidden) as refused:
        await catalogue_cases.release_asset(ctx, asset.asset_id, other)
    assert refused.value.rule == "own_assets_only"
    assert asset.merchant_account_id == people["merchant"].account_id


async def test_a_joint_operation_product_is_refused_until_certified(
    ctx: OrdersContext, people: People
) -> None:
    m, op = people["merchant"], people["operator"]
    p = await catalogue_cases.create_product(ctx, m, product_cmd(sale_mode="joint_operation"))
    with pytest.raises(DomainError, match="certification"):
        await catalogue_cases.publish(ctx, p.product_id, m)
    await catalogue_cases.certify(
        ctx, op, Certify(merchant_account_id=m.account_id, product_id=p.product_id, score=90)
    )
    assert (await catalogue_cases.publish(ctx, p.product_id, m)).status == "pending_review"


async def test_only_listed_products_are_public_and_an_unlisted_one_is_its_merchants_and_the_operators(
    ctx: OrdersContext, people: People
) -> None:
    m, op = people["merchant"], people["operator"]
    p = await catalogue_cases.create_product(ctx, m, product_cmd())
    await catalogue_cases.publish(ctx, p.product_id, m)
    for outsider in (people["buyer"], people["provider"], await person(ctx, AccountRole.MERCHANT), None):
        with pytest.raises(NotFound):
            await ctx.queries.product(p.product_id, outsider)
    assert (await ctx.queries.product(p.product_id, m)).status == "pending_review"
    assert (await ctx.queries.product(p.product_id, op)).status == "pending_review"
    assert await ctx.queries.listed_products() == []

    reviewed = await catalogue_cases.review(ctx, p.product_id, op, Review(approve=True))

    assert reviewed.reviewed_by == op.account_id
    assert [x.product_id for x in await ctx.queries.listed_products()] == [p.product_id]
    assert (await ctx.queries.product(p.product_id, None)).status == "listed"


async def test_a_merchant_publishes_only_its_own_products(ctx: OrdersContext, people: People) -> None:
    p = await catalogue_cases.create_product(ctx, people["merchant"], product_cmd())
    other = await person(ctx, AccountRole.MERCHANT)
    with pytest.raises(Forbidden) as refused:
        await catalogue_cases.publish(ctx, p.product_id, other)
    assert refused.value.rule == "own_products_only"
    assert (await ctx.queries.product(p.product_id, people["merchant"])).status == "draft"


async def test_only_merchants_create_products(ctx: OrdersContext, people: People) -> None:
    with pytest.raises(Forbidden) as refused:
        await catalogue_cases.create_product(ctx, people["buyer"], product_cmd())
    assert refused.value.rule == "merchants_only"


async def test_a_product_is_made_by_the_callers_own_registered_merchant_profile(
    ctx: OrdersContext, people: People
) -> None:
    with pytest.raises(ProfileRequired) as refused:
        await catalogue_cases.create_product(ctx, principal(AccountRole.MERCHANT), product_cmd())
    assert (status_of(refused.value), refused.value.code) == (409, "profile_required")
    product = await catalogue_cases.create_product(ctx, people["merchant"], product_cmd())
    assert (product.merchant_account_id, product.merchant_name) == (
        people["merchant"].account_id,
        "merchant Co",
    )


# --- placing orders ------------------------------------------------------------------------------


async def test_an_order_from_the_catalogue_snapshots_the_specification_and_publishes_its_creation(
    ctx: OrdersContext, people: People, state: FakeState, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])

    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid, spec_id="y1"))

    assert order.amount == Decimal("1200.00")
    assert order.buyer_account_id == people["buyer"].account_id
    assert order.merchant_account_id == people["merchant"].account_id
    assert (order.product.spec_id, order.product.period_months, order.product.merchant_name) == (
        "y1",
        12,
        "merchant Co",
    )
    assert order.pay_by == clock.now + timedelta(minutes=15)
    assert (order.provider_id, order.buyer_company, order.buyer_track, order.coupons) == (
        None,
        None,
        None,
        [],
    )
    [created] = state.outbox[-1:]
    assert isinstance(created, OrderStatusChanged)
    assert (created.payload.from_status, created.payload.to_status) == (None, OrderStatus.PENDING_PAYMENT)


async def test_the_buyer_states_no_terms_of_its_own(ctx: OrdersContext, people: People) -> None:
    """Amount, merchant, provider, share ratio, milestones, company, track and coupons in the body are not
    the buyer's to give: they are not fields of the command and change nothing."""
    pid = await listed(ctx, people["merchant"], people["operator"], provider_share_ratio="0.1")
    other_merchant = await person(ctx, AccountRole.MERCHANT)
    cmd = PlaceOrder.model_validate(
        {
            "product_id": pid,
            "amount": "0.01",
            "merchant_account_id": other_merchant.account_id,
            "provider_id": "prov-x",
            "provider_share_ratio": "0.9",
            "buyer_company": "Forged Ltd",
            "buyer_track": "base_cloud",
            "coupons": [{"kind": "other", "amount": "1199.00"}],
            "milestones": [{"milestone_id": "a", "title": "a", "proportion": "1"}],
            "product": {"product_id": pid, "name": "cheap", "delivery_type": "image"},
        }
    )

    order = await order_cases.place_order(ctx, people["buyer"], cmd)

    assert order.amount == Decimal("1200.00")
    assert order.merchant_account_id == people["merchant"].account_id
    assert (order.provider_id, order.product.provider_share_ratio) == (None, Decimal("0.1"))
    assert (order.buyer_company, order.buyer_track, order.coupons, order.milestones) == (None, None, [], [])
    assert (order.product.name, order.product.delivery_type.value) == ("Cloud migration", "manual_service")


async def test_only_a_registered_buyer_places_orders(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    for who in ("merchant", "provider", "operator"):
        with pytest.raises(Forbidden) as refused:
            await order_cases.place_order(ctx, people[who], PlaceOrder(product_id=pid))
        assert refused.value.rule == "buyers_only"
    with pytest.raises(ProfileRequired):
        await order_cases.place_order(ctx, principal(AccountRole.BUYER), PlaceOrder(product_id=pid))


async def test_an_unlisted_product_cannot_be_bought(ctx: OrdersContext, people: People) -> None:
    p = await catalogue_cases.create_product(ctx, people["merchant"], product_cmd())
    with pytest.raises(InvalidInput) as refused:
        await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=p.product_id))
    assert refused.value.field == "product_id"
    with pytest.raises(InvalidInput) as refused:
        await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id="no-such-product"))
    assert refused.value.field == "product_id"


async def test_hardware_needs_a_delivery_contact(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"], delivery_type="hardware")
    with pytest.raises(InvalidInput) as refused:
        await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    assert refused.value.field == "delivery_contact"
    order = await order_cases.place_order(
        ctx,
        people["buyer"],
        PlaceOrder.model_validate(
            {
                "product_id": pid,
                "delivery_contact": {"name": "Li", "phone": "+8613800001111", "address": "Shenzhen"},
            }
        ),
    )
    assert order.delivery_contact is not None


MILESTONES = [
    {"milestone_id": "a", "title": "design", "proportion": "0.4"},
    {"milestone_id": "b", "title": "delivery", "proportion": "0.6"},
]


async def test_milestones_on_a_periodic_specification_are_refused_citing_the_dossier(
    ctx: OrdersContext, people: People
) -> None:
    """Milestones come from the catalogue's specification now; a periodic one is refused when published."""
    p = await catalogue_cases.create_product(
        ctx,
        people["merchant"],
        product_cmd(
            specifications=[
                {
                    "spec_id": "y1",
                    "name": "Yearly",
                    "billing_mode": "periodic_yearly",
                    "price": "1200.00",
                    "period_months": 12,
                    "milestones": MILESTONES,
                }
            ]
        ),
    )
    with pytest.raises(DomainError, match=r"§4\.2") as refused:
        await catalogue_cases.publish(ctx, p.product_id, people["merchant"])
    assert refused.value.field == "specifications"


async def test_a_milestone_offer_comes_from_the_catalogue_and_is_for_new_purchases_only(
    ctx: OrdersContext, people: People
) -> None:
    pid = await listed(
        ctx,
        people["merchant"],
        people["operator"],
        **one_time(
            "1000.00",
            specifications=[
                {
                    "spec_id": "m",
                    "name": "Milestones",
                    "billing_mode": "one_time",
                    "price": "1000.00",
                    "milestones": MILESTONES,
                }
            ],
        ),
    )
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    assert [(m.milestone_id, m.proportion) for m in order.milestones] == [
        ("a", Decimal("0.4")),
        ("b", Decimal("0.6")),
    ]

    with pytest.raises(InvalidInput, match=r"new purchases only.*§4\.2") as refused:
        await order_cases.place_order(
            ctx,
            people["buyer"],
            PlaceOrder(product_id=pid, order_type="upgrade", original_order_id=order.order_id),
        )
    assert refused.value.field == "order_type"


def link(**claims: Any) -> str:
    base: dict[str, Any] = {
        "link_id": rid("link"),
        "provider_id": "prov-1",
        "expires_at": int(time.time()) + 600,
    }
    return links.sign(links.LinkClaims(**{**base, **claims}), PRIVATE)


async def test_a_private_link_binds_the_provider_and_applies_the_discount(
    ctx: OrdersContext, people: People
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    token = link(
        link_id="L-1",
        product_id=pid,
        customer_account_id=people["buyer"].account_id,
        offer_id="OF-1",
        discount="0.15",
    )

    order = await order_cases.place_order(
        ctx, people["buyer"], PlaceOrder(product_id=pid, private_link=token)
    )

    assert (order.provider_id, order.private_link_id, order.offer_id) == ("prov-1", "L-1", "OF-1")
    assert order.amount == Decimal("1020.00")


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"expires_at": 1}, "expired"),
        ({"product_id": "another-product"}, "for product another-product"),
        ({"customer_account_id": "someone-else"}, "another customer"),
    ],
)
async def test_an_invalid_private_link_is_a_422_naming_the_reason(
    ctx: OrdersContext, people: People, claims: dict[str, Any], why: str
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    with pytest.raises(InvalidInput, match=why) as refused:
        await order_cases.place_order(
            ctx, people["buyer"], PlaceOrder(product_id=pid, private_link=link(**claims))
        )
    assert refused.value.field == "private_link"


async def test_a_forged_private_link_is_refused(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    other_private, _ = links.new_keypair()
    forged = links.sign(
        links.LinkClaims(
            link_id="x", provider_id="p", expires_at=int(time.time()) + 60, discount=Decimal("0.9")
        ),
        other_private,
    )
    with pytest.raises(InvalidInput, match="signature") as refused:
        await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid, private_link=forged))
    assert refused.value.field == "private_link"


async def test_the_verified_profile_gives_the_order_its_company_and_track(
    ctx: OrdersContext, people: People
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    profile = await account_cases.verify_profile(
        ctx,
        people["buyer"].account_id,
        people["operator"],
        VerifyProfile(company="Shenzhen Example Co., Ltd.", track=BuyerTrack.EMPOWERMENT_CLOUD),
    )
    assert profile.verified is not None
    assert profile.verified.verified_by == people["operator"].account_id

    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))

    assert (order.buyer_company, order.buyer_track) == (
        "Shenzhen Example Co., Ltd.",
        BuyerTrack.EMPOWERMENT_CLOUD,
    )


async def test_only_buyers_have_a_verified_profile_and_coupons(ctx: OrdersContext, people: People) -> None:
    with pytest.raises(DomainError) as refused:
        await account_cases.verify_profile(
            ctx, people["merchant"].account_id, people["operator"], VerifyProfile(company="M")
        )
    assert refused.value.field == "account_id"
    with pytest.raises(DomainError):
        await account_cases.grant_coupon(
            ctx,
            people["provider"].account_id,
            people["operator"],
            GrantCoupon(kind=CouponKind.OTHER, amount=Decimal("5.00")),
        )
    with pytest.raises(NotFound):
        await account_cases.verify_profile(ctx, "nobody", people["operator"], VerifyProfile(company="M"))


async def grant(ctx: OrdersContext, people: People, amount: str = "100.00") -> str:
    account = await account_cases.grant_coupon(
        ctx,
        people["buyer"].account_id,
        people["operator"],
        GrantCoupon(kind=CouponKind.EMPOWERMENT_CLOUD_CASH, amount=Decimal(amount)),
    )
    return account.coupons[-1].coupon_id


async def test_a_wallet_coupon_is_used_once_and_comes_back_when_the_sweeper_cancels_the_order(
    ctx: OrdersContext, people: People, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    coupon_id = await grant(ctx, people)

    order = await order_cases.place_order(
        ctx, people["buyer"], PlaceOrder(product_id=pid, coupon_ids=[coupon_id, coupon_id])
    )

    assert [(c.kind, c.amount) for c in order.coupons] == [
        (CouponKind.EMPOWERMENT_CLOUD_CASH, Decimal("100.00"))
    ]
    assert order.coupon_ids == [coupon_id]
    with pytest.raises(InvalidInput, match="was used by order") as refused:
        await order_cases.place_order(
            ctx, people["buyer"], PlaceOrder(product_id=pid, coupon_ids=[coupon_id])
        )
    assert refused.value.field == "coupon_ids"
    clock.now += timedelta(minutes=16)
    assert await sweep(ctx, clock) == 1

    [coupon] = (await ctx.queries.account(people["buyer"].account_id, people["buyer"])).coupons
    assert coupon.used_by_order is None
    again = await order_cases.place_order(
        ctx, people["buyer"], PlaceOrder(product_id=pid, coupon_ids=[coupon_id])
    )
    assert again.coupon_ids == [coupon_id]


async def test_a_buyer_uses_only_its_own_coupons(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    coupon_id = await grant(ctx, people)
    other = await person(ctx, AccountRole.BUYER)
    with pytest.raises(InvalidInput, match="not one of your coupons") as refused:
        await order_cases.place_order(ctx, other, PlaceOrder(product_id=pid, coupon_ids=[coupon_id]))
    assert refused.value.field == "coupon_ids"
    [coupon] = (await ctx.queries.account(people["buyer"].account_id, people["buyer"])).coupons
    assert coupon.used_by_order is None


async def test_a_paid_order_keeps_its_coupons(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"], delivery_type="api", flow_template=None)
    coupon_id = await grant(ctx, people)
    order = await order_cases.place_order(
        ctx, people["buyer"], PlaceOrder(product_id=pid, coupon_ids=[coupon_id])
    )
    await order_cases.pay(ctx, order.order_id, payment(order))
    with pytest.raises(DomainError):
        await order_cases.cancel(ctx, order.order_id, people["buyer"])
    [coupon] = (await ctx.queries.account(people["buyer"].account_id, people["buyer"])).coupons
    assert coupon.used_by_order == order.order_id


# --- payment confirmations -----------------------------------------------------------------------


async def test_a_payment_confirmation_must_be_for_the_orders_amount(
    ctx: OrdersContext, people: People, state: FakeState
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    with pytest.raises(InvalidInput) as refused:
        await order_cases.pay(ctx, order.order_id, payment(order, amount=Decimal("1.00")))
    assert refused.value.field == "amount"
    assert (await ctx.queries.order(order.order_id, people["buyer"])).status is OrderStatus.PENDING_PAYMENT
    assert not [e for e in state.outbox if isinstance(e, OrderPaid)]


async def test_the_same_payment_confirmed_twice_pays_once(
    ctx: OrdersContext, people: People, state: FakeState
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    confirmation = payment(order)

    first = await order_cases.pay(ctx, order.order_id, confirmation)
    again = await order_cases.pay(ctx, order.order_id, confirmation)

    assert first.status is OrderStatus.PROCESSING
    assert again == first
    assert again.payment_id == confirmation.payment_id
    assert [e.order_id for e in state.outbox if isinstance(e, OrderPaid)] == [order.order_id]
    with pytest.raises(DomainError, match="only a pending order"):
        await order_cases.pay(ctx, order.order_id, payment(order))  # another payment of a paid order


# --- the unpaid sweeper --------------------------------------------------------------------------


async def sweep(ctx: OrdersContext, clock: Clock, blocked: Blocked | None = None) -> int:
    """One round of the sweeper's source at the test clock's time, as the shared leased worker runs it (the
    worker itself is tested on the real database): the number of overdue orders it took."""
    source = UnpaidSource(ctx)
    due = await source.due(clock.now, 100, blocked or Blocked())
    for order_id in due:
        await source.process(order_id)
    return len(due)


async def test_the_sweepers_source_lists_overdue_orders_by_id_and_leaves_blocked_ones_out(
    ctx: OrdersContext, people: People, state: FakeState, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    first = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=1)
    second = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    paid = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    await order_cases.pay(ctx, paid.order_id, payment(paid))
    clock.now += timedelta(minutes=20)
    # Overdue too, but not an order this code can load (say, written by an older version): listed all the
    # same, so the worker sees it fail as one item instead of a failed listing.
    state.tables["orders"]["CS-broken"] = {
        "order_id": "CS-broken",
        "status": "pending_payment",
        "pay_by": clock.now - timedelta(days=1),
    }
    source = UnpaidSource(ctx)

    assert await source.due(clock.now, 100, Blocked()) == ["CS-broken", first.order_id, second.order_id]
    assert await source.due(clock.now, 2, Blocked(quarantined=frozenset({"CS-broken"}))) == [
        first.order_id,
        second.order_id,
    ]
    assert await source.due(clock.now, 100, Blocked(backing_off=frozenset({first.order_id}))) == [
        "CS-broken",
        second.order_id,
    ]

    with pytest.raises(ValidationError):
        await source.process(
            "CS-broken"
        )  # fails alone: the worker records it, backs off, then quarantines it
    await source.process(second.order_id)
    assert (await ctx.queries.order(second.order_id, people["buyer"])).status is OrderStatus.CANCELLED
    assert (await ctx.queries.order(first.order_id, people["buyer"])).status is OrderStatus.PENDING_PAYMENT


async def test_an_order_settled_after_it_was_listed_is_left_as_it_is(
    ctx: OrdersContext, people: People, state: FakeState, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=16)
    source = UnpaidSource(ctx)
    [due] = await source.due(clock.now, 100, Blocked())
    await order_cases.cancel(
        ctx, order.order_id, people["buyer"]
    )  # the buyer cancels between the listing and the sweep

    await source.process(due)  # a success with nothing to do, not a failure to retry

    cancelled = await ctx.queries.order(order.order_id, people["buyer"])
    assert cancelled.history[-1].reason == "cancelled by the buyer"
    assert (
        len(
            [
                e
                for e in state.outbox
                if isinstance(e, OrderStatusChanged) and e.payload.to_status is OrderStatus.CANCELLED
            ]
        )
        == 1
    )


async def test_the_sweeper_cancels_only_orders_past_their_window(
    ctx: OrdersContext, people: People, state: FakeState, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    late = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=10)
    fresh = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    clock.now += timedelta(minutes=6)

    assert await sweep(ctx, clock) == 1
    assert await sweep(ctx, clock) == 0

    assert (await ctx.queries.order(late.order_id, people["buyer"])).status is OrderStatus.CANCELLED
    assert (await ctx.queries.order(fresh.order_id, people["buyer"])).status is OrderStatus.PENDING_PAYMENT
    [cancelled] = [
        e
        for e in state.outbox
        if isinstance(e, OrderStatusChanged) and e.payload.to_status is OrderStatus.CANCELLED
    ]
    assert cancelled.payload.reason == "not paid within 15 minutes"
    assert cancelled.order_id == late.order_id


# --- reading orders ------------------------------------------------------------------------------


async def test_an_order_is_read_by_its_buyer_its_merchant_and_operators(
    ctx: OrdersContext, people: People
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    for who in ("buyer", "merchant", "operator"):
        assert (await ctx.queries.order(order.order_id, people[who])).order_id == order.order_id
    for outsider in (
        people["provider"],
        await person(ctx, AccountRole.BUYER),
        await person(ctx, AccountRole.MERCHANT),
    ):
        with pytest.raises(Forbidden) as refused:
            await ctx.queries.order(order.order_id, outsider)
        assert refused.value.rule == "parties_and_operators_only"


async def test_only_its_buyer_cancels_an_unpaid_order(ctx: OrdersContext, people: People) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    with pytest.raises(Forbidden) as refused:
        await order_cases.cancel(ctx, order.order_id, await person(ctx, AccountRole.BUYER))
    assert refused.value.rule == "own_purchases_only"
    assert (await order_cases.cancel(ctx, order.order_id, people["buyer"])).status is OrderStatus.CANCELLED


# --- the buyer's side ----------------------------------------------------------------------------


async def test_favourites_add_list_buy_remove(ctx: OrdersContext, people: People) -> None:
    b, pid = people["buyer"], await listed(ctx, people["merchant"], people["operator"])
    await buyer_cases.add_favourite(ctx, b.account_id, pid)
    await buyer_cases.add_favourite(ctx, b.account_id, pid)  # idempotent
    assert [f.product_id for f in await ctx.queries.favourites_of(b.account_id)] == [pid]
    order = await buyer_cases.buy_favourite(ctx, b, pid, BuyFavourite())
    assert order.product.product_id == pid
    assert order.amount == Decimal("1200.00")
    await buyer_cases.remove_favourite(ctx, b.account_id, pid)
    assert await ctx.queries.favourites_of(b.account_id) == []
    with pytest.raises(NotFound):
        await buyer_cases.buy_favourite(ctx, b, pid, BuyFavourite())


async def paid_order(ctx: OrdersContext, people: People, **over: Any) -> str:
    pid = await listed(ctx, people["merchant"], people["operator"], **over)
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    await order_cases.pay(ctx, order.order_id, payment(order))
    return order.order_id


async def test_purchased_services_are_the_buyers_own_paid_orders_with_filters(
    ctx: OrdersContext, people: People, clock: Clock
) -> None:
    buyer = people["buyer"].account_id
    supervised = await paid_order(ctx, people)
    clock.now += timedelta(minutes=1)
    image = await paid_order(ctx, people, delivery_type="image", flow_template=None, name="OS image")
    other_buyer = (await person(ctx, AccountRole.BUYER)).account_id
    pid = await listed(ctx, people["merchant"], people["operator"])
    await order_cases.place_order(
        ctx, people["buyer"], PlaceOrder(product_id=pid)
    )  # unpaid: not a purchased service

    everything = [o.order_id for o in await ctx.queries.purchased(buyer)]
    assert everything == [image, supervised]  # newest first
    assert [o.order_id for o in await ctx.queries.purchased(buyer, status=OrderStatus.PROCESSING)] == [
        supervised
    ]
    assert [o.order_id for o in await ctx.queries.purchased(buyer, delivery_type=DeliveryType.IMAGE)] == [
        image
    ]
    assert [o.order_id for o in await ctx.queries.purchased(buyer, name="os im")] == [image]
    assert await ctx.queries.purchased(other_buyer) == []
    with pytest.raises(Forbidden):
        await ctx.queries.details(other_buyer, supervised)


async def test_resource_details_carry_the_merchants_contacts(ctx: OrdersContext, people: People) -> None:
    order_id = await paid_order(ctx, people)
    details = await ctx.queries.details(people["buyer"].account_id, order_id)
    assert details.merchant is not None
    assert (details.merchant.display_name, details.merchant.email, details.merchant.phone) == (
        "merchant Co",
        "merchant@example.com",
        "+8613800001234",
    )
    assert details.progress.current_node is None


async def test_a_supervised_unsubscribe_publishes_refund_requested(
    ctx: OrdersContext, people: People, state: FakeState
) -> None:
    order_id = await paid_order(ctx, people)
    await refund_cases.unsubscribe(
        ctx, people["buyer"].account_id, order_id, RequestUnsubscribe(reason="plans changed")
    )
    [requested] = [e for e in state.outbox if isinstance(e, RefundRequested)]
    assert (requested.order_id, requested.payload.amount) == (order_id, Decimal("1200.00"))


async def test_no_reason_refunds_count_against_the_yearly_quota(
    ctx: OrdersContext, people: People, state: FakeState
) -> None:
    order_id = await paid_order(ctx, people, delivery_type="api", flow_template=None)
    refunded = await refund_cases.unsubscribe(
        ctx, people["buyer"].account_id, order_id, RequestUnsubscribe(reason="x")
    )
    assert refunded.status is OrderStatus.REFUNDED
    assert state.tables["quotas"][f"{people['buyer'].account_id}:2026"]["used"] == 1


async def test_renewal_after_completion_and_rating(ctx: OrdersContext, people: People, clock: Clock) -> None:
    buyer = people["buyer"].account_id
    order_id = await paid_order(ctx, people)
    with pytest.raises(DomainError, match="once it is completed"):
        await buyer_cases.renew(ctx, buyer, order_id, Renew())
    async with ctx.uow() as uow:  # supervision completed (as acceptance.done would do)
        order = await uow.orders.get(order_id)
        assert order is not None
        order.complete_after_acceptance(clock.now, None)
        await uow.orders.save(order)
        await uow.commit()

    renewal = await buyer_cases.renew(ctx, buyer, order_id, Renew())
    paid = await order_cases.pay(ctx, renewal.order_id, payment(renewal))

    assert (paid.order_type, paid.original_order_id, paid.status) == (
        "renewal",
        order_id,
        OrderStatus.COMPLETED,
    )
    assert paid.validity_starts_at == clock.now.replace(year=2027)  # continues the first year
    rated = await buyer_cases.rate(ctx, buyer, order_id, Rate(quality=5, after_sales=5, delivery_speed=4))
    assert rated.rating is not None


async def test_billing_eligibility_is_every_order_for_operators_and_its_own_for_a_merchant(
    ctx: OrdersContext, people: People
) -> None:
    order_id = await paid_order(ctx, people, delivery_type="api", flow_template=None)
    [row] = await ctx.queries.billing_eligibility(people["operator"], "2026-11")
    assert (row.order_id, row.billable) == (order_id, True)
    assert [r.order_id for r in await ctx.queries.billing_eligibility(people["merchant"], "2026-11")] == [
        order_id
    ]
    assert await ctx.queries.billing_eligibility(await person(ctx, AccountRole.MERCHANT), "2026-11") == []
    assert await ctx.queries.billing_eligibility(people["operator"], "2026-10") == []


async def test_credit_orders_become_billable_once_an_operator_records_repayment(
    ctx: OrdersContext, people: People
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"], delivery_type="api", flow_template=None)
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid))
    await order_cases.pay(ctx, order.order_id, payment(order, credit=True))
    [row] = await ctx.queries.billing_eligibility(people["operator"], "2026-11")
    assert not row.billable
    repaid = await order_cases.credit_repaid(ctx, order.order_id)
    assert repaid.credit_repaid_at is not None
    [row] = await ctx.queries.billing_eligibility(people["operator"], "2026-11")
    assert row.billable


async def test_an_order_of_several_resources_costs_each_and_says_how_many(
    ctx: OrdersContext, people: People, state: FakeState
) -> None:
    """An order of 3 resources: 3 × the price, and order.paid says 3 (a License order gets a code for each
    purchased resource, dossier §2.2, issued by partner from it); a quantity below 1 is refused."""
    pid = await listed(ctx, people["merchant"], people["operator"])
    order = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid, quantity=3))
    assert order.amount == Decimal("3600.00")
    await order_cases.pay(ctx, order.order_id, payment(order))
    [paid] = [e for e in state.outbox if isinstance(e, OrderPaid) and e.order_id == order.order_id]
    assert paid.payload.quantity == 3
    assert paid.payload.amount == Decimal("3600.00")
    with pytest.raises(ValidationError, match="quantity"):
        PlaceOrder(product_id=pid, quantity=0)


async def test_an_upgrade_needs_the_buyers_completed_order_of_the_product_and_is_prorated(
    ctx: OrdersContext, people: People, clock: Clock
) -> None:
    yearly = {"billing_mode": "periodic_yearly", "period_months": 12}
    specs = [
        {"spec_id": "y1", "name": "Basic", "price": "1200.00", **yearly},
        {"spec_id": "y2", "name": "Pro", "price": "2400.00", **yearly},
    ]
    pid = await listed(
        ctx,
        people["merchant"],
        people["operator"],
        delivery_type="api",
        flow_template=None,
        specifications=specs,
    )
    first = await order_cases.place_order(ctx, people["buyer"], PlaceOrder(product_id=pid, spec_id="y1"))
    original = await order_cases.pay(ctx, first.order_id, payment(first))
    order_id = original.order_id
    with pytest.raises(InvalidInput) as refused:
        await order_cases.place_order(
            ctx, people["buyer"], PlaceOrder(product_id=pid, spec_id="y2", order_type="upgrade")
        )
    assert refused.value.field == "original_order_id"
    other = await person(ctx, AccountRole.BUYER)
    with pytest.raises(InvalidInput, match="not one of your orders"):
        await order_cases.place_order(
            ctx,
            other,
            PlaceOrder(product_id=pid, spec_id="y2", order_type="upgrade", original_order_id=order_id),
        )

    same = PlaceOrder(product_id=pid, spec_id="y1", order_type="upgrade", original_order_id=order_id)
    with pytest.raises(InvalidInput, match="another specification") as refused:
        await order_cases.place_order(ctx, people["buyer"], same)
    assert refused.value.field == "spec_id"

    clock.now += timedelta(days=100, hours=5)
    upgrade = await order_cases.place_order(
        ctx,
        people["buyer"],
        PlaceOrder(product_id=pid, spec_id="y2", order_type="upgrade", original_order_id=order_id),
    )
    # §8.2.6: (2400 − 1200) over a 360-day year for the days left, a started day counting.
    assert original.validity_ends_at is not None
    left = math.ceil((original.validity_ends_at - clock.now).total_seconds() / 86400)
    assert 260 <= left <= 266
    assert upgrade.amount == (Decimal(1200) / 360 * left).quantize(Decimal("0.01"), ROUND_HALF_UP)
    paid = await order_cases.pay(ctx, upgrade.order_id, payment(upgrade))

    assert (paid.order_type, paid.original_order_id, paid.status) == (
        "upgrade",
        order_id,
        OrderStatus.COMPLETED,
    )
    assert paid.history[-1].reason == "upgrade paid; no new service order"


# --- accounts ------------------------------------------------------------------------------------


async def test_a_profile_is_the_callers_own_from_its_token_and_registering_again_changes_nothing(
    ctx: OrdersContext, state: FakeState
) -> None:
    caller = principal(AccountRole.MERCHANT, email="Shop@Example.com")

    account, created = await account_cases.register_account(
        ctx, caller, RegisterAccount(bound_phone="+86 138 0000 5678")
    )
    again, created_again = await account_cases.register_account(
        ctx, caller, RegisterAccount(display_name="Another name", bound_phone="+8613800009999")
    )

    assert (created, created_again) == (True, False)
    assert (account.account_id, account.role, account.bound_email, account.bound_phone) == (
        caller.account_id,
        AccountRole.MERCHANT,
        "Shop@Example.com",
        "+8613800005678",
    )
    assert again == account
    [registered] = [e for e in state.outbox if isinstance(e, AccountRegistered)]
    assert (registered.payload.account_id, registered.payload.role) == (
        caller.account_id,
        AccountRole.MERCHANT,
    )


async def test_the_bound_email_is_the_verified_one_of_the_token(ctx: OrdersContext) -> None:
    caller = principal(AccountRole.BUYER, email="me@example.com")
    with pytest.raises(InvalidInput) as refused:
        await account_cases.register_account(
            ctx,
            caller,
            RegisterAccount.model_validate(
                {"bound_email": "someone.else@example.com", "bound_phone": "+8613800001234"}
            ),
        )
    assert refused.value.field == "bound_email"
    unverified = Principal(
        account_id=rid("b"), roles=frozenset({"buyer"}), email="x@example.com", email_verified=False
    )
    with pytest.raises(InvalidInput) as refused:
        await account_cases.register_account(ctx, unverified, RegisterAccount(bound_phone="+8613800001234"))
    assert refused.value.field == "bound_email"
    account, _ = await account_cases.register_account(
        ctx,
        unverified,
        RegisterAccount.model_validate({"bound_email": "given@example.com", "bound_phone": "+8613800001234"}),
    )
    assert account.bound_email == "given@example.com"


async def test_a_token_without_one_marketplace_role_registers_no_profile(
    ctx: OrdersContext, state: FakeState
) -> None:
    for roles in ({"payment-system"}, {"buyer", "operator"}, set()):
        caller = Principal(account_id=rid("x"), roles=frozenset(roles))
        with pytest.raises(Forbidden) as refused:
            await account_cases.register_account(
                ctx,
                caller,
                RegisterAccount.model_validate(
                    {"bound_email": "x@example.com", "bound_phone": "+8613800001234"}
                ),
            )
        assert refused.value.rule == "one_marketplace_role"
    assert state.tables.get("accounts", {}) == {}


async def test_an_account_is_read_by_its_owner_and_operators(ctx: OrdersContext, people: People) -> None:
    buyer = people["buyer"].account_id
    assert (await ctx.queries.account(buyer, people["buyer"])).account_id == buyer
    assert (await ctx.queries.account(buyer, people["operator"])).bound_email == "buyer@example.com"
    for outsider in ("merchant", "provider"):
        with pytest.raises(Forbidden) as refused:
            await ctx.queries.account(buyer, people[outsider])
        assert refused.value.rule == "parties_and_operators_only"


async def test_erasure_masks_contact_data_tells_the_other_services_and_keeps_the_orders(
    ctx: OrdersContext, people: People, state: FakeState, clock: Clock
) -> None:
    pid = await listed(ctx, people["merchant"], people["operator"], delivery_type="hardware")
    order = await order_cases.place_order(
        ctx,
        people["buyer"],
        PlaceOrder.model_validate(
            {
                "product_id": pid,
                "delivery_contact": {
                    "name": "Li Lei",
                    "phone": "+8613800001111",
                    "address": "1 Nanshan Road, Shenzhen",
                },
            }
        ),
    )
    exported = await ctx.queries.export(people["buyer"])
    assert exported["account"]["bound_email"] == "buyer@example.com"
    assert exported["delivery_contacts"] == [
        {
            "order_id": order.order_id,
            "delivery_contact": {
                "name": "Li Lei",
                "phone": "+8613800001111",
                "address": "1 Nanshan Road, Shenzhen",
            },
        }
    ]

    erased = await account_cases.erase(ctx, people["buyer"])
    await account_cases.erase(
        ctx, people["buyer"]
    )  # asked again: nothing more to erase, nothing published again

    assert (erased.bound_email, erased.bound_phone, erased.display_name) == (
        "b***@example.com",
        "***34",
        ERASED,
    )
    assert erased.erased_at == clock.now
    [event] = [e for e in state.outbox if isinstance(e, AccountErased)]
    assert (event.payload.account_id, event.payload.role) == (people["buyer"].account_id, AccountRole.BUYER)
    kept = await ctx.queries.order(order.order_id, people["buyer"])
    assert kept.delivery_contact is not None
    assert (kept.delivery_contact.name, kept.delivery_contact.phone, kept.delivery_contact.address) == (
        "***",
        "***11",
        "***",
    )
    assert (kept.buyer_account_id, kept.amount) == (order.buyer_account_id, order.amount)
    assert "Li Lei" not in str((await ctx.queries.export(people["buyer"]))["delivery_contacts"])


async def test_registering_again_after_an_erasure_keeps_the_verified_profile_and_coupons(
    ctx: OrdersContext, people: People
) -> None:
    await account_cases.verify_profile(
        ctx, people["buyer"].account_id, people["operator"], VerifyProfile(company="Example Ltd")
    )
    coupon_id = await grant(ctx, people)
    await account_cases.erase(ctx, people["buyer"])

    account, created = await account_cases.register_account(
        ctx, people["buyer"], RegisterAccount(display_name="Back again", bound_phone="+8613800002222")
    )

    assert created
    assert (account.display_name, account.bound_email, account.bound_phone) == (
        "Back again",
        "buyer@example.com",
        "+8613800002222",
    )
    stored = await ctx.queries.account(people["buyer"].account_id, people["buyer"])
    assert account == stored  # the answer is the profile as stored
    assert stored.erased_at is None
    assert stored.verified is not None
    assert stored.verified.company == "Example Ltd"
    assert [c.coupon_id for c in stored.coupons] == [coupon_id]
