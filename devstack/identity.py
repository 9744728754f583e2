"""Callers of the running suite with real tokens from its identity provider.

A `Login` asks the issuer for a token and reuses it until shortly before it expires: a person with the
password grant of the dev realm's CLI client, a machine (the payment system) with client credentials.
`KeycloakAdmin` makes people in the dev realm through Keycloak's admin API (the tests make their own users;
`make run` has the realm file's demo users). Nothing here signs a token: every token comes from the issuer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.keycloak import CLI_CLIENT, REALM

PAYMENT_CLIENT = ("koo-payment", "dev-payment-secret")  # the dev realm's payment system (infra/keycloak)


class LoginFailed(RuntimeError):
    pass


async def token_request(issuer: str, form: dict[str, str]) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            resp = await http.post(f"{issuer}/protocol/openid-connect/token", data=form)
    except httpx.HTTPError as exc:
        raise LoginFailed(f"the identity provider at {issuer} does not answer: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise LoginFailed(f"the issuer refused the token request: {resp.status_code} {resp.text[:200]}")
    return dict(resp.json())


@dataclass
class Login:
    """Someone who can get a token from `issuer` with `form`; `headers()` is what an HTTP call carries."""

    issuer: str
    form: dict[str, str] = field(repr=False)
    _token: str = field(default="", repr=False)
    _expires: float = 0.0

    async def token(self) -> str:
        if not self._token or self._expires - time.monotonic() < 60:
            body = await token_request(self.issuer, self.form)
            self._token, self._expires = (
                str(body["access_token"]),
                time.monotonic() + float(body["expires_in"]),
            )
        return self._token

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}


def person(issuer: str, username: str, password: str) -> Login:
    return Login(
        issuer,
        {"grant_type": "password", "client_id": CLI_CLIENT, "username": username, "password": password},
    )


def machine(issuer: str, client_id: str, secret: str) -> Login:
    return Login(
        issuer, {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )


def payment_system(issuer: str) -> Login:
    return machine(issuer, *PAYMENT_CLIENT)


@dataclass
class User(Login):
    """A person of the realm: its account id is the `sub` of its tokens."""

    account_id: str = ""
    username: str = ""
    role: str = ""
    email: str = ""

    def __str__(self) -> str:
        return self.account_id


class KeycloakAdmin:
    """Makes people in the dev realm (admin API of the stack's own Keycloak)."""

    def __init__(self, base_url: str, admin_password: str) -> None:
        self.base_url, self.issuer = base_url, f"{base_url}/realms/{REALM}"
        self._admin = Login(
            f"{base_url}/realms/master",
            {
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": admin_password,
            },
        )
        self._roles: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def user(self, role: str, *, name: str | None = None, email: str | None = None) -> User:
        """A new person holding one realm role (buyer, merchant, provider or operator)."""
        username = name or f"{role}-{uuid.uuid4().hex[:10]}"
        password, email = uuid.uuid4().hex, email or f"{username}@example.com"
        admin = f"{self.base_url}/admin/realms/{REALM}"
        async with self._lock:  # one admin login at a time
            headers = await self._admin.headers()
        async with httpx.AsyncClient(timeout=15, headers=headers) as http:
            resp = await http.post(
                f"{admin}/users",
                json={
                    "username": username,
                    "enabled": True,
                    "email": email,
                    "emailVerified": True,
                    "firstName": username,
                    "lastName": role.title(),
                    "credentials": [{"type": "password", "value": password, "temporary": False}],
                },
            )
            if resp.status_code != 201:
                raise LoginFailed(f"user creation failed: {resp.status_code} {resp.text[:200]}")
            account_id = resp.headers["Location"].rsplit("/", 1)[-1]
            if role not in self._roles:
                self._roles[role] = (await http.get(f"{admin}/roles/{role}")).raise_for_status().json()
            resp = await http.post(
                f"{admin}/users/{account_id}/role-mappings/realm", json=[self._roles[role]]
            )
            if resp.status_code != 204:
                raise LoginFailed(f"role mapping failed: {resp.status_code} {resp.text[:200]}")
        login = person(self.issuer, username, password)
        return User(self.issuer, login.form, account_id=account_id, username=username, role=role, email=email)
