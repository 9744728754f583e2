"""partner's HTTP rules (issue 9) on its real routes, with in-memory fakes and test-signed tokens: who may call
each route (401 without a token, 403 naming the rule), the party rules, and validation at the edge (422 naming the
field, never a 500)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.partner import api, api_bills, api_merchant
from services.partner.calls import Attempt, MerchantCall, MerchantEndpoint, Sale
from services.partner.deps import Deps
from services.partner.domain import LedgerEntry
from services.partner.programme import Provider
from services.partner.queries import PartnerQueries
from services.partner.settings import PartnerSettings
from services.partner.store import fake_uow
from shared.platform.audit import MemoryAuditLog
from shared.platform.fakes import FakeState
from shared.platform.http import install_security
from shared.platform.mongo import UnitOfWorkFactory
from shared.schemas.links import new_keypair
from shared.workdays import BEIJING
from tests import tokens
from tests.factories import rid
from tests.integration.test_partner_receiver import rsa_pair
from tests.service.rig import FAST

AUD = "koo-partner"
NOW = datetime.now(UTC)
PUBLIC_NAMES = {"isv.example": ["93.184.216.34"], "loopback.example": ["127.0.0.1"]}


@cache
def merchant_key() -> str:
    return rsa_pair()[1]


async def names(host: str, port: int) -> list[str]:
    if host not in PUBLIC_NAMES:
        raise OSError(f"{host} does not resolve")
    return PUBLIC_NAMES[host]


class Partner:
    """The partner routes on fakes, and the people calling them."""

    def __init__(self) -> None:
        self.state = FakeState()
        settings = PartnerSettings(**FAST, private_link_private_key=new_keypair()[0])
        uow = UnitOfWorkFactory(fake_uow(self.state))
        self.app = FastAPI()
        for router in (api.router, api_bills.router, api_merchant.router):
            self.app.include_router(router)
        self.app.state.deps = Deps(uow, settings, lambda: NOW, resolver=names)
        self.app.state.queries = PartnerQueries(self.state.collections())
        install_security(self.app, tokens.verifier(AUD), MemoryAuditLog("partner"))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://partner")

    async def call(self, method: str, path: str, who: tuple[str, str] | None, expect: int, **kw: Any) -> Any:
        headers = tokens.bearer(who[0], who[1], audience=AUD) if who else {}
        resp = await self.http.request(method, path, headers=headers, **kw)
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()

    async def refused(self, method: str, path: str, who: tuple[str, str], rule: str, **kw: Any) -> None:
        body = await self.call(method, path, who, 403, **kw)
        assert body["detail"]["rule"] == rule, body

    async def invalid(self, method: str, path: str, who: tuple[str, str], field: str, **kw: Any) -> None:
        body = await self.call(method, path, who, 422, **kw)
        detail = body["detail"]
        named = [e["loc"][-1] for e in detail] if isinstance(detail, list) else [detail.get("field")]
        assert field in named, body

    def provider(self, status: str = "active") -> tuple[str, str]:
        pid = rid("prov")
        self.state.table("providers")[pid] = Provider(
            provider_id=pid, company="ACME", status=status, joined_at=NOW
        ).model_dump()
        return pid, "provider"

    def terms(self, product: str, merchant: str, authorized: str = "0.15") -> None:
        self.state.table("product_terms")[product] = {
            "product_id": product,
            "merchant_id": merchant,
            "share_ratio": "0.1",
            "authorized_discount": authorized,
            "version": 0,
        }

    def sale(self, buyer: str, merchant: str) -> str:
        order_id = rid("CS")
        self.state.table("sales")[order_id] = Sale(
            order_id=order_id,
            buyer_id=buyer,
            merchant_id=merchant,
            product_id="p-crm",
            delivery_type="saas_instant",
            sale_mode="joint_operation",
        ).model_dump()
        self.state.table("merchant_endpoints")[merchant] = MerchantEndpoint(
            merchant_id=merchant,
            production_url="https://isv.example",
            access_key="merchant-ak-0001",
            public_key_pem=merchant_key(),
        ).model_dump()
        return order_id


def person(role: str) -> tuple[str, str]:
    return rid(role), role


@pytest.fixture
def partner() -> Partner:
    return Partner()


def window() -> dict[str, str]:
    return {
        "valid_from": (NOW - timedelta(hours=1)).isoformat(),
        "valid_until": (NOW + timedelta(days=30)).isoformat(),
    }


# --- authentication -----------------------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    paths = Partner().app.openapi()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


@pytest.mark.parametrize(("method", "path"), _routes())
async def test_every_route_refuses_a_caller_without_a_token(partner: Partner, method: str, path: str) -> None:
    url = path.replace("{", "").replace("}", "")  # any value: the token is checked first
    resp = await partner.http.request(method, url, headers={"X-Account-Id": "someone"}, json={})
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_payment_systems_token_is_no_marketplace_account(partner: Partner) -> None:
    await partner.refused(
        "GET", "/demands/DM-1", ("koo-payment", "payment-system"), "marketplace_accounts_only"
    )


# --- the programme (§7.2) ------------------------------------------------------------------------------


async def test_a_partner_account_applies_and_only_an_operator_approves_it(partner: Partner) -> None:
    prov, operator = person("provider"), person("operator")
    await partner.refused(
        "POST",
        "/programme/applications",
        person("buyer"),
        "providers_only",
        json={"company": "ACME", "certifications": ["Software"]},
    )
    app = await partner.call(
        "POST", "/programme/applications", prov, 201, json={"company": "ACME", "certifications": ["Software"]}
    )
    assert app["account_id"] == prov[0]  # from the token, not the body
    review = f"/programme/applications/{app['application_id']}/review"
    await partner.refused("POST", review, prov, "operators_only", json={"approve": True})
    await partner.call(
        "POST",
        "/offers",
        prov,
        403,
        json={  # applied, not approved: it does not sell yet
            "name": "n",
            "customer_account_id": "c",
            "product_ids": ["p"],
            "discount": "0.1",
            **window(),
        },
    )
    reviewed = await partner.call("POST", review, operator, 200, json={"approve": True})
    assert reviewed["reviewed_by"] == operator[0]

    profile = await partner.call("GET", f"/providers/{prov[0]}", prov, 200)
    assert profile["status"] == "active"
    assert (await partner.call("GET", f"/providers/{prov[0]}", operator, 200))["company"] == "ACME"
    await partner.refused("GET", f"/providers/{prov[0]}", partner.provider(), "parties_and_operators_only")
    await partner.refused("GET", f"/providers/{prov[0]}", person("merchant"), "providers_and_operators_only")


async def test_an_account_that_applies_again_is_approved_again(partner: Partner) -> None:
    prov, operator = person("provider"), person("operator")
    for company in ("ACME", "ACME Cloud", "ACME Cloud Services"):
        app = await partner.call(
            "POST", "/programme/applications", prov, 201, json={"company": company, "certifications": ["SI"]}
        )
        review = f"/programme/applications/{app['application_id']}/review"
        await partner.call("POST", review, operator, 200, json={"approve": True})

    profile = await partner.call("GET", f"/providers/{prov[0]}", prov, 200)
    assert (profile["status"], profile["company"]) == ("active", "ACME Cloud Services")


async def test_a_provider_not_approved_makes_no_offer_link_or_demand(partner: Partner) -> None:
    pending = partner.provider(status="pending")
    partner.terms("p1", rid("merchant"))
    offer = {"name": "n", "customer_account_id": "c", "product_ids": ["p1"], "discount": "0.1", **window()}
    await partner.refused("POST", "/offers", pending, "approved_providers_only", json=offer)
    await partner.refused(
        "POST", f"/providers/{pending[0]}/private-links", pending, "approved_providers_only", json={}
    )
    await partner.refused(
        "POST",
        "/demands",
        pending,
        "approved_providers_only",
        json={"merchant_account_id": "m", "customer_account_id": "c", "product_id": "p1"},
    )
    await partner.refused("POST", "/offers", person("buyer"), "providers_and_merchants_only", json=offer)


async def test_a_provider_sells_for_itself_only(partner: Partner) -> None:
    mine, other = partner.provider(), partner.provider()
    await partner.refused("POST", f"/providers/{other[0]}/private-links", mine, "parties_only", json={})
    link = await partner.call(
        "POST", f"/providers/{mine[0]}/private-links", mine, 201, json={"product_id": "p1"}
    )
    assert link["claims"]["provider_id"] == mine[0]
    partner.terms("p1", rid("merchant"))
    made = await partner.call(
        "POST",
        "/offers",
        mine,
        201,
        json={"name": "n", "customer_account_id": "c", "product_ids": ["p1"], "discount": "0.1", **window()},
    )
    assert (made["issuer_id"], made["provider_id"], made["status"]) == (mine[0], mine[0], "effective")


async def test_customer_association_is_for_operators(partner: Partner) -> None:
    await partner.refused(
        "PUT", "/customers/c1/association", partner.provider(), "operators_only", json={"reseller_id": "r"}
    )
    done = await partner.call(
        "PUT", "/customers/c1/association", person("operator"), 200, json={"reseller_id": "r"}
    )
    assert done["reseller_id"] == "r"


# --- product terms ---------------------------------------------------------------------------------------


async def test_the_first_merchant_owns_a_products_terms_and_the_parties_read_them(partner: Partner) -> None:
    owner, intruder = person("merchant"), person("merchant")
    terms = {"share_ratio": "0.12", "authorized_discount": "0.15"}
    await partner.refused("PUT", "/products/p1/terms", partner.provider(), "merchants_only", json=terms)
    saved = await partner.call("PUT", "/products/p1/terms", owner, 200, json=terms)
    assert saved["merchant_id"] == owner[0]
    await partner.refused(
        "PUT",
        "/products/p1/terms",
        intruder,
        "product_of_another_merchant",
        json={**terms, "authorized_discount": "0.9"},
    )
    await partner.call("PUT", "/products/p1/terms", owner, 200, json={**terms, "share_ratio": "0.2"})

    assert (await partner.call("GET", "/products/p1/terms", partner.provider(), 200))["share_ratio"] == "0.2"
    await partner.call("GET", "/products/p1/terms", owner, 200)
    await partner.call("GET", "/products/p1/terms", person("operator"), 200)
    await partner.refused("GET", "/products/p1/terms", intruder, "terms_readers_only")
    await partner.refused("GET", "/products/p1/terms", person("buyer"), "terms_readers_only")
    await partner.refused("GET", "/products/p1/terms", partner.provider("pending"), "approved_providers_only")
    await partner.call("GET", "/products/p1/terms", None, 401)


async def test_a_merchant_makes_offers_on_its_own_products_only(partner: Partner) -> None:
    owner, other = person("merchant"), person("merchant")
    partner.terms("p1", owner[0])
    offer = {"name": "n", "customer_account_id": "c", "product_ids": ["p1"], "discount": "0.1", **window()}
    await partner.refused("POST", "/offers", other, "product_of_another_merchant", json=offer)
    made = await partner.call("POST", "/offers", owner, 201, json=offer)
    assert made["provider_id"] is None
    await partner.call("GET", f"/offers/{made['offer_id']}", owner, 200)
    await partner.call("GET", f"/offers/{made['offer_id']}", ("c", "buyer"), 200)
    await partner.refused("GET", f"/offers/{made['offer_id']}", person("buyer"), "parties_and_operators_only")
    await partner.refused("GET", f"/offers/{made['offer_id']}", other, "parties_and_operators_only")


# --- discounts and bounds at the edge --------------------------------------------------------------------

BAD_DISCOUNTS = ["0", "1", "-0.1", "1.5", 2, "abc", "NaN", "Infinity", "1e999999", "0.1234567890123"]


@pytest.mark.parametrize("discount", BAD_DISCOUNTS)
async def test_an_offer_with_a_discount_outside_0_1_is_a_422_naming_discount(
    partner: Partner, discount: object
) -> None:
    prov = partner.provider()
    partner.terms("p1", rid("merchant"))
    await partner.invalid(
        "POST",
        "/offers",
        prov,
        "discount",
        json={
            "name": "n",
            "customer_account_id": "c",
            "product_ids": ["p1"],
            "discount": discount,
            **window(),
        },
    )


@pytest.mark.parametrize("discount", BAD_DISCOUNTS)
async def test_a_demand_answer_with_a_discount_outside_0_1_is_a_422_naming_discount(
    partner: Partner, discount: object
) -> None:
    await partner.invalid(
        "POST",
        "/demands/DM-1/offer",
        person("merchant"),
        "discount",
        json={
            "name": "n",
            "customer_account_id": "c",
            "product_ids": ["p1"],
            "discount": discount,
            **window(),
        },
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from"),  # no time zone
        ({"product_ids": []}, "product_ids"),
        ({"name": "x" * 256}, "name"),
        ({"customer_account_id": ""}, "customer_account_id"),
    ],
)
async def test_other_offer_fields_are_bounded(partner: Partner, body: dict[str, Any], field: str) -> None:
    offer = {
        "name": "n",
        "customer_account_id": "c",
        "product_ids": ["p1"],
        "discount": "0.1",
        **window(),
        **body,
    }
    await partner.invalid("POST", "/offers", partner.provider(), field, json=offer)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"authorized_discount": "1"}, "authorized_discount"),
        ({"share_ratio": "1.01"}, "share_ratio"),
        ({"vat_rate": "1"}, "vat_rate"),
        ({"floor_price": "-1"}, "floor_price"),
        ({"incentive_strategy": "x" * 501}, "incentive_strategy"),
    ],
)
async def test_terms_are_bounded_at_the_edge(partner: Partner, body: dict[str, Any], field: str) -> None:
    await partner.invalid(
        "PUT", "/products/p1/terms", person("merchant"), field, json={"share_ratio": "0.1", **body}
    )


async def test_path_parameters_and_bill_periods_are_bounded(partner: Partner) -> None:
    operator = person("operator")
    await partner.invalid("GET", f"/providers/{'x' * 129}/ledger", operator, "provider_id")
    await partner.invalid("POST", "/providers/p/bills", operator, "month", json={"month": "2026-11"})
    await partner.invalid("POST", "/providers/p/bills", operator, "quarter", json={"quarter": "2026Q5"})
    await partner.invalid("POST", "/providers/p/bills", operator, "quarter", json={"quarter": "0000Q1"})


# --- ledger, statement, bills, invoices (§7.6) -----------------------------------------------------------


async def test_a_providers_money_is_its_own_and_operators_run_its_bills(partner: Partner) -> None:
    prov, other, operator = partner.provider(), partner.provider(), person("operator")
    entry = LedgerEntry(
        entry_id="commission:CS1",
        provider_id=prov[0],
        order_id="CS1",
        kind="commission",
        base=Decimal("100.00"),
        ratio=Decimal("0.1"),
        amount=Decimal("10.00"),
        currency="CNY",
        at=NOW,
    )
    partner.state.table("ledger")[entry.entry_id] = entry.model_dump()
    ledger = f"/providers/{prov[0]}/ledger"
    assert (await partner.call("GET", ledger, prov, 200))["total"] == "10.00"
    assert (await partner.call("GET", ledger, operator, 200))["total"] == "10.00"
    await partner.refused("GET", ledger, other, "parties_and_operators_only")
    await partner.refused("GET", ledger, person("merchant"), "providers_and_operators_only")
    await partner.refused("GET", f"/providers/{prov[0]}/statement", other, "parties_and_operators_only")

    month = NOW.astimezone(BEIJING).strftime("%Y%m")  # bills cover Beijing months
    await partner.refused(
        "POST", f"/providers/{prov[0]}/bills", prov, "operators_only", json={"month": month}
    )
    [bill] = await partner.call("POST", f"/providers/{prov[0]}/bills", operator, 201, json={"month": month})
    invoice = f"/providers/{prov[0]}/bills/{bill['bill_id']}/invoice"
    await partner.refused(
        "POST", invoice, other, "parties_only", json={"invoice_no": "I1", "amount": "10.00"}
    )
    await partner.refused(
        "POST", invoice, operator, "providers_only", json={"invoice_no": "I1", "amount": "10.00"}
    )
    await partner.call(
        "POST",
        f"/providers/{other[0]}/bills/{bill['bill_id']}/invoice",
        other,
        404,
        json={"invoice_no": "I1", "amount": "10.00"},
    )  # not a bill of that provider
    await partner.call("POST", invoice, prov, 200, json={"invoice_no": "I1", "amount": "10.00"})
    statement = await partner.call("GET", f"/providers/{prov[0]}/statement", operator, 200)
    assert statement["billed_basic"] == "10.00"


# --- joint selling (§7.5) ---------------------------------------------------------------------------------


async def test_a_demand_is_answered_by_its_merchant_and_read_by_its_parties(partner: Partner) -> None:
    prov, merchant, customer = partner.provider(), person("merchant"), person("buyer")
    demand = await partner.call(
        "POST",
        "/demands",
        prov,
        201,
        json={"merchant_account_id": merchant[0], "customer_account_id": customer[0], "product_id": "p1"},
    )
    path = f"/demands/{demand['demand_id']}"
    offer = {
        "name": "private",
        "customer_account_id": customer[0],
        "product_ids": ["p1"],
        "discount": "0.1",
        **window(),
    }
    await partner.refused("POST", f"{path}/offer", person("merchant"), "parties_only", json=offer)
    await partner.refused("POST", f"{path}/offer", prov, "merchants_only", json=offer)
    answered = await partner.call("POST", f"{path}/offer", merchant, 200, json=offer)
    assert answered["offer"]["provider_id"] == prov[0]
    for reader in (prov, merchant, customer, person("operator")):
        assert (await partner.call("GET", path, reader, 200))["status"] == "offered"
    await partner.refused("GET", path, partner.provider(), "parties_and_operators_only")
    await partner.refused("GET", path, person("buyer"), "parties_and_operators_only")


# --- merchant endpoints (SSRF) and the Kit ------------------------------------------------------------------


def endpoint(url: str = "https://isv.example/api") -> dict[str, str]:
    return {"production_url": url, "access_key": "merchant-ak-0001", "public_key_pem": merchant_key()}


async def test_a_merchant_configures_its_own_endpoint_only(partner: Partner) -> None:
    merchant = person("merchant")
    await partner.refused(
        "PUT", f"/merchants/{merchant[0]}/endpoint", person("merchant"), "parties_only", json=endpoint()
    )
    await partner.refused(
        "PUT", f"/merchants/{merchant[0]}/endpoint", person("buyer"), "merchants_only", json=endpoint()
    )
    await partner.call("PUT", f"/merchants/{merchant[0]}/endpoint", merchant, 200, json=endpoint())
    saved = partner.state.tables["merchant_endpoints"][merchant[0]]
    assert saved["production_url"] == "https://isv.example/api"


@pytest.mark.parametrize(
    "url",
    [
        "http://isv.example/api",
        "https://127.0.0.1/api",
        "https://10.1.2.3/api",
        "https://169.254.169.254/latest/meta-data/",
        "https://loopback.example/api",
        "https://[::1]/api",
        "https://nowhere.example/api",
    ],
)
async def test_an_endpoint_that_is_not_public_https_is_refused_naming_production_url(
    partner: Partner, url: str
) -> None:
    merchant = person("merchant")
    await partner.invalid(
        "PUT", f"/merchants/{merchant[0]}/endpoint", merchant, "production_url", json=endpoint(url)
    )
    assert merchant[0] not in partner.state.tables.get("merchant_endpoints", {})


BIND = {
    "tenant": {"tenantId": "t1", "tenantCode": "acme", "name": "ACME", "domainName": "acme.example"},
    "app": {"appId": "a1", "clientId": "c1", "clientSecret": "s3cret"},
    "orgs": [{"orgCode": "o1", "orgName": "HQ"}],
}


async def test_only_the_buyer_of_the_order_binds_the_kit(partner: Partner) -> None:
    buyer, merchant = person("buyer"), person("merchant")
    order_id = partner.sale(buyer[0], merchant[0])
    await partner.refused("POST", f"/orders/{order_id}/kit/bind", person("buyer"), "parties_only", json=BIND)
    await partner.refused("POST", f"/orders/{order_id}/kit/bind", merchant, "buyers_only", json=BIND)
    await partner.refused(
        "POST",
        f"/orders/{order_id}/kit/users",
        person("buyer"),
        "parties_only",
        json={"tenant_id": "t1", "app_id": "a1", "users": []},
    )
    await partner.refused(
        "POST",
        f"/orders/{order_id}/kit/departments",
        person("buyer"),
        "parties_only",
        json={"tenant_id": "t1", "org": {"orgCode": "o1", "orgName": "HQ"}},
    )
    calls = await partner.call("POST", f"/orders/{order_id}/kit/bind", buyer, 202, json=BIND)
    assert [c["endpoint"] for c in calls] == ["tenantSync", "applicationSync", "allOrgSync"]
    assert "s3cret" not in str(calls)
    assert calls[0]["body"]["tenantCode"] == "acme"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("bind", {**BIND, "tenant": {**BIND["tenant"], "tenantId": "x" * 65}}, "tenantId"),
        ("bind", {**BIND, "tenant": {"tenantId": "t1"}}, "tenantCode"),
        ("bind", {**BIND, "app": {**BIND["app"], "clientSecret": "x" * 257}}, "clientSecret"),
        ("bind", {**BIND, "orgs": [{"orgCode": "o1"}]}, "orgName"),
        ("bind", {**BIND, "tenant": {**BIND["tenant"], "extra": 1}}, "extra"),
        (
            "users",
            {
                "tenant_id": "t1",
                "app_id": "a1",
                "users": [{"userName": "u", "name": "U", "orgCode": "o1", "role": "root", "enable": "true"}],
            },
            "role",
        ),
        ("users", {"tenant_id": "t1", "app_id": "a1", "users": [], "flag": 4}, "flag"),
        ("departments", {"tenant_id": "t1", "org": {"orgCode": "o1", "orgName": "x" * 129}}, "orgName"),
    ],
)
async def test_kit_bodies_carry_the_dossiers_fields_with_bounds(
    partner: Partner, path: str, body: dict[str, Any], field: str
) -> None:
    buyer = person("buyer")
    order_id = partner.sale(buyer[0], rid("merchant"))
    await partner.invalid("POST", f"/orders/{order_id}/kit/{path}", buyer, field, json=body)


async def test_the_console_is_the_merchants_own_and_shows_classified_errors(partner: Partner) -> None:
    buyer, merchant = person("buyer"), person("merchant")
    call = MerchantCall(
        call_id="tenantSync:1",
        merchant_id=merchant[0],
        endpoint="tenantSync",
        kind="kit",
        path="/produceAPI/v2/tenantSync",
        body={},
        order_id="CS1",
        buyer_id=buyer[0],
        policy="manual",
        status="failed",
        created_at=NOW,
        attempts=[Attempt(at=NOW, ok=False, error="tls_error", detail="the TLS handshake failed")],
    )
    partner.state.table("merchant_calls")[call.call_id] = call.model_dump()
    await partner.refused("GET", f"/merchants/{merchant[0]}/console", person("merchant"), "parties_only")
    await partner.refused("GET", f"/merchants/{merchant[0]}/console", person("operator"), "merchants_only")
    console = await partner.call("GET", f"/merchants/{merchant[0]}/console", merchant, 200)
    [attempt] = console["endpoints"]["tenantSync"]["recent"][0]["attempts"]
    assert (attempt["error"], attempt["detail"]) == ("tls_error", "the TLS handshake failed")


@pytest.mark.parametrize("replayer", ["merchant", "buyer", "operator"])
async def test_a_failed_call_is_replayed_by_its_merchant_its_buyer_or_an_operator(
    partner: Partner, replayer: str
) -> None:
    buyer, merchant = person("buyer"), person("merchant")
    call = MerchantCall(
        call_id="tenantSync:1",
        merchant_id=merchant[0],
        endpoint="tenantSync",
        kind="kit",
        path="/produceAPI/v2/tenantSync",
        body={},
        order_id="CS1",
        buyer_id=buyer[0],
        policy="manual",
        status="failed",
        created_at=NOW,
    )
    partner.state.table("merchant_calls")[call.call_id] = call.model_dump()
    await partner.refused(
        "POST", "/merchant-calls/tenantSync:1/replay", person("buyer"), "parties_and_operators_only"
    )
    await partner.refused(
        "POST", "/merchant-calls/tenantSync:1/replay", person("merchant"), "parties_and_operators_only"
    )
    who = {"merchant": merchant, "buyer": buyer, "operator": person("operator")}[replayer]
    replayed = await partner.call("POST", "/merchant-calls/tenantSync:1/replay", who, 202)
    assert (replayed["status"], replayed["replays"]) == ("pending", 1)


async def test_an_offer_in_manual_handling_is_approved_rejected_or_withdrawn(partner: Partner) -> None:
    """Dossier §7.5: above the authorized discount an offer goes to manual handling; an operator's special
    approval makes it take effect, or the operator rejects it; its issuer may withdraw it while it waits; an
    effective offer is view-only."""
    mine, other, operator = partner.provider(), partner.provider(), person("operator")
    partner.terms("p1", rid("merchant"), authorized="0.10")
    offer = {"name": "n", "customer_account_id": "c", "product_ids": ["p1"], "discount": "0.2", **window()}

    async def waiting() -> str:
        made = await partner.call("POST", "/offers", mine, 201, json=offer)
        assert made["status"] == "manual_handling"
        return str(made["offer_id"])

    approved = await waiting()
    await partner.refused("POST", f"/offers/{approved}/approve", mine, "operators_only")
    done = await partner.call("POST", f"/offers/{approved}/approve", operator, 200, json={"note": "CRM ok"})
    assert (done["status"], done["decided_by"], done["decision_note"]) == ("effective", operator[0], "CRM ok")
    again = await partner.call("POST", f"/offers/{approved}/reject", operator, 409, json={"note": "late"})
    assert again["detail"]["rule"] == "offer_not_in_manual_handling"
    view_only = await partner.call("POST", f"/offers/{approved}/withdraw", mine, 409)
    assert view_only["detail"]["rule"] == "offer_not_in_manual_handling"

    rejected = await waiting()
    no_reason = await partner.call("POST", f"/offers/{rejected}/reject", operator, 422, json={"note": ""})
    assert no_reason["detail"][0]["loc"][-1] == "note"
    done = await partner.call("POST", f"/offers/{rejected}/reject", operator, 200, json={"note": "too deep"})
    assert (done["status"], done["decision_note"]) == ("rejected", "too deep")

    withdrawn = await waiting()
    await partner.refused("POST", f"/offers/{withdrawn}/withdraw", other, "issuer_only")
    await partner.refused(
        "POST", f"/offers/{withdrawn}/withdraw", person("buyer"), "providers_and_merchants_only"
    )
    done = await partner.call("POST", f"/offers/{withdrawn}/withdraw", mine, 200)
    assert (done["status"], done["decided_by"]) == ("withdrawn", mine[0])
    assert (await partner.call("GET", f"/offers/{withdrawn}", mine, 200))["status"] == "withdrawn"
    await partner.call("POST", "/offers/OF-none/approve", operator, 404)
