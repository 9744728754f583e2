"""partner on the in-memory broker: scenarios, refunds, cancellations, joint selling, SaaS calls, erasure."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.partner import store
from services.partner.calls import MerchantCall
from services.partner.domain import LedgerEntry
from services.partner.incentives import OPERATIONS_BASE, Scenario
from services.partner.programme import CustomerAssociation, Demand, Offer
from services.partner.services import PartnerService
from shared.platform.errors import DomainError
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas import (
    AccountErased,
    AccountErasedPayload,
    AccountRole,
    DeliveryType,
    OrderPaid,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    PartyRole,
    RefundDecided,
    RefundDecidedPayload,
)
from tests.factories import acceptance_done, order_paid, parties, rid
from tests.service.rig import Rig


def ledger(rig: Rig) -> list[LedgerEntry]:
    return sorted(
        (LedgerEntry.model_validate(r) for r in rig.state.tables.get("ledger", {}).values()),
        key=lambda e: e.kind,
    )


def refund_decided(paid: OrderPaid, amount: str, approved: bool = True) -> RefundDecided:
    p = paid.payload
    return RefundDecided(
        producer="tests",
        correlation_id=rid("corr"),
        order_id=p.order_id,
        payload=RefundDecidedPayload(
            refund_id=rid("R"),
            order_id=p.order_id,
            approved=approved,
            amount=Decimal(amount),
            reason="not needed",
            decided_by_role=PartyRole.MERCHANT,
            parties=p.parties,
            decided_at=datetime.now(UTC),
        ),
    )


async def test_an_approved_refund_after_acceptance_reverses_the_earning_once(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p, amount="1288.00", ratio="0.12")
    refund = refund_decided(paid, "1288.00")
    async with partner_rig.running() as rig:
        for event in (paid, acceptance_done(p, paid.order_id), refund, refund):
            await rig.publish(event)

    earning, reversal = ledger(rig)
    assert earning.amount == Decimal("154.56")
    assert reversal.amount == Decimal("-154.56")
    assert reversal.kind == "reversal"
    assert rig.dead == []


async def test_a_rejected_refund_changes_nothing(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p, amount="100.00")
    async with partner_rig.running() as rig:
        for event in (
            paid,
            acceptance_done(p, paid.order_id),
            refund_decided(paid, "100.00", approved=False),
        ):
            await rig.publish(event)

    assert [e.kind for e in ledger(rig)] == ["commission"]


async def test_a_refund_before_acceptance_means_nothing_ever_accrues(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p)
    async with partner_rig.running() as rig:
        for event in (paid, refund_decided(paid, "100.00"), acceptance_done(p, paid.order_id)):
            await rig.publish(event)

    assert ledger(rig) == []


async def test_an_order_cancelled_before_acceptance_never_earns(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p)
    cancelled = OrderStatusChanged(
        producer="tests",
        correlation_id=rid("c"),
        order_id=paid.order_id,
        payload=OrderStatusChangedPayload(
            order_id=paid.order_id,
            from_status=OrderStatus.PROCESSING,
            to_status=OrderStatus.CANCELLED,
            reason="buyer cancelled",
            parties=p,
            amount=Decimal("100.00"),
            changed_at=datetime.now(UTC),
        ),
    )
    async with partner_rig.running() as rig:
        for event in (paid, cancelled, acceptance_done(p, paid.order_id)):
            await rig.publish(event)

    assert ledger(rig) == []


async def test_the_customers_own_reseller_earns_under_the_sales_incentive(partner_rig: Rig) -> None:
    provider = rid("prov")
    p = parties(provider)
    partner_rig.state.table("customers")[p.buyer_account_id] = CustomerAssociation(
        customer_id=p.buyer_account_id, reseller_id=provider
    ).model_dump()
    paid = order_paid(p)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(acceptance_done(p, paid.order_id))

    [entry] = ledger(rig)
    assert entry.scenario is Scenario.PARTNER_SALES_INCENTIVE


async def test_an_operations_base_customer_earns_under_the_operations_base_policy(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    partner_rig.state.table("customers")[p.buyer_account_id] = CustomerAssociation(
        customer_id=p.buyer_account_id, reseller_id="someone", registration_column=OPERATIONS_BASE
    ).model_dump()
    paid = order_paid(p)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(acceptance_done(p, paid.order_id))

    [entry] = ledger(rig)
    assert entry.scenario is Scenario.OPERATIONS_BASE


async def test_an_order_with_the_merchants_private_offer_closes_the_demand_as_won_and_binds_the_provider(
    partner_rig: Rig,
) -> None:
    provider, p = rid("prov"), parties(None)
    now = datetime.now(UTC)
    paid = order_paid(p, amount="200.00", ratio="0.1")
    product = paid.payload.product.product_id
    partner_rig.state.table("demands")["D1"] = Demand(
        demand_id="D1",
        provider_id=provider,
        merchant_id=p.merchant_account_id,
        customer_account_id=p.buyer_account_id,
        product_id=product,
        status="offered",
        offer_id="O1",
    ).model_dump()
    partner_rig.state.table("offers")["O1"] = Offer(
        offer_id="O1",
        name="private offer",
        issuer_id=p.merchant_account_id,
        provider_id=provider,
        customer_account_id=p.buyer_account_id,
        product_ids=[product],
        discount=Decimal("0.1"),
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=9),
        status="effective",
        demand_id="D1",
    ).model_dump()
    paid = paid.model_copy(update={"payload": paid.payload.model_copy(update={"offer_id": "O1"})})
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(acceptance_done(p, paid.order_id))

    demand = Demand.model_validate(rig.state.tables["demands"]["D1"])
    assert demand.status == "won"
    assert demand.won_order_id == paid.order_id
    [entry] = ledger(rig)
    assert entry.provider_id == provider
    assert entry.amount == Decimal("20.00")


async def test_a_paid_saas_order_queues_the_new_instance_call_once(partner_rig: Rig) -> None:
    p = parties(None)
    paid = order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(paid)

    [row] = rig.state.tables["merchant_calls"].values()
    call = MerchantCall.model_validate(row)
    assert call.call_id == f"newInstance:{paid.order_id}"
    assert call.policy == "long"
    assert call.status == "pending"
    assert call.body["activity"] == "newInstance"
    assert call.body["orderId"] == paid.order_id


async def test_partner_keeps_no_registry_of_accounts_or_roles(partner_rig: Rig) -> None:
    """Roles come from the caller's token now: account.registered is not even consumed."""
    subscribed = {name for sub in partner_rig.broker._subscribers for name in sub.topic_names}
    assert "svc.account.registered" not in subscribed
    assert "svc.account.erased" in subscribed
    assert "accounts" not in partner_rig.state.tables


