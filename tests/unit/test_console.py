"""The console's own rules: the session cookie (round trip, tampering, chunking, expiry), the login's PKCE and
state checks, the catalogue (every key in both locales, every key the templates use), the role → menu mapping,
and the services' refusals turned into readable messages."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.integrations.starlette_client import OAuthError
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from services.console.app import create_app
from services.console.backend import error_of
from services.console.i18n import (
    APPEAL_STATUSES,
    CATALOGUE,
    DELIVERY_TYPES,
    LOCALES,
    ORDER_STATUSES,
    negotiate,
)
from services.console.menu import MENUS, home_for, menu_for
from services.console.oidc import LoginRequired, access_token, roles_of, session_from_tokens
from services.console.pages_operator import DEAD_LETTER_SERVICES
from services.console.session import CHUNK, COOKIE, SessionCodec
from services.console.settings import ConsoleSettings

ISSUER = "http://idp.example/realms/koogallery"
TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "console" / "templates"


def codec(key: str | None = None, max_age: int = 3600) -> SessionCodec:
    return SessionCodec(key or Fernet.generate_key().decode(), max_age)


def as_cookies(chunks: list[str]) -> dict[str, str]:
    return {f"{COOKIE}.{i}": c for i, c in enumerate(chunks)}


# --- the session cookie ---------------------------------------------------------------------------------
def test_a_session_survives_the_round_trip() -> None:
    c = codec()
    session = {"user": {"sub": "b1", "role": "buyer"}, "tokens": {"access": "a" * 50}, "csrf": "x"}
    assert c.decode(as_cookies(c.encode(session))) == session


def test_a_session_larger_than_a_cookie_is_split_and_joined() -> None:
    c = codec()
    session = {"tokens": {"access": "a" * 1500, "refresh": "r" * 900, "id": "i" * 1400}}
    chunks = c.encode(session)
    assert len(chunks) == 2
    assert all(len(chunk) <= CHUNK for chunk in chunks)
    assert c.decode(as_cookies(chunks)) == session
    assert c.decode(as_cookies(chunks[:1])) == {}  # a lost chunk is no session, not an error


def test_a_tampered_session_is_no_session() -> None:
    c = codec()
    [token] = c.encode({"user": {"sub": "b1", "role": "buyer"}})
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert c.decode(as_cookies([flipped])) == {}


def test_a_session_under_another_key_is_no_session() -> None:
    chunks = codec().encode({"user": {"sub": "b1", "role": "operator"}})
    assert codec().decode(as_cookies(chunks)) == {}


def test_an_expired_session_is_no_session() -> None:
    c = codec(max_age=60)
    key = Fernet.generate_key()
    c._fernet = Fernet(key)
    old = Fernet(key).encrypt_at_time(b'{"user": {"sub": "b1"}}', int(time.time()) - 120).decode()
    assert c.decode(as_cookies([old])) == {}


# --- login: PKCE and state ----------------------------------------------------------------------------
def settings() -> ConsoleSettings:
    return ConsoleSettings(
        SUITE_ENV="dev", OIDC_ISSUER_URL=ISSUER, session_key=Fernet.generate_key().decode()
    )


def console() -> TestClient:
    app = create_app(settings())
    app.state.oidc.server_metadata.update(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/protocol/openid-connect/auth",
        token_endpoint=f"{ISSUER}/protocol/openid-connect/token",
        end_session_endpoint=f"{ISSUER}/protocol/openid-connect/logout",
        _loaded_at=time.time(),  # no discovery request: the test has no identity provider
    )
    return TestClient(app, base_url="http://127.0.0.1:8005")


def test_login_redirects_with_pkce_s256_and_a_state_kept_in_the_session() -> None:
    with console() as client:
        resp = client.get("/login", follow_redirects=False)
        assert resp.status_code == 302
        url = urlsplit(resp.headers["location"])
        query = parse_qs(url.query)
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/protocol/openid-connect/auth"
        assert query["code_challenge_method"] == ["S256"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"][0])  # base64url of a SHA-256
        assert query["response_type"] == ["code"]
        assert query["redirect_uri"] == ["http://127.0.0.1:8005/auth/callback"]
        assert "openid" in query["scope"][0].split()
        assert query["state"][0]
        assert query["nonce"][0]
        # The state, nonce and PKCE verifier live in the encrypted cookie, not in the browser's sight.
        cookie = resp.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert query["state"][0] not in cookie


def test_a_callback_with_another_state_is_refused_without_a_token_request() -> None:
    with console() as client:
        client.get("/login", follow_redirects=False)
        resp = client.get("/auth/callback", params={"code": "stolen", "state": "forged"})
        assert resp.status_code == 400
        assert "login failed" in resp.text
        assert "tokens" not in resp.text
        # Still not logged in: the orders page sends the browser to log in.
        assert client.get("/buyer/orders", follow_redirects=False).headers["location"] == "/login"


def test_a_form_post_without_the_sessions_csrf_token_is_refused() -> None:
    with console() as client:
        resp = client.post("/inbox/read-all", data={"csrf": "guess"})
        assert resp.status_code == 403
        assert "did not come from this console" in resp.text


def test_production_refuses_the_dev_defaults() -> None:
    with pytest.raises(ValueError, match="CONSOLE_SESSION_KEY"):
        ConsoleSettings(SUITE_ENV="production", OIDC_ISSUER_URL=ISSUER)
    with pytest.raises(ValueError, match="dev realm"):
        ConsoleSettings(
            SUITE_ENV="production", OIDC_ISSUER_URL=ISSUER, session_key=Fernet.generate_key().decode()
        )


# --- words --------------------------------------------------------------------------------------------
def test_every_key_is_in_both_locales_and_none_is_empty() -> None:
    keys = {locale: set(CATALOGUE[locale]) for locale in LOCALES}
    assert keys["en-US"] == keys["zh-CN"]
    assert not [(loc, k) for loc in LOCALES for k, v in CATALOGUE[loc].items() if not v.strip()]


def test_every_word_the_templates_use_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_]+)["']\s*\)""", template.read_text()))
    assert len(used) > 40
    assert used - set(CATALOGUE["en-US"]) == set()
    # Keys built from a service's values (roles, statuses, deadline kinds, outcomes) exist for each value.
    for prefix, values in {
        "role": ("buyer", "merchant", "provider", "operator", "system"),
        "status": ("active", "frozen", "refunding", "completed", "refunded"),
        "deadline": ("auto_acceptance", "appeal_sla", "idle", "long_running"),
        "outcome": ("resume", "complete", "refund"),
        "product": ("draft", "pending_review", "listed", "rejected"),
        "delivery": DELIVERY_TYPES,
        "queue.status_": APPEAL_STATUSES,
        "call": ("pending", "succeeded", "failed", "cancelled"),
        "service": DEAD_LETTER_SERVICES,
        "order_status": ORDER_STATUSES,
        "refund_state": ("requested", "approved", "rejected"),
        "offer_status": ("effective", "manual_handling", "rejected", "withdrawn"),
        "demand_status": ("submitted", "offered", "won"),
    }.items():
        keys = {f"{prefix}{v}" if prefix.endswith("_") else f"{prefix}.{v}" for v in values}
        assert keys <= set(CATALOGUE["zh-CN"])
    # The countdown's and the dead letters' words have the placeholder they are formatted with.
    for locale in LOCALES:
        for key in ("sla.left", "sla.overdue", "unit.day", "unit.hour", "unit.minute", "dead.letters"):
            assert CATALOGUE[locale][key].count("{}") == 1, (locale, key)


