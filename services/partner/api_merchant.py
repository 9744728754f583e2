"""HTTP routes of the merchant calls: endpoint configuration, Kit triggers, the console and replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.partner import reads, sync
from services.partner.api import PathId, deps, queries
from services.partner.calls import MerchantCall, MerchantEndpoint
from services.partner.kit import BindIn, DepartmentIn, UsersIn
from shared.platform.auth import Buyer, Merchant, Party

router = APIRouter(tags=["merchant calls"])


class EndpointIn(BaseModel):
    production_url: str = Field(
        max_length=2048,
        pattern=r"^https?://",
        description="https; its host must resolve to public addresses only",
    )
    access_key: str = Field(min_length=8, max_length=256)
    public_key_pem: str = Field(min_length=1, max_length=16384)


@router.put("/merchants/{merchant_id}/endpoint")
async def configure(
    merchant_id: PathId, body: EndpointIn, caller: Merchant, request: Request
) -> dict[str, str]:
    """The merchant's own production address, access key and RSA public key (≥ 3072 bits)."""
    await sync.configure(
        deps(request), caller, MerchantEndpoint(merchant_id=merchant_id, **body.model_dump())
    )
    return {"merchant_id": merchant_id, "production_url": body.production_url}


@router.post("/orders/{order_id}/kit/bind", status_code=202)
async def bind(order_id: PathId, body: BindIn, caller: Buyer, request: Request) -> list[MerchantCall]:
    """The order's buyer binds the app to an enterprise: tenant, app and full department sync (§8.1)."""
    return await sync.bind(deps(request), caller, order_id, body)


@router.post("/orders/{order_id}/kit/users", status_code=202)
async def users(order_id: PathId, body: UsersIn, caller: Buyer, request: Request) -> list[MerchantCall]:
    """The order's buyer (its enterprise admin) authorizes users (sent in calls of at most 500, §8.1)."""
    return await sync.users(deps(request), caller, order_id, body)


@router.post("/orders/{order_id}/kit/departments", status_code=202)
async def department(
    order_id: PathId, body: DepartmentIn, caller: Buyer, request: Request
) -> list[MerchantCall]:
    """The order's buyer (its enterprise admin) creates, edits or deletes a department (incremental sync)."""
    return await sync.department(deps(request), caller, order_id, body)


@router.get("/merchants/{merchant_id}/console")
async def merchant_console(merchant_id: PathId, caller: Merchant, request: Request) -> dict[str, Any]:
    """Each endpoint's recent calls, classified failures and success rate (that merchant only)."""
    return await reads.console(queries(request), caller, merchant_id)


@router.post("/merchant-calls/{call_id}/replay", status_code=202)
async def replay(call_id: PathId, caller: Party, request: Request) -> MerchantCall:
    """Replay a failed call once: the merchant's "restart", the buyer / admin choosing to retry, or an
    operator."""
    return await sync.replay(deps(request), caller, call_id)
