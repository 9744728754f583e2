"""Who is calling: every service is an OAuth2 / OpenID Connect resource server.

A caller proves who it is with `Authorization: Bearer <JWT>` issued by the identity provider (Keycloak in the
dev stack, any OIDC issuer in production). Each service verifies the token itself, with PyJWT:

- the signature, against the issuer's JWKS, found through its discovery document and cached; a token signed
  with a key id the cache does not know makes PyJWT refetch the JWKS (at most once per cool-down), so a key
  rotation at the issuer needs no restart here;
- `iss` (exactly the configured issuer), `aud` (this service's audience), `exp` / `nbf` / `iat` with a small
  leeway, a `sub`, and an algorithm allow-list (asymmetric only: a token can never pick `none` or an HMAC
  keyed with our public key).

The account and its roles come from the claims: `sub` is the account id, the realm roles say what it is.
Nothing a caller writes in a header or a body names who it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import httpx
import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWK, PyJWKClient, PyJWKSet

from shared.platform import metrics
from shared.platform.errors import DomainError, Forbidden, Unavailable
from shared.schemas import AccountRole

log = logging.getLogger("auth")

# Asymmetric algorithms only. HS* would let anyone holding the (public) key mint tokens; `none` signs nothing.
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
SERVICE_ROLES = frozenset({"payment-system"})  # machine callers (client-credentials service accounts)
PARTY_ROLES = frozenset(r.value for r in AccountRole)


class Unauthorized(DomainError):
    """No valid credentials: 401 with a `WWW-Authenticate: Bearer ...` challenge (RFC 6750 §3)."""

    code = "unauthorized"

    def __init__(self, message: str, *, error: str = "invalid_token", reason: str = "invalid") -> None:
        super().__init__(message)
        self.error = error
        self.reason = reason  # a short, fixed word for the metrics: missing, malformed, expired, audience...

    @property
    def challenge(self) -> str:
        description = self.message.replace('"', "'")
        return f'Bearer realm="koogallery", error="{self.error}", error_description="{description}"'


class IssuerUnavailable(Unavailable):
    """The token names a key we could not fetch because the issuer is unreachable: retry later."""

    code = "issuer_unavailable"


@dataclass(frozen=True)
class Principal:
    """The verified caller. `account_id` is the token's subject; roles are the issuer's realm roles."""

    account_id: str
    roles: frozenset[str]
    client_id: str = ""
    username: str = ""
    name: str = ""
    email: str | None = None
    email_verified: bool = False
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def role(self) -> AccountRole | None:
        """The one marketplace role of a person's account (buyer, merchant, provider or operator).

        An account holds exactly one: the suite's rules (who is the buyer of an order, who may review) assume
        it, so a token with none or several is refused wherever a role matters (`require_role`)."""
        held = self.roles & PARTY_ROLES
        return AccountRole(next(iter(held))) if len(held) == 1 else None

    @property
    def is_operator(self) -> bool:
        return self.role is AccountRole.OPERATOR

    def has(self, role: str) -> bool:
        return role in self.roles


class KeySource(Protocol):
    async def key_for(self, token: str) -> PyJWK: ...


class OidcKeys:
    """The issuer's signing keys: discovery document → `jwks_uri` → PyJWT's JWKS client (cached, refreshed
    on an unknown `kid` after a cool-down). Discovery happens on first use, so a service starts while the
    identity provider is still starting; until it answers, authenticated calls get 503."""

    def __init__(
        self,
        issuer: str,
        discovery_url: str = "",
        *,
        cache_seconds: float = 300,
        cooldown_seconds: float = 30,
        timeout: float = 5,
    ) -> None:
        self.issuer = issuer
        self.discovery_url = discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        self.cache_seconds, self.cooldown_seconds, self.timeout = cache_seconds, cooldown_seconds, timeout
        self._client: PyJWKClient | None = None
        self._lock = asyncio.Lock()

    async def _jwks_client(self) -> PyJWKClient:
        async with self._lock:
            if self._client is None:
                try:
                    async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                        resp = await http.get(self.discovery_url)
                        resp.raise_for_status()
                        doc = resp.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise IssuerUnavailable(
                        f"the identity provider's discovery document is unavailable: {type(exc).__name__}"
                    ) from exc
                if doc.get("issuer") != self.issuer:
                    raise IssuerUnavailable(
                        f"the discovery document names issuer {doc.get('issuer')!r}, "
                        f"not the configured {self.issuer!r}"
                    )
                self._client = PyJWKClient(
                    doc["jwks_uri"],
                    lifespan=self.cache_seconds,
                    cooldown_duration=self.cooldown_seconds,
                    timeout=self.timeout,
                )
            return self._client

    async def key_for(self, token: str) -> PyJWK:
        client = await self._jwks_client()
        try:
            # Usually a cache hit; a fetch (first use, expiry, unknown kid) is blocking I/O: off the loop.
            return await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailable("the identity provider's keys are unavailable") from exc
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise Unauthorized(f"the token's signing key is unknown: {exc}", reason="unknown_key") from exc


class StaticKeys:
    """A fixed JWKS (unit and service tests sign tokens with a test key)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys = PyJWKSet.from_dict(dict(jwks))

    async def key_for(self, token: str) -> PyJWK:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.DecodeError as exc:
            raise Unauthorized(f"malformed token: {exc}", reason="malformed") from exc
        for key in self.keys.keys:
            if key.key_id == kid:
                return key
        raise Unauthorized(f"the token's signing key is unknown: {kid!r}", reason="unknown_key")


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: float = 30,
        roles_claim: str = "realm_access.roles",
    ) -> None:
        self.keys, self.issuer, self.audience = keys, issuer, audience
        self.algorithms = [a for a in algorithms if not a.upper().startswith("HS") and a.lower() != "none"]
        if not self.algorithms:
            raise ValueError("the algorithm allow-list must name at least one asymmetric algorithm")
        self.leeway, self.roles_claim = leeway_seconds, roles_claim

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthorized(f"malformed token: {exc}", reason="malformed") from exc
        if header.get("alg") not in self.algorithms:
            raise Unauthorized(
                f"tokens signed with {header.get('alg')!r} are not accepted; accepted: "
                f"{', '.join(self.algorithms)}",
                reason="algorithm",
            )
        key = await self.keys.key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired", reason="expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("the token is not valid yet", reason="not_yet_valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(
                f"the token is not meant for this service (audience {self.audience})", reason="audience"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(
                "the token was not issued by the configured identity provider", reason="issuer"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        return principal_from(claims, self.roles_claim)


def principal_from(claims: Mapping[str, Any], roles_claim: str = "realm_access.roles") -> Principal:
    node: Any = claims
    for part in roles_claim.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    roles = frozenset(r for r in node if isinstance(r, str)) if isinstance(node, list) else frozenset()
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= 128:
        raise Unauthorized("the token has no usable subject", reason="subject")
    email = claims.get("email")
    return Principal(
        account_id=sub,
        roles=roles,
        client_id=str(claims.get("azp") or ""),
        username=str(claims.get("preferred_username") or ""),
        name=str(claims.get("name") or ""),
        email=email if isinstance(email, str) else None,
        email_verified=claims.get("email_verified") is True,
        claims=claims,
    )


# --- FastAPI ------------------------------------------------------------------------------------------

# Declares the scheme in the OpenAPI document (so /docs can authorize). auto_error=False: the refusal is ours,
# a 401 with the RFC 6750 challenge, not FastAPI's generic one.
bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    scheme_name="bearer",
    description="An access token from the identity provider (OIDC). `python -m devstack token "
    "<user>` prints one for a demo user of the dev stack.",
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)", reason="missing")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        principal = await verifier.verify(credentials.credentials)
    except (Unauthorized, IssuerUnavailable) as exc:  # a token was given, and refused or not verifiable
        metrics.token_rejected(
            request.app, exc.reason if isinstance(exc, Unauthorized) else "issuer_unavailable"
        )
        raise
    request.state.principal = principal
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        await audit.begin(request, principal)
    return principal


async def authenticate_if_present(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal | None:
    """Public reads: anonymous callers are welcome; a token, if given, must be valid."""
    if credentials is None:
        return None
    return await authenticate(request, credentials)


Caller = Annotated[Principal, Depends(authenticate)]
OptionalCaller = Annotated[Principal | None, Depends(authenticate_if_present)]


def require_role(*roles: AccountRole | str, rule: str) -> Any:
    """A dependency admitting only callers holding one of `roles`; the 403 names `rule`."""
    wanted = frozenset(str(r) for r in roles)

    async def check(principal: Caller) -> Principal:
        if not principal.roles & wanted:
            held = ", ".join(sorted(principal.roles & (PARTY_ROLES | SERVICE_ROLES))) or "none"
            raise Forbidden(
                f"only {' or '.join(sorted(wanted))} callers may do this (the token's roles: {held})",
                rule=rule,
            )
        if principal.roles & PARTY_ROLES and principal.role is None:
            raise Forbidden(
                "the account holds several marketplace roles; it must hold exactly one",
                rule="one_marketplace_role",
            )
        return principal

    return Depends(check)


Operator = Annotated[Principal, require_role(AccountRole.OPERATOR, rule="operators_only")]
Buyer = Annotated[Principal, require_role(AccountRole.BUYER, rule="buyers_only")]
Merchant = Annotated[Principal, require_role(AccountRole.MERCHANT, rule="merchants_only")]
Provider = Annotated[Principal, require_role(AccountRole.PROVIDER, rule="providers_only")]
Party = Annotated[Principal, require_role(*PARTY_ROLES, rule="marketplace_accounts_only")]
PaymentSystem = Annotated[Principal, require_role("payment-system", rule="payment_system_only")]


def is_party(principal: Principal, *account_ids: str | None) -> bool:
    return principal.account_id in {a for a in account_ids if a}


def require_party(principal: Principal, *account_ids: str | None, what: str, operators: bool = False) -> None:
    """403 unless the caller is one of `account_ids` (or, where allowed, an operator)."""
    if is_party(principal, *account_ids) or (operators and principal.is_operator):
        return
    raise Forbidden(
        f"account {principal.account_id} is not a party of {what}",
        rule="parties_only" if not operators else "parties_and_operators_only",
    )
