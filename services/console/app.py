"""The console's composition root: settings, the session cookie, the OIDC client, the services' HTTP client,
the templates and the routes (login and logout here, the centres' pages in pages*.py)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.console import pages, pages_buyer, pages_merchant, pages_operator, pages_provider, web
from services.console.backend import Services
from services.console.i18n import CATALOGUE, countdown, negotiate, translator
from services.console.menu import home_for, menu_for
from services.console.oidc import LoginRequired, log_in, oauth_client
from services.console.session import SessionCodec, SessionMiddleware
from services.console.settings import ConsoleSettings

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "koo_lang"
BEIJING = ZoneInfo("Asia/Shanghai")  # the marketplace's times are Beijing times (dossier §4.3)


def when(value: Any) -> str:
    """An ISO timestamp as Beijing wall-clock time, to the minute."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def create_app(settings: ConsoleSettings) -> FastAPI:
    key = settings.session_key.get_secret_value() or Fernet.generate_key().decode()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["when"] = when
    templates.env.globals["countdown"] = countdown

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.service_timeout_seconds) as http:
            app.state.services = Services(settings.service_urls, http)
            yield

    app = FastAPI(
        title="KooGallery console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.oidc = oauth_client(settings)
    app.state.render = lambda request, name, status=200, **ctx: render(
        templates, request, name, status, **ctx
    )
    app.add_middleware(
        SessionMiddleware,
        codec=SessionCodec(key, settings.session_max_age_seconds),
        secure=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        user = request.session.get("user")
        if user and home_for(user["role"]) != "/":
            return RedirectResponse(home_for(user["role"]), status_code=303)
        return render(templates, request, "home.html")

    @app.get("/login")
    async def login(request: Request) -> Response:
        redirect: Response = await app.state.oidc.authorize_redirect(
            request, f"{settings.public_url}/auth/callback", ui_locales=locale_of(request)
        )
        return redirect

    @app.get("/auth/callback")
    async def callback(request: Request) -> Response:
        try:
            await log_in(request, app.state.oidc, settings)
        except LoginRequired as exc:
            return render(templates, request, "home.html", status=400, error={"message": str(exc)})
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await web.check_csrf(request)
        id_token = (request.session.get("tokens") or {}).get("id", "")
        request.session.clear()
        # RP-initiated logout ends the identity provider's session too, then comes back to the landing page.
        redirect: Response = await app.state.oidc.logout_redirect(
            request,
            post_logout_redirect_uri=f"{settings.public_url}/",
            id_token_hint=id_token or None,
            client_id=settings.oidc_client_id,
        )
        return redirect

    @app.get("/lang")
    async def switch_language(to: str, next: str = "/") -> Response:
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(target, status_code=303)
        if to in CATALOGUE:
            resp.set_cookie(
                LANG_COOKIE, to, max_age=365 * 86400, samesite="lax", secure=settings.secure_cookies
            )
        return resp

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(web.CsrfRefused)
    async def _csrf(request: Request, exc: web.CsrfRefused) -> Response:
        t = translator(locale_of(request))
        return render(templates, request, "home.html", status=403, error={"message": t("error.csrf")})

    app.include_router(pages.router)
    app.include_router(pages_buyer.router)
    app.include_router(pages_merchant.router)
    app.include_router(pages_operator.router)
    app.include_router(pages_provider.router)
    return app


def locale_of(request: Request) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language", ""))


def render(
    templates: Jinja2Templates, request: Request, name: str, status: int = 200, **ctx: Any
) -> Response:
    """Every page gets its locale's words, the user and their menu, the CSRF token and a flash message."""
    locale = locale_of(request)
    user = request.session.get("user")
    if user and "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    context = {
        "t": translator(locale),
        "locale": locale,
        "other_locale": "zh-CN" if locale == "en-US" else "en-US",
        "user": user,
        "menu": menu_for(user["role"]) if user else (),
        "csrf": request.session.get("csrf", ""),
        "form_key": secrets.token_urlsafe(12),  # this render's forms' Idempotency-Key (web.idempotency_key)
        "flash": request.session.pop("flash", None),
        "path": request.url.path,
        **ctx,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)
