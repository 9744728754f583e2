"""The merchant's on-demand usage push (dossier §8.2.9) on its real route, with fakes: signed with the
merchant's access key (§8.3), no bearer token; answered with the MKT codes; records stored once per id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.partner import api_open, signing
from services.partner.calls import MerchantEndpoint, Sale
from services.partner.deps import Deps
from services.partner.settings import PartnerSettings
from services.partner.store import fake_uow
from shared.platform.fakes import FakeState
from shared.platform.mongo import UnitOfWorkFactory
from tests.factories import rid
from tests.service.rig import FAST

KEY = "merchant-ak-usage-01"
NOW = datetime.now(UTC)


class Open:
    def __init__(self) -> None:
        self.state = FakeState()
        app = FastAPI()
        app.include_router(api_open.router)
        app.state.deps = Deps(UnitOfWorkFactory(fake_uow(self.state)), PartnerSettings(**FAST), lambda: NOW)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://partner")
        self.merchant = rid("merchant")
        self.endpoint(self.merchant, KEY)
        self.instance = self.sale(self.merchant, "pay_per_use")

    def endpoint(self, merchant: str, key: str) -> None:
        self.state.table("merchant_endpoints")[merchant] = MerchantEndpoint(
            merchant_id=merchant, production_url="https://isv.example", access_key=key, public_key_pem="-"
        ).model_dump()

    def sale(self, merchant: str, billing_mode: str) -> str:
        order_id, instance = rid("CS"), rid("inst")
        self.state.table("sales")[order_id] = Sale(
            order_id=order_id,
            buyer_id=rid("buyer"),
            merchant_id=merchant,
            product_id=rid("p"),
            delivery_type="saas_instant",
            sale_mode="general",
            instance_id=instance,
            billing_mode=billing_mode,
        ).model_dump(mode="json")
        return instance

    async def push(
        self,
        records: list[dict[str, Any]],
        *,
        key: str = KEY,
        merchant: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"usageRecords": records}).encode()
        signed = headers if headers is not None else signing.sign_headers(key, body)
        resp = await self.http.post(
            "/open/saas/usage-data",
            content=body,
            headers={
                **signed,
                "x-merchant-id": merchant or self.merchant,
                "content-type": "application/json",
            },
        )
        return resp.status_code, resp.json()

    def record(self, n: int = 0, instance: str | None = None, age: timedelta = timedelta(hours=2)) -> Any:
        begin = NOW - age
        return {
            "recordId": f"rec-{n}",
            "instanceId": instance or self.instance,
            "usageMeasureId": "hour",
            "usageValue": "2.5",
            "beginTime": begin.isoformat(),
            "endTime": (begin + timedelta(hours=1)).isoformat(),
        }


@pytest.fixture
def shop() -> Open:
    return Open()


async def test_a_signed_push_is_stored_once_per_record_id(shop: Open) -> None:
    status, answer = await shop.push([shop.record(0), shop.record(1)])
    assert (status, answer["resultCode"]) == (200, "MKT.0000")
    assert [r["code"] for r in answer["records"]] == ["000", "000"]

    status, again = await shop.push([shop.record(1), shop.record(2)])  # a new nonce, one record seen before
    assert status == 200
    assert [(r["recordId"], r["code"]) for r in again["records"]] == [("rec-1", "005"), ("rec-2", "000")]
    stored = shop.state.tables["usage_records"]
    assert sorted(stored) == sorted(f"{shop.merchant}:rec-{n}" for n in range(3))
    assert stored[f"{shop.merchant}:rec-0"]["value"] == "2.5"


async def test_a_replayed_request_is_refused(shop: Open) -> None:
    body = json.dumps({"usageRecords": [shop.record(0)]}).encode()
    signed = signing.sign_headers(KEY, body)
    first = await shop.http.post(
        "/open/saas/usage-data", content=body, headers={**signed, "x-merchant-id": shop.merchant}
    )
    replay = await shop.http.post(
        "/open/saas/usage-data", content=body, headers={**signed, "x-merchant-id": shop.merchant}
    )
    assert first.status_code == 200
    assert (replay.status_code, replay.json()["resultCode"]) == (401, "MKT.0151")


@pytest.mark.parametrize(
    ("how", "code"),
    [("forged", "MKT.0102"), ("unsigned", "MKT.0102"), ("stale", "MKT.0151"), ("stranger", "MKT.0150")],
)
async def test_a_bad_signature_is_refused_with_its_mkt_code(shop: Open, how: str, code: str) -> None:
    records = [shop.record(0)]
    body = json.dumps({"usageRecords": records}).encode()
    headers = {
        "forged": signing.sign_headers("another-key-0001", body),
        "unsigned": {},
        "stale": signing.sign_headers(KEY, body, now_ms=int((NOW.timestamp() - 120) * 1000)),
        "stranger": signing.sign_headers(KEY, body),
    }[how]
    merchant = rid("merchant") if how == "stranger" else None
    status, answer = await shop.push(records, headers=headers, merchant=merchant)
    assert (status, answer["resultCode"]) == (401, code)
    assert "usage_records" not in shop.state.tables or not shop.state.tables["usage_records"]


async def test_the_push_limits_are_the_dossiers(shop: Open) -> None:
    status, answer = await shop.push([shop.record(n) for n in range(1001)])
    assert (status, answer["resultCode"]) == (400, "MKT.9003")
    status, answer = await shop.push([shop.record(0, age=timedelta(days=21, hours=1))])
    assert (status, answer["resultCode"]) == (400, "MKT.9004")
    status, answer = await shop.push([{**shop.record(0), "usageValue": "lots"}])
    assert (status, answer["resultCode"]) == (400, "MKT.9002")
    assert "usageValue" in answer["resultMsg"]


async def test_an_unknown_or_another_merchants_instance_is_not_found(shop: Open) -> None:
    status, answer = await shop.push([shop.record(0, instance="no-such-instance")])
    assert (status, answer["resultCode"]) == (404, "MKT.9001")
    theirs = shop.sale(rid("merchant"), "pay_per_use")
    status, answer = await shop.push([shop.record(1, instance=theirs)])
    assert (status, answer["resultCode"]) == (404, "MKT.9001")


async def test_usage_of_an_instance_not_sold_on_demand_is_not_stored(shop: Open) -> None:
    periodic = shop.sale(shop.merchant, "periodic_monthly")
    status, answer = await shop.push([shop.record(0, instance=periodic)])
    assert status == 200
    assert answer["records"] == [{"recordId": "rec-0", "code": "012"}]
    assert not shop.state.tables.get("usage_records")
