"""The SMS sink lists what it accepted, or only the last n (the chaos harness polls the newest without reading
thousands of rows)."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from devstack.sinks.api import Callbacks, create_app
from devstack.sinks.store import SmsStore

SID = "AC00000000000000000000000000000000"


async def test_the_sink_lists_every_message_or_only_the_last_ones(tmp_path: Path) -> None:
    store = SmsStore(tmp_path)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{SID}:token".encode()).decode()}
    transport = httpx.ASGITransport(app=create_app(store, Callbacks(store)))
    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as http:
        for n in range(3):
            resp = await http.post(
                f"/2010-04-01/Accounts/{SID}/Messages.json",
                headers=auth,
                data={"To": "+8613800000001", "From": "+15005550006", "Body": f"message {n}"},
            )
            assert resp.status_code == 201, resp.text
        assert [r["body"] for r in (await http.get("/sms")).json()] == ["message 0", "message 1", "message 2"]
        assert [r["body"] for r in (await http.get("/sms", params={"last": 2})).json()] == [
            "message 1",
            "message 2",
        ]
        assert (await http.get("/sms", params={"last": 0})).status_code == 422
    store.close()
