"""HTTP routes of the merchant calls: endpoint configuration, Kit triggers, the console and replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.partner.calls import MerchantCall, MerchantEndpoint
from services.partner.sync import MerchantSync, console
from shared.platform.errors import Forbidden
from shared.platform.http import AccountId

router = APIRouter(tags=["merchant calls"])


def _sync(request: Request) -> MerchantSync:
    sync: MerchantSync = request.app.state.sync
    return sync


class EndpointIn(BaseModel):
    production_url: str = Field(pattern=r"^https?://")
    access_key: str = Field(min_length=8)
    public_key_pem: str


@router.put("/merchants/{merchant_id}/endpoint")
async def configure(merchant_id: str, body: EndpointIn, caller: AccountId, request: Request) -> dict[str, str]:
    """The merchant's production address, access key and RSA public key (≥ 3072 bits)."""
    await _sync(request).configure(caller, MerchantEndpoint(merchant_id=merchant_id, **body.model_dump()))
    return {"merchant_id": merchant_id, "production_url": body.production_url}


class BindIn(BaseModel):
    tenant: dict[str, Any]  # tenantId, tenantCode, name, domainName
    app: dict[str, Any]  # appId, clientId, clientSecret (plain; encrypted before it leaves)
    orgs: list[dict[str, Any]] = Field(default_factory=list)


@router.post("/orders/{order_id}/kit/bind", status_code=202)
async def bind(order_id: str, body: BindIn, caller: AccountId, request: Request) -> list[MerchantCall]:
    """The buyer binds the app to an enterprise: tenant, app and full department sync."""
    return await _sync(request).bind(caller, order_id, body.tenant, body.app, body.orgs)


class UsersIn(BaseModel):
    tenant_id: str
    app_id: str
    users: list[dict[str, Any]]
    flag: int = Field(1, ge=0, le=3)


@router.post("/orders/{order_id}/kit/users", status_code=202)
async def users(order_id: str, body: UsersIn, caller: AccountId, request: Request) -> list[MerchantCall]:
    """The enterprise admin authorizes users (sent in calls of at most 500)."""
    return await _sync(request).users(caller, order_id, body.tenant_id, body.app_id, body.users, body.flag)


class DepartmentIn(BaseModel):
    tenant_id: str
    org: dict[str, Any]  # orgCode, orgName, parentCode
    flag: int = Field(1, ge=0, le=2)


@router.post("/orders/{order_id}/kit/departments", status_code=202)
async def department(order_id: str, body: DepartmentIn, caller: AccountId, request: Request) -> list[MerchantCall]:
    """The enterprise admin creates, edits or deletes a department (incremental sync)."""
    return await _sync(request).department(caller, order_id, body.tenant_id, body.org, body.flag)


@router.get("/merchants/{merchant_id}/console")
async def merchant_console(merchant_id: str, caller: AccountId, request: Request) -> dict[str, Any]:
    """Each endpoint's recent calls, failures and success rate."""
    if caller != merchant_id:
        raise Forbidden("a merchant's console is visible to that merchant only")
    return await console(request.app.state.runtime.db, merchant_id)


@router.post("/merchant-calls/{call_id}/replay", status_code=202)
async def replay(call_id: str, caller: AccountId, request: Request) -> MerchantCall:
    """Replay a failed call once (the merchant's "restart", or the buyer / admin choosing to retry)."""
    return await _sync(request).replay(caller, call_id)
