"""The reference merchant receiver (dossier §8), and tests that it rejects what a merchant must reject.

`Receiver` is a merchant's production server in miniature: it verifies every request's §8.3 signature (60-second
window, nonces never reused), decrypts the client secret with its RSA private key, stores tenants, apps, users
and departments idempotently (a repeated add or delete is a success), signs its responses, and can be told to
fail with 503 until told to recover. Other partner tests import it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request, Response

from devstack.procs import free_port
from services.partner import signing

OK = {"resultCode": "000000", "resultMsg": "success"}


def rsa_pair(bits: int = 3072) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Receiver:
    access_key: str = "merchant-ak-0001"
    private_pem: str = ""
    public_pem: str = ""
    failing: bool = False
    nonces: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # accepted, by path
    rejected: list[str] = field(default_factory=list)
    tenants: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    apps: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    orgs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)  # orderId → instanceId
    url: str = ""

    def __post_init__(self) -> None:
        if not self.private_pem:
            self.private_pem, self.public_pem = rsa_pair()

    def signed(self, body: dict[str, Any], status: int = 200) -> Response:
        raw = json.dumps(body).encode()
        return Response(
            raw,
            status_code=status,
            media_type="application/json",
            headers=signing.sign_headers(self.access_key, raw),
        )

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/produceAPI/v2/{name}")
        async def kit(name: str, request: Request) -> Response:
            return self.handle(name, dict(request.headers), await request.body())

        @app.post("/saas/v2/instance")
        async def saas(request: Request) -> Response:
            q = request.query_params
            headers = {
                "x-sign": q.get("signature", ""),
                "x-timestamp": q.get("timestamp", ""),
                "x-nonce": q.get("nonce", ""),
            }
            return self.handle("saas", headers, await request.body())

        return app

    def handle(self, name: str, headers: dict[str, str], raw: bytes) -> Response:
        try:
            signing.verify(self.access_key, headers, raw, seen=self.nonces)
        except signing.BadSignature as exc:
            self.rejected.append(str(exc))
            return self.signed({"resultCode": "000001", "resultMsg": str(exc)}, 401)
        if self.failing:
            return self.signed({"resultCode": "000005", "resultMsg": "internal error"}, 503)
        body = json.loads(raw)
        self.requests.append((name, body))
        return self.signed(self.store(name, body))

    def store(self, name: str, b: dict[str, Any]) -> dict[str, Any]:
        """Idempotent per the §8.1 keys: a repeated add changes nothing, a repeated delete succeeds."""
        inst = b.get("instanceId", "")
        if name == "tenantSync":
            key = (inst, b["tenantId"])
            self.tenants.pop(key, None) if b["flag"] == 0 else self.tenants.setdefault(key, b)
        elif name == "applicationSync":
            key3 = (inst, b["tenantId"], b["appId"])
            if b["flag"] == 0:
                self.apps.pop(key3, None)
            else:
                self.apps[key3] = {
                    **b,
                    "clientSecret": signing.decrypt_secret(self.private_pem, b["clientSecret"]),
                }
        elif name == "authSync":
            for u in b["userList"]:
                key4 = (inst, b["tenantId"], b["appId"], u["userName"])
                self.users.pop(key4, None) if b["flag"] in (0, 3) else self.users.__setitem__(key4, u)
        elif name == "singleOrgSync":
            key3 = (inst, b["tenantId"], b["orgCode"])
            self.orgs.pop(key3, None) if b["flag"] == 0 else self.orgs.__setitem__(key3, b)
        elif name == "allOrgSync":
            for org in b["orgInfoList"]:
                self.orgs[(inst, b["tenantId"], org["orgCode"])] = org
        elif name == "saas" and b["activity"] == "newInstance":
            instance = self.instances.setdefault(b["orderId"], f"inst-{b['businessId']}")
            return {**OK, "instanceId": instance}
        return OK

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.requests if n == name)


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Run the receiver on a free port in a thread of its own (the partner service may be another process)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.02)
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(5)


async def post(
    receiver: Receiver, name: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.post(
            f"{receiver.url}/produceAPI/v2/{name}", content=json.dumps(body).encode(), headers=headers
        )


TENANT = {
    "instanceId": "i1",
    "orderId": "CS1",
    "tenantId": "t1",
    "tenantCode": "acme",
    "name": "ACME",
    "domainName": "acme.example",
    "flag": 1,
    "testFlag": 0,
    "timeStamp": "20261120114117642",
}


async def test_the_receiver_rejects_replayed_stale_forged_and_unsigned_requests() -> None:
    with serving(Receiver()) as r:
        raw = json.dumps(TENANT).encode()
        good = signing.sign_headers(r.access_key, raw)
        assert (await post(r, "tenantSync", TENANT, good)).status_code == 200
        replayed = await post(r, "tenantSync", TENANT, good)
        stale = await post(
            r,
            "tenantSync",
            TENANT,
            signing.sign_headers(r.access_key, raw, now_ms=int(time.time() * 1000) - 61_000),
        )
        forged = await post(r, "tenantSync", TENANT, signing.sign_headers("another-key", raw))
        unsigned = await post(r, "tenantSync", TENANT, {})

    assert [x.status_code for x in (replayed, stale, forged, unsigned)] == [401, 401, 401, 401]
    assert [m.split(":")[0] for m in r.rejected] == ["replayed", "stale", "forged", "unsigned"]
    assert r.count("tenantSync") == 1


async def test_a_repeated_add_or_delete_is_a_success_and_changes_nothing_more() -> None:
    with serving(Receiver()) as r:
        for flag in (1, 1, 0, 0):
            body = {**TENANT, "flag": flag}
            resp = await post(
                r, "tenantSync", body, signing.sign_headers(r.access_key, json.dumps(body).encode())
            )
            assert resp.status_code == 200
            assert resp.json()["resultCode"] == "000000"
            signing.verify(r.access_key, {k.lower(): v for k, v in resp.headers.items()}, resp.content)
            if flag == 1:
                assert list(r.tenants) == [("i1", "t1")]
        assert r.tenants == {}


async def test_the_receiver_fails_while_told_to_and_recovers() -> None:
    with serving(Receiver(failing=True)) as r:
        sign = lambda: signing.sign_headers(r.access_key, json.dumps(TENANT).encode())  # noqa: E731
        assert (await post(r, "tenantSync", TENANT, sign())).status_code == 503
        r.failing = False
        assert (await post(r, "tenantSync", TENANT, sign())).status_code == 200
    assert r.count("tenantSync") == 1
