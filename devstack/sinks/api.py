"""A Twilio-compatible Messages resource, the accepted SMS as JSON, fault control, an index page.

Status callbacks go out through one HTTP session for the sink's lifetime (`Callbacks`), at most `CALLBACKS` at
once. A client per message spent about 18 ms of CPU building its TLS context; one shared httpx client still
cost more the longer its queue of waiting requests (its pool scans the queue on every request) and re-tried an
import on each request; aiohttp's connector queues in constant time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import json
import logging
import re
import secrets
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
from fastapi import BackgroundTasks, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from twilio.request_validator import RequestValidator

from devstack.sinks.store import Fault, Row, SmsStore, utc_now
from shared.platform.sms import segments

log = logging.getLogger("devstack.sinks")

API = "/2010-04-01/Accounts/{account_sid}"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CALLBACKS = 16
ERROR_TEXT = {
    400: "Bad Request",
    401: "Authenticate",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }
    return JSONResponse(body, status_code=status)


def message_resource(row: Row, status: str) -> dict[str, Any]:
    date = format_datetime(datetime.fromisoformat(row["received_at"]))
    return {
        "sid": row["id"],
        "account_sid": row["account_sid"],
        "to": row["to"],
        "from": row["from"],
        "body": row["body"],
        "status": status,
        "num_segments": str(row["num_segments"]),
        "num_media": "0",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": date,
        "date_updated": date,
        "date_sent": date,
        "price": None,
        "price_unit": "USD",
        "error_code": None,
        "error_message": None,
        "messaging_service_sid": row.get("messaging_service_sid"),
        "uri": f"/2010-04-01/Accounts/{row['account_sid']}/Messages/{row['id']}.json",
        "subresource_uris": {},
    }


def basic_auth_user(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


# The pauses between the tries of a status callback that cannot connect (None: the last try).
CALLBACK_RETRIES: tuple[float | None, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, None)


class Callbacks:
    """Advances each message like Twilio does (queued -> sent -> delivered), POSTing every status to the
    message's StatusCallback, signed with the account's auth token (`X-Twilio-Signature`). A callback that
    cannot connect is retried with backoff for about a minute, as Twilio's connection overrides (`#rc=`)
    retry it: the replica that sent the message may be restarting."""

    def __init__(self, store: SmsStore) -> None:
        self.store = store
        self._http: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        if self._http is None:  # inside the running loop, once; the connector queues beyond CALLBACKS
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CALLBACKS), timeout=aiohttp.ClientTimeout(total=5.0)
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def report(self, row: Row, auth_token: str) -> None:
        url: str | None = row.get("status_callback")
        for status in ("sent", "delivered"):
            await asyncio.sleep(0.05)
            self.store.status[row["id"]] = status
            if not url:
                continue
            form = {
                "MessageSid": row["id"],
                "SmsSid": row["id"],
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": row["account_sid"],
                "To": row["to"],
                "From": row["from"],
                "ApiVersion": "2010-04-01",
            }
            signature = RequestValidator(auth_token).compute_signature(url, form)
            for attempt, pause in enumerate(CALLBACK_RETRIES, 1):
                try:
                    async with self.http().post(
                        url, data=form, headers={"X-Twilio-Signature": signature}
                    ) as resp:
                        await resp.read()
                    break
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("status callback %s for %s failed (try %d): %r", url, row["id"], attempt, exc)
                    if pause is None:
                        break
                    await asyncio.sleep(pause)


class FaultControl(BaseModel):
    fail_next: int | None = Field(None, ge=0)
    failing: bool | None = None
    status: int = 503


def create_app(store: SmsStore, callbacks: Callbacks) -> FastAPI:
    app = FastAPI(title="devstack SMS sink")

    @app.post(API + "/Messages.json", status_code=201)
    async def create_message(account_sid: str, request: Request, tasks: BackgroundTasks) -> Any:
        auth = basic_auth_user(request)
        if auth is None or auth[0] != account_sid:
            return twilio_error(401, 20003, "Authentication Error - invalid username")
        fault = store.fault
        if fault.take():
            return twilio_error(fault.status, 20000 + fault.status, ERROR_TEXT.get(fault.status, "Error"))
        form = await request.form()
        to, body = str(form.get("To") or ""), str(form.get("Body") or "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not E164.match(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        row: Row = {
            "id": "SM" + secrets.token_hex(16),
            "received_at": utc_now().isoformat(),
            "account_sid": account_sid,
            "to": to,
            "from": str(sender or ""),
            "body": body,
            "num_segments": segments(body),
            "status_callback": form.get("StatusCallback") or None,
            "messaging_service_sid": service or None,
        }
        store.append(row)
        store.status[row["id"]] = "queued"
        tasks.add_task(callbacks.report, row, auth[1])
        return message_resource(row, "queued")

    @app.get(API + "/Messages/{sid}.json")
    async def fetch_message(account_sid: str, sid: str) -> Any:
        row = store.find(sid)
        if row is None or row["account_sid"] != account_sid:
            return twilio_error(
                404,
                20404,
                f"The requested resource /2010-04-01/Accounts/{account_sid}"
                f"/Messages/{sid}.json was not found",
            )
        return message_resource(row, store.status.get(sid, "delivered"))

    @app.get("/sms")
    async def list_sms(to: str | None = None, last: int | None = Query(None, ge=1, le=10_000)) -> Response:
        """Accepted SMS, oldest first (to one number; only the `last` n)."""
        # an unencoded '+' arrives as a space
        rows = store.rows if to is None else store.to(to.strip().replace(" ", "+"))
        if last is not None:
            rows = rows[-last:]
        return Response(json.dumps(rows, ensure_ascii=False), media_type="application/json")

    @app.delete("/sms", status_code=204)
    async def clear_sms() -> None:
        store.clear()

    @app.post("/_control/reset")
    async def reset_faults() -> dict[str, Any]:
        store.fault = Fault()
        return {"sms": vars(store.fault)}

    @app.post("/_control/sms")
    async def control(spec: FaultControl) -> Any:
        if not (spec.status == 429 or 500 <= spec.status <= 599):
            return JSONResponse({"detail": "status must be 429 or 5xx"}, status_code=422)
        fault = store.fault
        if spec.fail_next is not None:
            fault.fail_next = spec.fail_next
        if spec.failing is not None:
            fault.failing = spec.failing
        fault.status = spec.status
        return vars(fault)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        def row(*cells: str) -> str:
            return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"

        recent = "".join(row(r["received_at"], r["to"], r["body"]) for r in reversed(store.rows[-200:]))
        return (
            "<!doctype html><meta charset=utf-8><title>SMS sink</title>"
            f"<h1>SMS ({len(store.rows)}, the latest 200)</h1><table>{recent}</table>"
        )

    return app