def kit_users_call(call_id: str, buyer: str, status: str = "failed") -> MerchantCall:
    users = [
        {
            "userName": "zhang.san",
            "name": "张三",
            "orgCode": "o1",
            "role": "user",
            "enable": "true",
            "mobile": "+8613800001234",
            "email": "zhang@acme.example",
            "position": "CFO",
        }
    ]
    return MerchantCall(
        call_id=call_id,
        merchant_id="m1",
        endpoint="authSync",
        kind="kit",
        path="/produceAPI/v2/authSync",
        policy="manual",
        status=status,
        order_id="CS1",
        buyer_id=buyer,
        body={"tenantId": "t1", "appId": "a1", "userList": users, "flag": 1},
        created_at=datetime.now(UTC),
    )


def erased(account_id: str) -> AccountErased:
    return AccountErased(
        producer="tests",
        correlation_id=rid("c"),
        payload=AccountErasedPayload(
            account_id=account_id, role=AccountRole.BUYER, erased_at=datetime.now(UTC)
        ),
    )


async def test_an_erased_buyers_kit_calls_lose_their_users_contact_data_and_cannot_be_replayed(
    partner_rig: Rig,
) -> None:
    buyer, other = rid("buyer"), rid("buyer")
    calls = partner_rig.state.table("merchant_calls")
    for call in (kit_users_call("authSync:1", buyer), kit_users_call("authSync:2", other)):
        calls[call.call_id] = call.model_dump()
    event = erased(buyer)
    async with partner_rig.running() as rig:
        await rig.publish(event)
        first = copy.deepcopy(rig.state.tables["merchant_calls"])
        await rig.publish(event)  # redelivered
        await rig.publish(erased(buyer))  # erased again: nothing left to mask

    assert rig.state.tables["merchant_calls"] == first
    mine = MerchantCall.model_validate(first["authSync:1"])
    [user] = mine.body["userList"]
    assert (user["name"], user["mobile"], user["email"], user["position"]) == ("***", "***", "***", "***")
    assert user["userName"] == "zhang.san"  # the merchant's key for the user stays
    assert mine.erased_at is not None
    assert mine.status == "failed"  # the record (and the console's figures) stay
    with pytest.raises(DomainError, match="erased"):
        mine.replay(datetime.now(UTC))
    theirs = MerchantCall.model_validate(first["authSync:2"])
    assert theirs.body["userList"][0]["mobile"] == "+8613800001234"
    assert theirs.erased_at is None
    assert rig.dead == []


