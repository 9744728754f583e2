"""A database away for a moment is a 503 with Retry-After, never a 500 (a chaos run's database restart answered
one request with a 500: `AutoReconnect: Connection reset by peer`)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from shared.platform.http import install_error_handlers


async def test_an_unreachable_database_is_a_503_to_retry() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/reset")
    async def reset() -> None:
        raise AutoReconnect("127.0.0.1:27017: [Errno 104] Connection reset by peer")

    @app.get("/gone")
    async def gone() -> None:
        raise ServerSelectionTimeoutError("No servers found yet")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        answers = [await client.post("/reset"), await client.get("/gone")]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["detail"]["code"] == "unavailable"
