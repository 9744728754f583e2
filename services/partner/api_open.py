"""The merchant-signed open routes under `/open/` (dossier §8.2.9, §8.3): no bearer token; the merchant signs
each request with its access key, and the gateway routes the prefix on a route of its own (deploy/k8s)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.partner import usage_push
from services.partner.api import deps

router = APIRouter(prefix="/open", tags=["open api (merchant-signed)"])

USAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["usageRecords"],
                    "properties": {
                        "usageRecords": {
                            "type": "array",
                            "maxItems": 1000,
                            "items": {
                                "type": "object",
                                "required": ["recordId", "instanceId", "usageValue", "beginTime", "endTime"],
                                "properties": {
                                    "recordId": {"type": "string"},
                                    "instanceId": {"type": "string"},
                                    "usageMeasureId": {"type": "string"},
                                    "usageValue": {"type": "string"},
                                    "beginTime": {"type": "string", "format": "date-time"},
                                    "endTime": {"type": "string", "format": "date-time"},
                                },
                            },
                        }
                    },
                }
            }
        },
    },
    "parameters": [
        {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
        for h in ("x-merchant-id", "x-sign", "x-timestamp", "x-nonce")
    ],
}


@router.post("/saas/usage-data", openapi_extra=USAGE_BODY)
async def usage_data(request: Request) -> JSONResponse:
    """On-demand usage records (at most 1,000, beginTime within 21 days), signed with the merchant's key."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = bytearray()
    async for chunk in request.stream():  # read up to the cap: a huge body never fills memory
        body += chunk
        if len(body) > usage_push.MAX_BODY:
            answer = {"resultCode": "MKT.9003", "resultMsg": "the body is too large", "records": []}
            return JSONResponse(answer, status_code=413)
    status, answer = await usage_push.push(deps(request), headers.get("x-merchant-id"), headers, bytes(body))
    return JSONResponse(answer, status_code=status)
