"""Token verification and the HTTP shape of refusals: 401 with a Bearer challenge, 403 naming the rule."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI

from shared.platform.audit import MemoryAuditLog
from shared.platform.auth import Caller, Operator, Principal, Unauthorized, principal_from
from shared.platform.http import install_security
from shared.schemas import AccountRole
from tests import tokens

AUD = "koo-orders"


def _app(audit: MemoryAuditLog | None = None) -> FastAPI:
    router = APIRouter()

    @router.get("/me")
    async def me(caller: Caller) -> dict[str, object]:
        return {"account_id": caller.account_id, "role": caller.role}

    @router.post("/reviews/{product_id}")
    async def review(product_id: str, caller: Operator) -> dict[str, str]:
        return {"product_id": product_id, "by": caller.account_id}

    app = FastAPI()
    app.include_router(router)
    install_security(app, tokens.verifier(AUD), audit or MemoryAuditLog())
    return app


@pytest.fixture
async def http() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://svc")


async def test_a_valid_token_names_the_caller_and_its_role(http: httpx.AsyncClient) -> None:
    resp = await http.get("/me", headers=tokens.bearer("acc-1", "buyer", audience=AUD))
    assert resp.status_code == 200
    assert resp.json() == {"account_id": "acc-1", "role": "buyer"}


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "a bearer token is required"),
        ({"X-Account-Id": "acc-1"}, "a bearer token is required"),
        ({"Authorization": "Basic YTpi"}, "a bearer token is required"),
        ({"Authorization": "Bearer not-a-jwt"}, "malformed token"),
    ],
)
async def test_no_or_malformed_credentials_get_401_with_a_bearer_challenge(
    http: httpx.AsyncClient, headers: dict[str, str], why: str
) -> None:
    resp = await http.get("/me", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="koogallery", error="invalid_token"')
    assert why in resp.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"expires_in": -120}, "expired"),
        ({"audience": "koo-partner"}, "not meant for this service"),
        ({"issuer": "https://evil.test/realms/koogallery"}, "not issued by the configured"),
        ({"kid": "someone-elses-key"}, "signing key is unknown"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ],
)
async def test_expired_foreign_or_unknown_tokens_get_401(
    http: httpx.AsyncClient, claims: dict[str, object], why: str
) -> None:
    token = tokens.token("acc-1", "buyer", **{"audience": AUD, **claims})  # type: ignore[arg-type]
    resp = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
    assert why in resp.json()["detail"]["message"]


async def test_an_hmac_token_keyed_with_anything_is_refused_by_the_allow_list(
    http: httpx.AsyncClient,
) -> None:
    forged = jwt.encode(
        {
            "iss": tokens.ISSUER,
            "aud": AUD,
            "sub": "x",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "realm_access": {"roles": ["operator"]},
        },
        "a-shared-secret-of-at-least-32-bytes!",
        algorithm="HS256",
        headers={"kid": tokens.KID},
    )
    resp = await http.get("/me", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    assert "HS256" in resp.json()["detail"]["message"]


async def test_a_valid_token_without_the_role_gets_403_naming_the_rule(http: httpx.AsyncClient) -> None:
    resp = await http.post("/reviews/p-1", headers=tokens.bearer("acc-1", "merchant", audience=AUD))
    assert resp.status_code == 403
    assert resp.json()["detail"]["rule"] == "operators_only"


async def test_an_account_holding_two_marketplace_roles_is_refused() -> None:
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        resp = await http.post(
            "/reviews/p-1", headers=tokens.bearer("acc-1", "operator", "buyer", audience=AUD)
        )
    assert resp.status_code == 403
    assert resp.json()["detail"]["rule"] == "one_marketplace_role"


async def test_every_operator_request_is_audited_with_its_outcome() -> None:
    audit = MemoryAuditLog("orders")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(audit)), base_url="http://svc"
    ) as http:
        ok = await http.post("/reviews/p-9", headers=tokens.bearer("op-1", "operator", audience=AUD))
        await http.post("/reviews/p-9", headers=tokens.bearer("m-1", "merchant", audience=AUD))
        listed = await http.get("/operator/audit", headers=tokens.bearer("op-1", "operator", audience=AUD))
        refused = await http.get("/operator/audit", headers=tokens.bearer("m-1", "merchant", audience=AUD))
    assert ok.status_code == 200
    assert refused.status_code == 403
    rows = listed.json()
    review = next(r for r in rows if r["action"] == "POST /reviews/{product_id}")
    assert review["actor_account_id"] == "op-1"
    assert review["resource"] == {"product_id": "p-9"}
    assert (review["outcome"], review["status"]) == ("allowed", 200)
    assert all(
        r["actor_account_id"] == "op-1" for r in rows
    )  # the merchant's refused call is no operator action


def test_roles_come_from_the_configured_claim_and_a_subject_is_required() -> None:
    p = principal_from({"sub": "a", "realm_access": {"roles": ["merchant", "offline_access"]}})
    assert p == Principal(account_id="a", roles=frozenset({"merchant", "offline_access"}))
    assert p.role is AccountRole.MERCHANT
    assert principal_from({"sub": "a", "roles": ["operator"]}, roles_claim="roles").is_operator
    with pytest.raises(Unauthorized):
        principal_from({"realm_access": {"roles": ["operator"]}})
