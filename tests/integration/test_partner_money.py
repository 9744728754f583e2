"""The programme, offers, private links, joint selling, earnings, refunds and bills on the real broker, database and
identity provider: every caller is a Keycloak user with a real token, and its role is the token's realm role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import Event, Parties, PartyRole, RefundDecided, RefundDecidedPayload
from shared.schemas.links import new_keypair, verify
from shared.workdays import BEIJING
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, produce, running
from tests.identity import User


async def publish(infra: Infra, namespace: str, event: Event) -> None:
    await produce(
        infra.kafka_client(),
        f"{namespace}.{event.topic}",
        event.model_dump_json().encode(),
        key=event.partition_key,
    )


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, method: str, path: str, who: User, expect: int = 200, **kw: Any) -> Any:
        resp = await self.client.request(method, path, headers=await who.headers(), **kw)
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
    }


async def test_a_provider_joins_sells_through_offers_and_links_earns_is_refunded_and_billed(
    infra: Infra, namespace: str
) -> None:
    private, public = new_keypair()
    settings = f.settings(PartnerSettings, infra, namespace, private_link_private_key=private)
    operator, provider, merchant = (
        await infra.idp.user("operator"),
        await infra.idp.user("provider"),
        await infra.idp.user("merchant"),
    )
    product = f.rid("p-mig")
    async with running(create_app(settings)) as client:
        api = Api(client)

        # programme: certification required, operator review, active provider with rights
        await api(
            "POST",
            "/programme/applications",
            provider,
            422,
            json={"company": "ACME", "certifications": ["cloud_architect"]},
        )
        app = await api(
            "POST",
            "/programme/applications",
            provider,
            201,
            json={"company": "ACME", "certifications": ["Software"]},
        )
        assert app["account_id"] == provider.account_id  # the token's subject
        refused = await api(
            "POST",
            f"/programme/applications/{app['application_id']}/review",
            provider,
            403,
            json={"approve": True},
        )
        assert refused["detail"]["rule"] == "operators_only"
        await api(
            "POST",
            f"/programme/applications/{app['application_id']}/review",
            operator,
            json={"approve": True},
        )
        profile = await api("GET", f"/providers/{provider}", provider)
        assert profile["status"] == "active"
        assert "product_basic_incentive" in profile["rights"]

        # product terms, customer association, offers within and beyond the authorized discount
        terms_in = {
            "share_ratio": "0.12",
            "authorized_discount": "0.15",
            "incentive_strategy": "basic 12 %",
            "product_discount": "0.30",
            "partner_discount": "0.20",
        }
        await api("PUT", f"/products/{product}/terms", merchant, json=terms_in)
        other_merchant = await infra.idp.user("merchant")
        taken = await api("PUT", f"/products/{product}/terms", other_merchant, 403, json=terms_in)
        assert taken["detail"]["rule"] == "product_of_another_merchant"
        terms = await api("GET", f"/products/{product}/terms", provider)
        assert terms["authorized_discount"] == "0.15"
        assert terms["share_ratio"] == "0.12"
        p = Parties(
            buyer_account_id=f.rid("buyer"),
            merchant_account_id=merchant.account_id,
            provider_id=provider.account_id,
        )
        await api(
            "PUT",
            f"/customers/{p.buyer_account_id}/association",
            operator,
            json={"reseller_id": provider.account_id},
        )
        offer_in = {
            "name": "自拓优惠",
            "customer_account_id": p.buyer_account_id,
            "product_ids": [product],
            **window(),
        }
        beyond = await api("POST", "/offers", provider, 201, json={**offer_in, "discount": "0.18"})
        assert beyond["status"] == "manual_handling"
        offer = await api("POST", "/offers", provider, 201, json={**offer_in, "discount": "0.10"})
        assert offer["status"] == "effective"
        await api(
            "POST",
            f"/providers/{provider}/private-links",
            provider,
            422,
            json={"offer_id": beyond["offer_id"]},
        )
        link = await api(
            "POST",
            f"/providers/{provider}/private-links",
            provider,
            201,
            json={
                "product_id": product,
                "customer_account_id": p.buyer_account_id,
                "offer_id": offer["offer_id"],
            },
        )
        claims = verify(link["token"], public)
        assert claims.provider_id == provider.account_id
        assert claims.discount == Decimal("0.10")

        # earning on acceptance (the customer's own reseller: sales incentive), then a refund reverses it
        paid = f.order_paid(p, amount="1288.00", ratio="0.12")
        other = f.order_paid(p, amount="100.00", ratio="0.12")
        for event in (paid, f.acceptance_done(p, paid.order_id), other, f.acceptance_done(p, other.order_id)):
            await publish(infra, namespace, event)
        live = await eventually(lambda: _ledger(api, provider, 2), what="two earnings")
        assert Decimal(live["total"]) == Decimal("166.56")
        assert {e["scenario"] for e in live["entries"]} == {"partner_sales_incentive"}
        intruder = await api("GET", f"/providers/{provider}/ledger", await infra.idp.user("provider"), 403)
        assert intruder["detail"]["rule"] == "parties_and_operators_only"
        assert (await api("GET", f"/providers/{provider}/ledger", operator))["total"] == live["total"]
        await publish(
            infra,
            namespace,
            RefundDecided(
                producer="tests",
                correlation_id="c",
                order_id=paid.order_id,
                payload=RefundDecidedPayload(
                    refund_id="R1",
                    order_id=paid.order_id,
                    approved=True,
                    amount=Decimal("1288.00"),
                    reason="r",
                    decided_by_role=PartyRole.MERCHANT,
                    parties=p,
                    decided_at=datetime.now(UTC),
                ),
            ),
        )
        live = await eventually(lambda: _ledger(api, provider, 3), what="the reversal")
        assert Decimal(live["total"]) == Decimal("12.00")

        # bills: the month's basic bill per tax rate, the quarter's performance bill, statement, invoice
        local = datetime.now(BEIJING)  # bills cover Beijing months
        month = local.strftime("%Y%m")
        quarter = f"{local.year}Q{(local.month - 1) // 3 + 1}"
        await api("POST", f"/providers/{provider}/bills", provider, 403, json={"month": month})
        bills = await api(
            "POST", f"/providers/{provider}/bills", operator, 201, json={"month": month, "quarter": quarter}
        )
        assert [(b["kind"], b["amount"]) for b in bills] == [("basic", "12.00"), ("performance", "0.60")]
        assert await api("POST", f"/providers/{provider}/bills", operator, 201, json={"month": month}) == []
        await api("POST", f"/providers/{provider}/bills", operator, 409, json={"quarter": quarter})  # once
        await api(
            "POST",
            f"/providers/{provider}/bills/{bills[0]['bill_id']}/invoice",
            provider,
            json={"invoice_no": "INV-1", "amount": "12.00"},
        )
        statement = await api("GET", f"/providers/{provider}/statement", provider)
        assert statement["billed_basic"] == "12.00"
        assert statement["unbilled"] == "0.00"
        assert [b["invoice"]["invoice_no"] for b in statement["bills"] if b["invoice"]] == ["INV-1"]


async def test_joint_selling_demand_is_answered_with_a_private_offer_and_won_by_the_order(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace)
    operator, provider, merchant, buyer = (
        await infra.idp.user("operator"),
        await infra.idp.user("provider"),
        await infra.idp.user("merchant"),
        await infra.idp.user("buyer"),
    )
    async with running(create_app(settings)) as client:
        api = Api(client)
        app = await api(
            "POST",
            "/programme/applications",
            provider,
            201,
            json={"company": "ACME", "certifications": ["si"]},
        )
        await api(
            "POST",
            f"/programme/applications/{app['application_id']}/review",
            operator,
            json={"approve": True},
        )
        p = Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id)
        demand = await api(
            "POST",
            "/demands",
            provider,
            201,
            json={
                "merchant_account_id": merchant.account_id,
                "customer_account_id": p.buyer_account_id,
                "product_id": "p-x",
            },
        )
        await api(
            "POST",
            f"/demands/{demand['demand_id']}/offer",
            await infra.idp.user("merchant"),
            403,
            json={
                "name": "private",
                "customer_account_id": p.buyer_account_id,
                "product_ids": ["p-x"],
                "discount": "0.1",
                **window(),
            },
        )
        answered = await api(
            "POST",
            f"/demands/{demand['demand_id']}/offer",
            merchant,
            json={
                "name": "private",
                "customer_account_id": p.buyer_account_id,
                "product_ids": ["p-x"],
                "discount": "0.1",
                **window(),
            },
        )
        assert answered["demand"]["status"] == "offered"
        assert answered["offer"]["status"] == "effective"
        paid = f.order_paid(p, amount="500.00", ratio="0.2")
        paid = paid.model_copy(
            update={
                "payload": paid.payload.model_copy(
                    update={
                        "offer_id": answered["offer"]["offer_id"],
                        "product": paid.payload.product.model_copy(update={"product_id": "p-x"}),
                    }
                )
            }
        )
        await publish(infra, namespace, paid)

        async def won() -> Any:
            d = await api("GET", f"/demands/{demand['demand_id']}", provider)
            return d if d["status"] == "won" else None

        closed = await eventually(won, what="demand won")
        assert closed["won_order_id"] == paid.order_id
        assert (await api("GET", f"/demands/{demand['demand_id']}", buyer))["status"] == "won"  # the customer


async def _ledger(api: Api, provider: User, n: int) -> dict[str, Any] | None:
    body: dict[str, Any] = await api("GET", f"/providers/{provider}/ledger", provider)
    return body if len(body["entries"]) == n else None


async def test_the_scheduled_run_bills_last_month_on_the_3rd_once(infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra, namespace)
    provider = await infra.idp.user("provider")
    app = create_app(settings)
    async with running(app) as client:
        api = Api(client)
        p = f.parties(provider.account_id)
        paid = f.order_paid(p, amount="250.00", ratio="0.2")
        for event in (paid, f.acceptance_done(p, paid.order_id)):
            await publish(infra, namespace, event)
        await eventually(lambda: _ledger(api, provider, 1), what="the earning")
        now = datetime.now(BEIJING)  # the earning's Beijing month; its bill run is the 3rd of the next
        third = datetime(now.year + now.month // 12, now.month % 12 + 1, 3, 1, tzinfo=BEIJING)

        runs = await app.state.bill_scheduler.run_once(third)
        again = await app.state.bill_scheduler.run_once(third)

        month = now.strftime("%Y%m")
        assert runs[0] == f"basic:{month}"
        assert again == []
        statement = await api("GET", f"/providers/{provider}/statement", provider)
        basic = [b for b in statement["bills"] if b["kind"] == "basic"]
        assert [(b["period"], b["amount"]) for b in basic] == [(month, "50.00")]
        assert statement["unbilled"] == "0.00"
