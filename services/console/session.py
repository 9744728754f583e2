"""The user's session lives in the browser as an encrypted, signed cookie: no session store, no database.

Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) makes the cookie unreadable and tamper-evident: a cookie
that does not decrypt under the key, or is older than the session's maximum age, is an empty session (the user
is logged out), never an error. The tokens it holds (access, refresh, ID) exceed one cookie's 4 KB, so the
value is split across numbered cookies (`koo_console.0`, `.1`, ...) and joined before decrypting. HttpOnly
keeps the tokens away from scripts, SameSite=Lax keeps other sites' posts from carrying it; Secure on https.

`SessionMiddleware` puts the session dict in the ASGI scope (`request.session`, where Authlib keeps the OIDC
state, nonce and PKCE verifier between the redirect and the callback) and writes it back when it changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "koo_console"
CHUNK = 3800  # bytes of value per cookie: under the 4096 a browser keeps, with the name and attributes
MAX_CHUNKS = 8


class SessionCodec:
    def __init__(self, key: str, max_age_seconds: int) -> None:
        self._fernet = Fernet(key)
        self.max_age = max_age_seconds

    def encode(self, session: Mapping[str, Any]) -> list[str]:
        """The session as the values of `COOKIE.0`, `COOKIE.1`, ... in order."""
        token = self._fernet.encrypt(json.dumps(dict(session), separators=(",", ":")).encode()).decode()
        chunks = [token[i : i + CHUNK] for i in range(0, len(token), CHUNK)]
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"the session is too large for {MAX_CHUNKS} cookies")
        return chunks

    def decode(self, cookies: Mapping[str, str]) -> dict[str, Any]:
        """The session from the request's cookies; empty when missing, tampered with, truncated or expired."""
        parts = []
        for i in range(MAX_CHUNKS):
            part = cookies.get(f"{COOKIE}.{i}")
            if part is None:
                break
            parts.append(part)
        if not parts:
            return {}
        try:
            data = json.loads(self._fernet.decrypt("".join(parts).encode(), ttl=self.max_age))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _cookie(name: str, value: str, max_age: int, secure: bool) -> str:
    attributes = f"Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f"{name}={value}; {attributes}"


class SessionMiddleware:
    def __init__(self, app: ASGIApp, codec: SessionCodec, secure: bool) -> None:
        self.app, self.codec, self.secure = app, codec, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _request_cookies(scope)
        scope["session"] = self.codec.decode(cookies)
        before = json.dumps(scope["session"], sort_keys=True)
        present = sorted(n for n in cookies if n.startswith(f"{COOKIE}."))

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                if json.dumps(session, sort_keys=True) != before or (present and not session):
                    headers = MutableHeaders(scope=message)
                    chunks = self.codec.encode(session) if session else []
                    for i, chunk in enumerate(chunks):
                        headers.append(
                            "set-cookie", _cookie(f"{COOKIE}.{i}", chunk, self.codec.max_age, self.secure)
                        )
                    for name in present[len(chunks) :]:  # chunks the smaller session no longer has
                        headers.append("set-cookie", _cookie(name, "", 0, self.secure))
            await send(message)

        await self.app(scope, receive, send_with_session)


def _request_cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed Cookie header is no session, not an error
                continue
    return {k: m.value for k, m in jar.items()}