@pytest.mark.parametrize(
    ("choice", "header", "locale"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "en-GB,en;q=0.9", "en-US"),
        (None, "fr-FR, zh-TW;q=0.5", "zh-CN"),
        (None, "", "en-US"),
        ("en-US", "zh-CN", "en-US"),  # the user's own switch wins
        ("xx", "zh", "zh-CN"),
    ],
)
def test_the_locale_follows_the_switch_then_accept_language(
    choice: str | None, header: str, locale: str
) -> None:
    assert negotiate(choice, header) == locale


# --- the role decides the menu ------------------------------------------------------------------------
def test_each_role_has_its_own_menu_and_the_inbox() -> None:
    assert [i.href for i in menu_for("buyer")] == [
        "/buyer/orders",
        "/service-orders",
        "/buyer/favourites",
        "/messages/recipients",
        "/inbox",
    ]
    assert [i.href for i in menu_for("operator")] == [
        "/operator/appeals",
        "/service-orders",
        "/operator/products",
        "/operator/offers",
        "/operator/dead",
        "/inbox",
    ]
    assert [i.href for i in menu_for("provider")] == ["/provider/ledger", "/provider/selling", "/inbox"]
    assert [i.href for i in menu_for("merchant")] == [
        "/service-orders",
        "/merchant/products",
        "/merchant/console",
        "/inbox",
    ]
    assert set(MENUS) == {"buyer", "merchant", "provider", "operator"}
    assert all(item.label in CATALOGUE["zh-CN"] for items in MENUS.values() for item in items)


