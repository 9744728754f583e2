"""`Idempotency-Key` on POST: a client that retries after a timeout gets the first answer, not a second order.

For a POST carrying the header, the first request with a key is run and its answer kept (24 hours by default);
a retry with the same key and the same body gets that answer again (`Idempotent-Replayed: true`) and creates
nothing; the same key with another body is a 422 naming the header; a retry while the first is still running
is a 409. Keys are the caller's own: they are scoped by the verified token's subject (the token is checked
here before anything is looked up, so nobody reads another caller's answer), the method and the route. An
answer of 5xx is not kept, so a retry after a failure runs again (as a takeover, below).

A running request holds its key for `in_flight_seconds` (longer than any request runs). A replica that dies
in the middle of one leaves the key running; once that lease has run out, a retry takes the key over and runs
the request again, and the effect markers (effects.py) make sure what the first attempt committed is not done
twice: the retry gets the first attempt's result back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.platform.auth import TokenVerifier
from shared.platform.effects import REQUEST, KeyedRequest
from shared.platform.errors import DomainError
from shared.platform.mongo import Doc

log = logging.getLogger("idempotency")
KEYS = "idempotency_keys"
HEADER = b"idempotency-key"
KEPT_HEADERS = {b"content-type", b"location"}


def _problem(status: int, code: str, message: str) -> tuple[int, bytes]:
    body = {"detail": {"code": code, "message": message, "field": "Idempotency-Key"}}
    return status, json.dumps(body).encode()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl_hours: float = 24.0, in_flight_seconds: float = 60.0) -> None:
        self.app, self.ttl, self.in_flight = (
            app,
            timedelta(hours=ttl_hours),
            timedelta(seconds=in_flight_seconds),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = headers.get(HEADER, b"").decode(errors="replace").strip()
        state = scope["app"].state if "app" in scope else None
        db: AsyncDatabase[Doc] | None = getattr(getattr(state, "runtime", None), "db", None)
        verifier: TokenVerifier | None = getattr(state, "verifier", None)
        if not key or db is None or verifier is None:
            await self.app(scope, receive, send)
            return
        if len(key) > 255:
            await _answer(send, *_problem(422, "invalid", "an Idempotency-Key has at most 255 characters"))
            return
        subject = await _subject(verifier, headers.get(b"authorization", b""))
        if subject is None:  # no valid token: the route answers 401 itself; nothing is kept
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        ident = hashlib.sha256(f"{subject}\n{scope['method']}\n{scope['path']}\n{key}".encode()).hexdigest()
        fingerprint = hashlib.sha256(body).hexdigest()
        col, now = db[KEYS], datetime.now(UTC)
        taken_over = False
        try:
            await col.insert_one(
                {
                    "_id": ident,
                    "fingerprint": fingerprint,
                    "state": "running",
                    "created_at": now,
                    "expires_at": now + self.ttl,
                    "lease_until": now + self.in_flight,
                }
            )
        except DuplicateKeyError:
            kept = await col.find_one({"_id": ident})
            if kept is not None and kept["state"] == "running" and kept["fingerprint"] == fingerprint:
                lease = kept.get("lease_until") or kept["created_at"] + self.in_flight
                if lease.replace(tzinfo=UTC) < now:  # its replica died mid-request: this retry takes it over
                    held = {"_id": ident, "state": "running", "lease_until": kept.get("lease_until")}
                    took = await col.update_one(held, {"$set": {"lease_until": now + self.in_flight}})
                    taken_over = took.modified_count == 1
            if not taken_over:
                await self._answer_kept(scope, body, send, ident, fingerprint, now)
                return
        await self._run(scope, body, send, KeyedRequest(ident, taken_over))

    async def _answer_kept(
        self, scope: Scope, body: bytes, send: Send, ident: str, fingerprint: str, now: datetime
    ) -> None:
        """A key seen before: its kept answer, or why there is none (still running, another body, expired)."""
        col = scope["app"].state.runtime.db[KEYS]
        kept = await col.find_one({"_id": ident})
        if kept is not None and kept["expires_at"].replace(tzinfo=UTC) < now:
            await col.delete_one({"_id": ident, "expires_at": kept["expires_at"]})
            await self(scope, _replay_body(body), send)  # expired: as if new
        elif kept is None or kept["fingerprint"] != fingerprint:
            await _answer(
                send,
                *_problem(
                    422, "idempotency_key_reused", "this Idempotency-Key was used with another request body"
                ),
            )
        elif kept["state"] == "running":
            await _answer(
                send,
                *_problem(
                    409,
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still running; retry later",
                ),
            )
        else:
            await _answer(
                send,
                kept["status"],
                bytes(kept["body"]),
                [(bytes(k), bytes(v)) for k, v in kept["headers"]] + [(b"idempotent-replayed", b"true")],
            )

    async def _run(self, scope: Scope, body: bytes, send: Send, request: KeyedRequest) -> None:
        """Run the request holding its key (the use cases mark their effects with it), then keep its
        answer."""
        col = scope["app"].state.runtime.db[KEYS]
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() in KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        token = REQUEST.set(request)
        try:
            await self.app(scope, _replay_body(body), keep)
        finally:
            REQUEST.reset(token)
            if captured["status"] >= 500:  # not kept: a retry runs again, as a takeover, so that what this
                # attempt may have committed before failing (a lost commit answer) comes back instead of twice
                await col.update_one(
                    {"_id": request.ident, "state": "running"}, {"$set": {"lease_until": datetime.now(UTC)}}
                )
            else:
                await col.update_one(
                    {"_id": request.ident},
                    {
                        "$set": {
                            "state": "done",
                            "status": captured["status"],
                            "body": captured["body"],
                            "headers": [[k, v] for k, v in captured["headers"]],
                        }
                    },
                )


async def _subject(verifier: TokenVerifier, authorization: bytes) -> str | None:
    scheme, _, token = authorization.decode(errors="replace").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return (await verifier.verify(token.strip())).account_id
    except DomainError:
        return None


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = headers or [(b"content-type", b"application/json")]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def document(app: Any) -> None:
    """Declare the optional `Idempotency-Key` header on every POST operation of the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return dict(app.openapi_schema)
        spec: dict[str, Any] = build()
        for ops in spec.get("paths", {}).values():
            op = ops.get("post")
            if op is not None and not any(
                p.get("name") == "Idempotency-Key" for p in op.get("parameters", [])
            ):
                op.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": (
                            "Retry-safe: a repeated request with this key gets the first answer (24 h)"
                        ),
                    }
                )
        app.openapi_schema = spec
        return spec

    app.openapi = openapi