def status_changed(
    paid: OrderPaid,
    ends_at: datetime | None,
    before: OrderStatus = OrderStatus.PROCESSING,
    to: OrderStatus = OrderStatus.COMPLETED,
) -> OrderStatusChanged:
    p = paid.payload
    return OrderStatusChanged(
        producer="tests",
        correlation_id=rid("c"),
        order_id=p.order_id,
        payload=OrderStatusChangedPayload(
            order_id=p.order_id,
            from_status=before,
            to_status=to,
            reason="paid",
            parties=p.parties,
            amount=p.amount,
            validity_starts_at=None if ends_at is None else ends_at - timedelta(days=30),
            validity_ends_at=ends_at,
            changed_at=datetime.now(UTC),
        ),
    )


async def test_a_saas_validity_end_schedules_the_expiry_call_and_a_renewal_moves_it(partner_rig: Rig) -> None:
    p = parties(None)
    paid = order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    renewal = order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    renewal = renewal.model_copy(
        update={
            "payload": renewal.payload.model_copy(
                update={"order_type": "renewal", "original_order_id": paid.order_id}
            )
        }
    )
    first_end = datetime(2027, 1, 1, tzinfo=UTC)
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(status_changed(paid, first_end))
        expiry = MerchantCall.model_validate(
            rig.state.tables["merchant_calls"][f"expireInstance:{paid.order_id}"]
        )
        assert expiry.due_at == first_end
        assert expiry.policy == "short"
        await rig.publish(renewal)
        await rig.publish(status_changed(renewal, first_end + timedelta(days=365)))

    calls = {k: MerchantCall.model_validate(v) for k, v in rig.state.tables["merchant_calls"].items()}
    assert calls[f"expireInstance:{paid.order_id}"].due_at == first_end + timedelta(days=365)
    refresh = calls[f"refreshInstance:{renewal.order_id}"]
    assert refresh.body["scene"] == "RENEWAL"
    assert refresh.body["instanceId"] == paid.order_id  # the merchant's id replaces it when it is known
    # the release after the freeze period (§8.2.5) moved with the expiry
    lapse = calls[f"releaseInstance:lapse:{paid.order_id}"]
    assert lapse.due_at == first_end + timedelta(days=365 + 15)
    assert len(calls) == 4


async def test_terms_with_a_floor_price_and_tax_rates_drive_the_earning(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p, amount="1200.00", ratio="0.2")
    partner_rig.state.table("product_terms")[paid.payload.product.product_id] = {
        "product_id": paid.payload.product.product_id,
        "merchant_id": p.merchant_account_id,
        "share_ratio": "0.2",
        "floor_price": "1000.00",
        "vat_rate": "0.06",
        "service_fee_tax_rate": "0.03",
        "version": 0,
    }
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(acceptance_done(p, paid.order_id))

    [entry] = ledger(rig)
    assert entry.amount == Decimal("38.87")  # (1200 − 1000) × 0.2 × 1.03 ÷ 1.06 = 38.867…


