"""Provider callbacks (Twilio status callbacks, signature-checked) and the operators' delivery desk.

The desk is for operations staff: the token's operator role decides (`operators_only`), and every call is in
the operators' audit log (shared.platform.audit). The status callback carries no token: Twilio signs it with
our auth token (X-Twilio-Signature), and an unsigned or wrongly signed one is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

from services.notification.api import IdPath, OrderFilter, deps
from services.notification.dispatcher import Dispatcher
from services.notification.ops import record_sms_status, replay_delivery
from services.notification.providers import auth_tokens
from services.notification.queries import Queries
from shared.platform.auth import Operator
from shared.platform.errors import Forbidden

router = APIRouter()


@router.post("/callbacks/sms/{delivery_id}", tags=["callbacks"], status_code=204)
async def sms_status_callback(delivery_id: IdPath, request: Request) -> Response:
    """Twilio StatusCallback: validated with X-Twilio-Signature, then recorded on the delivery."""
    settings = deps(request).settings
    form = {k: str(v) for k, v in (await request.form()).items()}
    # The signature covers the URL the provider was given, i.e. our public base URL, not the one we see.
    url = f"{settings.public_base_url.rstrip('/')}{request.url.path}"
    if request.url.query:
        url += f"?{request.url.query}"
    signature = request.headers.get("X-Twilio-Signature", "")
    validators = [RequestValidator(t.get_secret_value()) for t in auth_tokens(settings)]
    if not any(v.validate(url, form, signature) for v in validators):
        raise Forbidden("invalid X-Twilio-Signature", rule="twilio_signature")
    await record_sms_status(
        deps(request), delivery_id, form.get("MessageSid", "")[:64], form.get("MessageStatus", "")[:32]
    )
    return Response(status_code=204)


@router.get("/operator/deliveries/dead", tags=["operator"])
async def dead_deliveries(
    operator: Operator,
    request: Request,
    order_id: OrderFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Dead-lettered and refused deliveries (operators only); addresses are left out."""
    queries: Queries = request.app.state.queries
    return await queries.dead(order_id, limit)


@router.post("/operator/deliveries/{delivery_id}/replay", tags=["operator"])
async def replay(delivery_id: IdPath, operator: Operator, request: Request) -> dict[str, str]:
    """Put a dead delivery back in the queue (operators only)."""
    return {
        "delivery_id": delivery_id,
        "status": await replay_delivery(deps(request), operator.account_id, delivery_id),
    }


@router.get("/operator/providers", tags=["operator"])
async def provider_health(operator: Operator, request: Request) -> dict[str, dict[str, Any]]:
    """Each channel's circuit breaker in this replica: closed, open (on the secondary) or half-open."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return {
        name: {
            "state": f.breaker.state.value,
            "consecutive_failures": f.breaker.consecutive,
            "secondary_configured": f.secondary is not None,
        }
        for name, f in (("email", dispatcher.email), ("sms", dispatcher.sms))
    }
