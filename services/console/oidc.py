"""Logging in: OIDC authorization code with PKCE (S256), as a confidential client, through Authlib's Starlette
client (discovery, state, nonce, the PKCE verifier kept in the session between redirect and callback, the ID
token's signature, issuer, audience and nonce checked against the issuer's keys). Logout is RP-initiated
(the issuer's end-session endpoint with the ID token as hint).

The tokens stay here, in the encrypted session cookie; the access token is renewed with the refresh token
shortly before it expires. The role that picks the menu is read from the access token's claims as the services
read it (`realm_access.roles`, one marketplace role per account, `shared.platform.auth.Principal.role`): the
token came straight from the issuer's token endpoint over the back channel (OIDC Core §3.1.3.7), and every
service verifies it again on each call, so the console decodes it without a second signature check.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request

from services.console.settings import ConsoleSettings
from shared.platform.auth import Principal

REFRESH_MARGIN_SECONDS = 30


class LoginRequired(Exception):
    """No session, or one whose tokens can no longer be renewed: the user logs in again."""


def oauth_client(settings: ConsoleSettings) -> Any:
    oauth = OAuth()
    discovery = settings.oidc_discovery_url or (
        f"{settings.oidc_issuer_url.rstrip('/')}/.well-known/openid-configuration"
    )
    return oauth.register(
        name="idp",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        server_metadata_url=discovery,
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )


def roles_of(claims: dict[str, Any], path: str) -> frozenset[str]:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part, {}) if isinstance(value, dict) else {}
    return frozenset(str(r) for r in value) if isinstance(value, list) else frozenset()


def session_from_tokens(token: dict[str, Any], roles_claim: str) -> dict[str, Any]:
    """What the session keeps of a token response: who the user is and the tokens themselves."""
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    principal = Principal(str(claims["sub"]), roles_of(claims, roles_claim))
    now = time.time()
    return {
        "user": {
            "sub": principal.account_id,
            "username": str(claims.get("preferred_username", "")),
            "name": str(claims.get("name") or claims.get("preferred_username") or ""),
            "role": principal.role.value if principal.role else "",
        },
        "tokens": {
            "access": token["access_token"],
            "refresh": token.get("refresh_token", ""),
            "id": token.get("id_token", ""),
            "expires_at": now + float(token.get("expires_in", 60)),
        },
    }


async def log_in(request: Request, client: Any, settings: ConsoleSettings) -> dict[str, Any]:
    """The callback: Authlib checks the state against the session, sends the PKCE verifier, checks the ID
    token; then the session is replaced (a fresh CSRF token: nothing from before the login carries over)."""
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        raise LoginRequired(f"login failed: {exc.error}: {exc.description}") from exc
    session = session_from_tokens(token, settings.oidc_roles_claim)
    request.session.clear()
    request.session.update(session, csrf=secrets.token_urlsafe(24))
    return session


async def access_token(request: Request, client: Any, settings: ConsoleSettings) -> str:
    """The user's access token, renewed first when it is about to expire."""
    tokens = request.session.get("tokens")
    if not tokens:
        raise LoginRequired("not logged in")
    if float(tokens["expires_at"]) - time.time() > REFRESH_MARGIN_SECONDS:
        return str(tokens["access"])
    if not tokens.get("refresh"):
        request.session.clear()
        raise LoginRequired("the session has expired")
    try:
        renewed = await client.fetch_access_token(grant_type="refresh_token", refresh_token=tokens["refresh"])
    except OAuthError as exc:  # the refresh token expired or the issuer ended the session
        request.session.clear()
        raise LoginRequired("the session has expired") from exc
    fresh = session_from_tokens(
        {"id_token": tokens.get("id", ""), "refresh_token": tokens["refresh"], **renewed},
        settings.oidc_roles_claim,
    )
    request.session.update(fresh)
    return str(fresh["tokens"]["access"])
