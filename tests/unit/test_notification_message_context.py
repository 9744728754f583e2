"""What a template gets from an event, and who plays which role in it: chosen by the payload's type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.notification.catalogue import CATALOGUE
from services.notification.message_context import DEFAULTS, accounts_in_role, carried, context, roles
from shared.schemas import (
    EVENT_TYPES,
    AccountRole,
    AppealOutcome,
    AppealRaised,
    AppealRaisedPayload,
    AppealResolved,
    AppealResolvedPayload,
    MerchantCallFailed,
    MerchantCallFailedPayload,
    OrderStatus,
    OrderStatusChanged,
    OrderStatusChangedPayload,
    PartyRole,
    RefundRequested,
    RefundRequestedPayload,
)
from tests.factories import account_registered, order_paid, parties, rid

NOW = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_every_catalogue_event_type_says_what_it_carries() -> None:
    for event_type in CATALOGUE:
        payload_type = EVENT_TYPES[event_type].model_fields["payload"].annotation
        assert carried.dispatch(payload_type) is not carried.dispatch(object), event_type
        assert roles.dispatch(payload_type) is not roles.dispatch(object), event_type


def test_an_order_paid_gives_its_amount_product_and_order() -> None:
    event = order_paid(parties(), amount="12.50")
    ctx = context(event)
    assert set(ctx) == set(DEFAULTS)
    assert (ctx["order_id"], ctx["amount"], ctx["currency"], ctx["product"]) == (
        event.order_id,
        Decimal("12.50"),
        "CNY",
        "Data migration service",
    )
    assert (ctx["node"], ctx["reason"], ctx["approved"], ctx["attempt"]) == ("", "", False, 1)  # the defaults


def test_enums_reach_the_templates_as_their_keys() -> None:
    p, oid = parties(), rid("CS")
    raised = AppealRaised(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=AppealRaisedPayload(
            appeal_id="a",
            service_order_id="SO",
            order_id=oid,
            raised_by_role=PartyRole.MERCHANT,
            raised_by_account_id=p.merchant_account_id,
            node="deliver",
            reason="late",
            demands="x",
            parties=p,
            raised_at=NOW,
        ),
    )
    resolved = AppealResolved(
        producer="t",
        correlation_id="c",
        order_id=oid,
        payload=AppealResolvedPayload(
            appeal_id="a",
            service_order_id="SO",
            order_id=oid,
            outcome=AppealOutcome.REFUND,
            resolved_by_account_id="op",
            parties=p,
            resolved_at=NOW,
        ),
    )
    assert (context(raised)["raised_by"], context(raised)["node"], context(raised)["reason"]) == (
        "merchant",
        "deliver",
        "late",
    )
    assert context(resolved)["outcome"] == "refund"


def test_the_envelopes_order_id_comes_first_and_a_payloads_fills_in() -> None:
    p = parties()
    changed = OrderStatusChanged(
        producer="t",
        correlation_id="c",
        payload=OrderStatusChangedPayload(
            order_id="CS-payload",
            from_status=None,
            to_status=OrderStatus.CANCELLED,
            reason="r",
            parties=p,
            amount=Decimal("3.00"),
            currency="USD",
            changed_at=NOW,
        ),
    )
    assert (context(changed)["order_id"], context(changed)["currency"]) == ("CS-payload", "USD")
    enveloped = changed.model_copy(update={"order_id": "CS-envelope"})
    assert context(enveloped)["order_id"] == "CS-envelope"
    requested = RefundRequested(
        producer="t",
        correlation_id="c",
        payload=RefundRequestedPayload(
            refund_id="r", order_id="CS-1", amount=Decimal("1.5"), reason="why", parties=p, requested_at=NOW
        ),
    )
    assert context(requested)["currency"] == "CNY"  # a refund request names no currency


def test_a_payload_nobody_registered_gives_the_defaults_and_no_roles() -> None:
    registered = account_registered(rid("acc"), AccountRole.BUYER)
    assert context(registered) == DEFAULTS
    assert accounts_in_role(registered, AccountRole.BUYER) == []


def test_the_parties_play_their_roles_and_a_failed_call_names_its_merchant() -> None:
    p = parties(provider="prov-1")
    paid = order_paid(p)
    assert accounts_in_role(paid, AccountRole.BUYER) == [p.buyer_account_id]
    assert accounts_in_role(paid, AccountRole.PROVIDER) == ["prov-1"]
    assert accounts_in_role(order_paid(parties()), AccountRole.PROVIDER) == []  # no provider bound
    failed = MerchantCallFailed(
        producer="t",
        correlation_id="c",
        payload=MerchantCallFailedPayload(
            call_id="c",
            merchant_account_id="m-1",
            endpoint="newInstance",
            attempt=3,
            final=True,
            consequence="refund",
            error="HTTP 500",
            failed_at=NOW,
        ),
    )
    assert accounts_in_role(failed, AccountRole.MERCHANT) == ["m-1"]
    assert accounts_in_role(failed, AccountRole.BUYER) == []  # no parties: a call outside any order
    with_parties = failed.model_copy(update={"payload": failed.payload.model_copy(update={"parties": p})})
    assert accounts_in_role(with_parties, AccountRole.MERCHANT) == ["m-1"]
    assert accounts_in_role(with_parties, AccountRole.BUYER) == [p.buyer_account_id]
    assert (context(failed)["endpoint"], context(failed)["final"], context(failed)["consequence"]) == (
        "newInstance",
        True,
        "refund",
    )
