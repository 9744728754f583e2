"""HTTP conventions: how refusals look (status, stable code, the field or the rule, the reason).

Who is calling is decided in `shared.platform.auth` from a verified bearer token, never from a header that
names an account.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure

from shared.platform import audit
from shared.platform.auth import OidcKeys, TokenVerifier, Unauthorized
from shared.platform.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    LimitReached,
    NotFound,
    TooLarge,
    Unavailable,
)
from shared.platform.settings import ServiceSettings

log = logging.getLogger("http")


def verifier_for(settings: ServiceSettings) -> TokenVerifier:
    """Tokens of the configured issuer, for this service's audience, keys from the issuer's discovery
    document."""
    return TokenVerifier(
        OidcKeys(settings.oidc_issuer_url, settings.oidc_discovery_url),
        issuer=settings.oidc_issuer_url,
        audience=settings.audience,
        algorithms=settings.oidc_algorithms,
        leeway_seconds=settings.oidc_leeway_seconds,
        roles_claim=settings.oidc_roles_claim,
    )


def install_security(app: FastAPI, verifier: TokenVerifier, audit_log: audit.AuditLog | None = None) -> None:
    """Bearer-token verification, the operators' audit log and its route, and the error shapes."""
    app.state.verifier = verifier
    if audit_log is not None:
        app.state.audit = audit_log
    app.add_middleware(audit.AuditMiddleware)
    app.include_router(audit.router)
    install_error_handlers(app)


# The HTTP status of each kind of refusal, the most specific first; anything else a rule refuses is a conflict
# with the current state (409).
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (TooLarge, 413),
    (InvalidInput, 422),
    (LimitReached, 429),
    (Unavailable, 503),
    (DomainError, 409),
)


def status_of(exc: DomainError) -> int:
    return next(status for kind, status in STATUS if isinstance(exc, kind))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            detail["field"] = exc.field
        if exc.rule:
            detail["rule"] = exc.rule
        headers = {"WWW-Authenticate": exc.challenge} if isinstance(exc, Unauthorized) else None
        if isinstance(exc, LimitReached) and exc.retry_after is not None:
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(status_code=status_of(exc), content={"detail": detail}, headers=headers)

    @app.exception_handler(ConnectionFailure)
    async def _database_away(_: Request, exc: ConnectionFailure) -> JSONResponse:
        """The database is unreachable for a moment (a restart, a failover): a 503 with Retry-After, not a
        500.
        A retry with the same Idempotency-Key applies nothing twice (effects.py)."""
        log.warning("database unreachable while answering a request: %s", exc)
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "1"},
            content={
                "detail": {
                    "code": "unavailable",
                    "message": "the database is unreachable for a moment; retry the request",
                }
            },
        )
