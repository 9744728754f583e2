"""HTTP routes of License products (dossier §2.2): the buyer's codes and identifier (bearer token), and
the open API the merchant's software calls (signed with the merchant's access key, no token;
license_open.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from services.partner import license_cases, license_open, signing
from services.partner.api import PathId, deps, queries
from services.partner.license import GRACE_DAYS, LicenseCode, LicenseError, LicenseOrder
from shared.platform.auth import Buyer, require_party
from shared.platform.errors import DomainError, InvalidInput, NotFound

router = APIRouter(tags=["licenses"])
Text = Annotated[str, Field(max_length=256)]
Info = Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)], Text], Field(max_length=20)]


# --- the buyer --------------------------------------------------------------------------------------------
class CodeOut(BaseModel):
    code: str
    seq: int
    status: str
    activated_at: AwareDatetime | None
    device_id: str | None
    valid_until: AwareDatetime | None
    releases_at: AwareDatetime | None
    last_seen_at: AwareDatetime | None


class LicensesOut(BaseModel):
    order_id: str
    kind: Literal["code", "identifier"]
    codes: list[CodeOut] = Field(description="License 2.0: one authorization code per purchased resource")
    identifier_kind: str | None = None
    identifier: str | None = None
    license: str | None = Field(None, description="License 1.0: what the merchant delivered (getLicense)")
    license_request: str | None = Field(None, description="getLicense: pending, succeeded or failed")


class IdentifierIn(BaseModel):
    kind: Literal["system", "hardware"] = Field(
        description="system: generated, unique, no typing; hardware: the buyer's device identifier (§2.2.b)"
    )
    hardware_identifier: str | None = Field(None, max_length=256)


def _code_out(code: LicenseCode, grace: int, request: Request) -> CodeOut:
    now = deps(request).clock()
    return CodeOut(
        code=code.code,
        seq=code.seq,
        status=code.state(now, grace),
        activated_at=code.activated_at,
        device_id=code.device_id,
        valid_until=code.valid_until,
        releases_at=code.releases_at(grace),
        last_seen_at=code.last_seen_at,
    )


@router.get("/licenses")
async def licenses(
    caller: Buyer, request: Request, order_id: Annotated[str, Query(min_length=1, max_length=128)]
) -> LicensesOut:
    """The order's Licenses in purchased services: its codes with status and validity (the order's buyer)."""
    q = queries(request)
    order = await q.license_order(order_id)
    if order is None:
        raise NotFound(f"no License order {order_id}", field="order_id")
    require_party(caller, order.buyer_id, what=f"order {order_id}")
    grace = GRACE_DAYS
    codes = await q.license_codes(order.root_order_id)
    call = await q.call(f"getLicense:{order.order_id}")
    answered = call.result.get("license") if call is not None else None
    return LicensesOut(
        order_id=order.order_id,
        kind=order.kind,
        codes=[_code_out(c, grace, request) for c in codes],
        identifier_kind=order.identifier_kind,
        identifier=order.identifier,
        license=order.license or (answered if isinstance(answered, str) else None),
        license_request=call.status if call is not None else None,
    )


@router.post("/orders/{order_id}/license/identifier")
async def identifier(order_id: PathId, body: IdentifierIn, caller: Buyer, request: Request) -> LicenseOrder:
    """The order's buyer submits its hardware identifier or has a system identifier generated (License 1.0);
    the merchant is asked for the License."""
    return await license_cases.submit_identifier(
        deps(request), caller, order_id, body.kind, body.hardware_identifier
    )


# --- the open API (signed) --------------------------------------------------------------------------------
class ActivateIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=128, description="the device or instance it runs on")
    device_info: Info = Field(default_factory=dict)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)


class HeartbeatIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=128)
    usage: Info = Field(default_factory=dict)


class DeliverIn(BaseModel):
    request_id: str = Field(min_length=1, max_length=160)
    license: str = Field(
        min_length=1, max_length=65536, description="the key, or the file's content (base64)"
    )


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
        "parameters": [
            {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
            for h in ("x-merchant-id", "x-sign", "x-timestamp", "x-nonce")
        ],
    }


STATUS = {license_open.BAD_SIGNATURE: 401, license_open.UNKNOWN_MERCHANT: 401, license_open.NOT_FOUND: 404}


async def _answer(request: Request, model: type[BaseModel], call: Any) -> JSONResponse:
    """Verify, parse, run; the answer is {resultCode, resultMsg, …}, signed with the merchant's key."""
    raw = await request.body()
    signed = license_open.Signed(request.headers.get("x-merchant-id", ""), dict(request.headers), raw)
    try:
        try:
            body = model.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][-1]) if first["loc"] else "body"
            # A malformed body is refused only once the signature is known good: the merchant learns nothing
            # about the API from unsigned probes.
            await license_open.refuse_unless_signed(deps(request), signed)
            raise InvalidInput(f"{field}: {first['msg']}", field=field) from exc
        data, key = await call(signed, body)
    except LicenseError as exc:
        return _error(STATUS.get(exc.result_code, 409), exc.result_code, exc.message, exc.field)
    except DomainError as exc:
        status = 422 if isinstance(exc, InvalidInput) else 409
        return _error(status, "MKT.0100" if status == 422 else "LIC.0100", exc.message, exc.field)
    content = {"resultCode": license_open.OK, "resultMsg": "success", **data}
    response = JSONResponse(content)
    response.headers.update(signing.sign_headers(key, bytes(response.body)))
    return response


def _error(status: int, code: str, message: str, field: str | None) -> JSONResponse:
    body: dict[str, Any] = {"resultCode": code, "resultMsg": message}
    if field:
        body["field"] = field
    return JSONResponse(status_code=status, content=body)


@router.post("/open/license/activate", openapi_extra=_documented(ActivateIn))
async def activate(request: Request) -> JSONResponse:
    """The merchant's software activates a code (signed): binds it, sets the actual activation time, and the
    supervision node passes."""
    d = deps(request)
    return await _answer(
        request, ActivateIn, lambda s, b: license_open.activate(d, s, b.code, b.device_id, b.device_info)
    )


@router.post("/open/license/query", openapi_extra=_documented(CodeIn))
async def query(request: Request) -> JSONResponse:
    """The merchant's software asks for a code's status and validity (signed)."""
    d = deps(request)
    return await _answer(request, CodeIn, lambda s, b: license_open.query(d, s, b.code))


@router.post("/open/license/heartbeat", openapi_extra=_documented(HeartbeatIn))
async def heartbeat(request: Request) -> JSONResponse:
    """The software in use reports its usage (signed): last seen; the answer carries the status."""
    d = deps(request)
    return await _answer(
        request, HeartbeatIn, lambda s, b: license_open.heartbeat(d, s, b.code, b.device_id, b.usage)
    )


@router.post("/open/license/deliver", openapi_extra=_documented(DeliverIn))
async def deliver(request: Request) -> JSONResponse:
    """The merchant delivers the License of an asynchronous getLicense (signed; the same request id returns
    the same License)."""
    d = deps(request)
    return await _answer(request, DeliverIn, lambda s, b: license_open.deliver(d, s, b.request_id, b.license))