async def test_terms_another_merchant_claimed_for_the_product_never_shape_the_earning(
    partner_rig: Rig,
) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p, amount="1200.00", ratio="0.2")
    partner_rig.state.table("product_terms")[paid.payload.product.product_id] = {
        "product_id": paid.payload.product.product_id,
        "merchant_id": rid("squatter"),
        "share_ratio": "0.9",
        "floor_price": "1199.00",
        "vat_rate": "0.5",
        "version": 0,
    }
    async with partner_rig.running() as rig:
        await rig.publish(paid)
        await rig.publish(acceptance_done(p, paid.order_id))

    [entry] = ledger(rig)
    assert entry.amount == Decimal("240.00")  # 1200 × 0.2, as if no terms were on record


async def test_an_order_outside_the_offer_window_does_not_win_the_demand(partner_rig: Rig) -> None:
    p = parties(rid("prov"))
    paid = order_paid(p)
    now = datetime.now(UTC)
    partner_rig.state.table("demands")["D1"] = Demand(
        demand_id="D1",
        provider_id=p.provider_id or "",
        merchant_id=p.merchant_account_id,
        customer_account_id=p.buyer_account_id,
        product_id="x",
        status="offered",
        offer_id="O1",
    ).model_dump()
    partner_rig.state.table("offers")["O1"] = Offer(
        offer_id="O1",
        name="expired",
        issuer_id=p.merchant_account_id,
        provider_id=p.provider_id,
        customer_account_id=p.buyer_account_id,
        product_ids=[paid.payload.product.product_id],
        discount=Decimal("0.1"),
        valid_from=now - timedelta(days=9),
        valid_until=now - timedelta(days=1),
        status="effective",
        demand_id="D1",
    ).model_dump()
    paid = paid.model_copy(update={"payload": paid.payload.model_copy(update={"offer_id": "O1"})})
    async with partner_rig.running() as rig:
        await rig.publish(paid)

    assert Demand.model_validate(rig.state.tables["demands"]["D1"]).status == "offered"


async def test_an_approved_refund_of_a_saas_order_releases_its_instance_once(partner_rig: Rig) -> None:
    p = parties()
    paid = order_paid(p, delivery_type=DeliveryType.SAAS_INSTANT)
    refund = refund_decided(paid, "100.00")
    async with partner_rig.running() as rig:
        for event in (paid, refund, refund_decided(paid, "100.00")):  # a second approval must not call again
            await rig.publish(event)

    calls = [MerchantCall.model_validate(r) for r in rig.state.tables["merchant_calls"].values()]
    assert sorted(c.endpoint for c in calls) == ["newInstance", "releaseInstance"]
    release = next(c for c in calls if c.endpoint == "releaseInstance")
    assert release.body["activity"] == "releaseInstance"
    assert release.body["instanceId"] == paid.order_id  # no instance id known yet: the order identifies it
    assert release.policy == "short"  # §8.2.5: retried for 1 hour


async def test_a_rejected_refund_releases_nothing(partner_rig: Rig) -> None:
    paid = order_paid(parties(), delivery_type=DeliveryType.SAAS_INSTANT)
    async with partner_rig.running() as rig:
        for event in (paid, refund_decided(paid, "100.00", approved=False)):
            await rig.publish(event)

    assert [r["endpoint"] for r in rig.state.tables["merchant_calls"].values()] == ["newInstance"]


async def test_a_status_change_no_handler_may_concern_costs_no_transaction() -> None:
    """An order.status_changed of a payment (no provider, no validity end) is nothing to partner: it is answered
    without a unit of work, alone or in a batch; a cancellation with a provider is handled."""
    state, opened = FakeState(), []
    make = store.fake_uow(state)

    def counted() -> store.PartnerUnitOfWork:
        opened.append(1)
        return make()

    service = PartnerService(UnitOfWorkFactory(counted))
    processing = status_changed(
        order_paid(parties(None)), None, OrderStatus.PENDING_PAYMENT, OrderStatus.PROCESSING
    )
    assert await service.handle(processing) == []
    assert await service.handle_all([processing, processing]) == [[], []]
    assert opened == []
    provider = parties(rid("prov"))
    cancelled = processing.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "payload": processing.payload.model_copy(
                update={"to_status": OrderStatus.CANCELLED, "parties": provider}
            ),
        }
    )
    assert await service.handle_all([processing, cancelled]) == [[], [None]]
    assert opened == [1]
