"""The Twilio-compatible sink retries a status callback that cannot connect, as Twilio's connection overrides
do: the notification replica that sent the message may be restarting (a full fault-matrix run lost a callback
to a killed replica, and the message was sent twice)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from devstack.procs import free_port
from devstack.sinks import api
from devstack.sinks.api import Callbacks


async def test_a_callback_that_cannot_connect_is_retried_until_the_replica_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "CALLBACK_RETRIES", (0.2, 0.2, 0.2, 0.2, 0.2, None))
    port, seen = free_port(), []

    async def record(request: web.Request) -> web.Response:
        seen.append((await request.post())["MessageStatus"])
        return web.Response(status=204)

    store = api.SmsStore.__new__(api.SmsStore)
    store.status = {}
    callbacks = Callbacks(store)
    row = {
        "id": "SM1",
        "status_callback": f"http://127.0.0.1:{port}/callbacks/sms/d1",
        "account_sid": "AC1",
        "to": "+8613800001234",
        "from": "+15005550006",
    }
    reporting = asyncio.create_task(callbacks.report(row, "token"))  # type: ignore[arg-type]
    await asyncio.sleep(0.5)  # the replica is down: the first tries fail
    app = web.Application()
    app.router.add_post("/callbacks/sms/d1", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.wait_for(reporting, 10)
    finally:
        await callbacks.close()
        await runner.cleanup()
    assert seen == ["sent", "delivered"]
