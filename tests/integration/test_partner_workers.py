"""partner's background work on the real stack (issue 10): the merchant calls and the bill runs are sources of the
shared leased worker. One merchant's answer, or one call that fails in processing, never stops the calls to the
other merchants; the workers are reported in /readyz."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import Response

from services.partner import signing
from services.partner.app import create_app
from services.partner.settings import PartnerSettings
from shared.schemas import DeliveryType, Parties
from tests import factories as f
from tests.conftest import Infra
from tests.helpers import eventually, running
from tests.identity import User
from tests.integration.test_partner_receiver import Receiver, serving
from tests.integration.test_partner_sync import FAST, calls_of, publish

# A signed success whose extra field no database can store (BSON integers are 8 bytes at most).
UNSTORABLE = b'{"resultCode": "000000", "instanceId": "inst-big", "quota": 1000000000000000000000000000000}'


class Answering(Receiver):
    """A merchant that verifies the request and then signs whatever `answer` says."""

    answer: bytes = b"[]"

    def handle(self, name: str, headers: dict[str, str], raw: bytes) -> Response:
        signing.verify(self.access_key, headers, raw, seen=self.nonces)
        self.requests.append((name, {}))
        return Response(
            self.answer,
            media_type="application/json",
            headers=signing.sign_headers(self.access_key, self.answer),
        )


async def merchant_with(infra: Infra, client: httpx.AsyncClient, r: Receiver) -> User:
    merchant = await infra.idp.user("merchant")
    endpoint = {"production_url": r.url, "access_key": r.access_key, "public_key_pem": r.public_pem}
    resp = await client.put(
        f"/merchants/{merchant}/endpoint", headers=await merchant.headers(), json=endpoint
    )
    assert resp.status_code == 200, resp.text
    return merchant


async def sell(infra: Infra, namespace: str, merchant: User) -> str:
    buyer = await infra.idp.user("buyer")
    paid = f.order_paid(
        Parties(buyer_account_id=buyer.account_id, merchant_account_id=merchant.account_id),
        delivery_type=DeliveryType.SAAS_INSTANT,
    )
    await publish(infra, namespace, paid)
    return paid.payload.order_id


async def test_one_merchants_answers_or_a_broken_call_never_stop_the_other_merchants(
    infra: Infra, namespace: str
) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    big, empty, null = Answering(), Answering(), Answering()
    big.answer, null.answer = UNSTORABLE, b"null"
    app = create_app(settings)
    with serving(big), serving(empty), serving(null), serving(Receiver()) as good:
        async with running(app) as client:
            db = app.state.runtime.db
            # A call that cannot even be loaded (a processing bug), first in line since a minute ago.
            await db["merchant_calls"].insert_one(
                {
                    "_id": "newInstance:BROKEN",
                    "call_id": "newInstance:BROKEN",
                    "merchant_id": "m-x",
                    "status": "pending",
                    "policy": "no-such-policy",
                    "due_at": datetime.now(UTC) - timedelta(minutes=1),
                }
            )
            merchants = {}
            for name, r in (("big", big), ("empty", empty), ("null", null)):
                merchants[name] = await merchant_with(infra, client, r)
                await sell(infra, namespace, merchants[name])
                await eventually(_called(r), what=f"the {name} merchant called")
            merchants["good"] = await merchant_with(infra, client, good)
            await sell(infra, namespace, merchants["good"])

            await eventually(lambda: _true(good.count("saas") == 1), what="the good merchant called")
            stored = await eventually(
                lambda: _attempted(client, merchants["big"]), what="the big answer recorded"
            )
            assert (stored["status"], stored["result"]["instanceId"]) == ("succeeded", "inst-big")
            assert str(stored["result"]["quota"]) == "1000000000000000000000000000000"  # kept, as text
            for name in ("empty", "null"):
                call = await eventually(_first_attempt(client, merchants[name]), what=f"{name} recorded")
                attempt = call["attempts"][0]  # retried by the call's own (shortened) policy, then given up
                assert (attempt["error"], attempt["ok"]) == ("bad_response", False)
                assert call["status"] in {"pending", "failed"}
                assert "not a JSON object" in attempt["detail"]

            broken = await eventually(
                lambda: db["worker_items"].find_one({"key": "newInstance:BROKEN"}),
                what="the broken call recorded by the worker",
            )
            assert broken["worker"] == "merchant-calls"
            assert broken["attempts"] >= 1
            assert "ValidationError" in broken["last_error"]
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["worker:merchant-calls"] == "ok"


async def test_readyz_reports_the_merchant_call_and_bill_run_workers(infra: Infra, namespace: str) -> None:
    settings = f.settings(PartnerSettings, infra, namespace, **FAST)
    async with running(create_app(settings)) as client:

        async def rounds() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get("/readyz")).json()
            workers = body.get("workers", {})
            done = all(workers.get(w, {}).get("last_success_at") for w in ("merchant-calls", "bill-runs"))
            return body if done else None

        body = await eventually(rounds, what="a round of each partner worker")
        assert body["ready"] is True
        assert body["checks"]["worker:merchant-calls"] == "ok"
        assert body["checks"]["worker:bill-runs"] == "ok"
        for name in ("merchant-calls", "bill-runs"):
            assert body["workers"][name]["alive"] is True
            assert body["workers"][name]["quarantined"] == 0


async def _attempted(client: httpx.AsyncClient, merchant: User) -> dict[str, Any] | None:
    recent = (await calls_of(client, merchant)).get("newInstance", {}).get("recent", [])
    return recent[0] if recent and recent[0]["attempts"] else None


async def _true(value: object) -> bool:
    return bool(value)


def _called(r: Receiver) -> Callable[[], Awaitable[bool]]:
    return lambda: _true(r.count("saas") >= 1)


def _first_attempt(
    client: httpx.AsyncClient, merchant: User
) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    return lambda: _attempted(client, merchant)