def test_no_single_marketplace_role_no_menu() -> None:
    assert menu_for("") == ()
    assert home_for("payment-system") == "/"


def test_the_role_comes_from_the_realm_roles_claim() -> None:
    claims = {"realm_access": {"roles": ["offline_access", "buyer"]}}
    assert roles_of(claims, "realm_access.roles") == {"offline_access", "buyer"}
    assert roles_of({"realm_access": {}}, "realm_access.roles") == frozenset()


# --- the services' refusals -----------------------------------------------------------------------------
def test_a_domain_refusal_names_its_field_and_reason() -> None:
    resp = httpx.Response(
        422, json={"detail": {"code": "invalid", "message": "the file is empty", "field": "file"}}
    )
    error = error_of(resp)
    assert (error.status, error.field, error.message) == (422, "file", "the file is empty")


def test_a_validation_refusal_names_the_body_field() -> None:
    resp = httpx.Response(
        422, json={"detail": [{"loc": ["body", "reason"], "msg": "String should have at least 1 character"}]}
    )
    error = error_of(resp)
    assert (error.field, error.message) == ("reason", "String should have at least 1 character")


# --- the access token is renewed with the refresh token -------------------------------------------------
class FakeIssuer:
    """The OIDC client's token endpoint: answers a refresh with a new token, or refuses it."""

    def __init__(self, answer: dict[str, object] | None) -> None:
        self.answer, self.asked = answer, []

    async def fetch_access_token(self, **form: str) -> dict[str, object]:
        self.asked.append(form)
        if self.answer is None:
            raise OAuthError(error="invalid_grant", description="Token is not active")
        return self.answer


class FakeRequest:
    def __init__(self, session: dict[str, object]) -> None:
        self.session = session


def access(sub: str, role: str, username: str = "b") -> str:
    claims = {"sub": sub, "realm_access": {"roles": [role, "offline_access"]}, "preferred_username": username}
    return jwt.encode(claims, "k" * 32, algorithm="HS256")  # the console reads claims, the services verify


def logged_in(expires_in: float) -> dict[str, object]:
    session = session_from_tokens(
        {
            "access_token": access("b1", "buyer"),
            "refresh_token": "r1",
            "id_token": "i1",
            "expires_in": expires_in,
        },
        "realm_access.roles",
    )
    return {**session, "csrf": "c"}


async def test_a_fresh_access_token_is_used_as_it_is() -> None:
    issuer, request = FakeIssuer(None), FakeRequest(logged_in(300))
    assert await access_token(request, issuer, settings()) == access("b1", "buyer")  # type: ignore[arg-type]
    assert issuer.asked == []


async def test_an_expiring_access_token_is_renewed_with_the_refresh_token() -> None:
    renewed = access("b1", "buyer", "b2")
    issuer = FakeIssuer({"access_token": renewed, "refresh_token": "r2", "expires_in": 300})
    request = FakeRequest(logged_in(5))
    token = await access_token(request, issuer, settings())  # type: ignore[arg-type]
    assert issuer.asked == [{"grant_type": "refresh_token", "refresh_token": "r1"}]
    assert token == renewed
    tokens = request.session["tokens"]
    assert isinstance(tokens, dict)
    assert tokens["refresh"] == "r2"
    assert tokens["id"] == "i1"  # kept for the logout's id_token_hint
    assert tokens["expires_at"] > time.time() + 200
    assert request.session["user"] == {"sub": "b1", "username": "b2", "name": "b2", "role": "buyer"}


async def test_a_refused_refresh_logs_the_user_out() -> None:
    request = FakeRequest(logged_in(5))
    with pytest.raises(LoginRequired):
        await access_token(request, FakeIssuer(None), settings())  # type: ignore[arg-type]
    assert request.session == {}
