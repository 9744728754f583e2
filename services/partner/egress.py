"""Calls out to merchants' servers without becoming a way into ours (issue 9, server-side request forgery).

A merchant chooses the address partner calls. Left unchecked, that address could be the cloud metadata
service, the database, or any pod of the cluster, and the merchant console would read their answers back. So:
- an endpoint is https (plain http only where a dev setting allows it), and its host must not resolve to a
  loopback, private, link-local, multicast, unspecified, reserved or configured (cluster) address. That is
  checked when the endpoint is saved (422) and again at every connection;
- at connection time the network backend resolves the name itself, checks every address, and connects to the
  checked address: a DNS answer that changes between the check and the connection (rebinding) cannot swap it.
  TLS still verifies the certificate against the host name (httpcore passes it as the SNI / server_hostname);
- no redirects are followed, the answer is read as a stream and cut at a size limit, the whole call has a
  deadline, and failures are classified (`timeout`, `tls_error`, ...) rather than shown as raw transport text.
Named hosts on the dev allow-list (the test merchants on 127.0.0.1) skip the address check only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from services.partner.settings import PartnerSettings

Resolver = Callable[[str, int], Awaitable[list[str]]]
# (url, headers, query params, body) → (status, response headers, response body)
Sender = Callable[[str, dict[str, str], dict[str, str], bytes], Awaitable[tuple[int, dict[str, str], bytes]]]


class Refused(ValueError):
    """The destination is not one partner may call; the message says why (shown to the merchant)."""


class CallFailure(Exception):
    """A merchant call that did not get an answer. `kind` is the class the console shows (timeout,
    connection_refused, tls_error, blocked_address, response_too_large, ...); `detail` is our own words."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


async def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


async def lookup(host: str, port: int, resolver: Resolver) -> list[str]:
    """An IP literal is its own address; a name is resolved."""
    try:
        return [str(ip_address(host.strip("[]")))]
    except ValueError:
        return await resolver(host, port)


@dataclass(frozen=True)
class EgressPolicy:
    allow_http: bool = False
    allow_hosts: frozenset[str] = frozenset()
    blocked: tuple[IPv4Network | IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: PartnerSettings) -> EgressPolicy:
        return cls(
            allow_http=settings.merchant_endpoint_allow_http,
            allow_hosts=frozenset(settings.merchant_endpoint_allow_hosts),
            blocked=tuple(ip_network(c, strict=False) for c in settings.merchant_endpoint_blocked_cidrs),
        )

    def allowed_host(self, host: str) -> bool:
        return host.strip("[]").lower() in self.allow_hosts

    def blocked_reason(self, address: str) -> str | None:
        """Why partner may not connect to this address, or None."""
        ip: IPv4Address | IPv6Address = ip_address(address)
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        for reason, hit in (
            ("loopback", ip.is_loopback),
            ("link-local", ip.is_link_local),
            ("private", ip.is_private),
            ("multicast", ip.is_multicast),
            ("unspecified", ip.is_unspecified),
            ("reserved", ip.is_reserved),
            ("non-public", not ip.is_global),
        ):
            if hit:
                return reason
        return next(
            (f"blocked ({net})" for net in self.blocked if ip.version == net.version and ip in net), None
        )

    def target(self, url: str) -> tuple[str, int]:
        """The host and port of an endpoint URL partner may call, or Refused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Refused("not a valid URL") from exc
        if parts.scheme != "https" and not (parts.scheme == "http" and self.allow_http):
            raise Refused("merchant endpoints must be https")
        if not parts.hostname:
            raise Refused("the URL names no host")
        if parts.username is not None or parts.password is not None:
            raise Refused("credentials do not belong in the URL")
        return parts.hostname, port or (443 if parts.scheme == "https" else 80)

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        if self.allowed_host(host):
            return
        for address in addresses:
            if (reason := self.blocked_reason(address)) is not None:
                raise Refused(f"{host} resolves to a {reason} address; merchant endpoints must be public")

    async def check(self, url: str, resolver: Resolver = resolve) -> None:
        """The save-time check of an endpoint URL: scheme, and every address its host resolves to now."""
        host, port = self.target(url)
        if self.allowed_host(host):
            return
        try:
            addresses = await asyncio.wait_for(lookup(host, port, resolver), 5)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: a name IDNA cannot encode
            raise Refused(f"{host} does not resolve") from exc
        if not addresses:
            raise Refused(f"{host} does not resolve")
        self.check_addresses(host, addresses)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check between resolution and connection."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy, self.resolver = policy, resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(lookup(host, port, self.resolver), timeout)
        except TimeoutError as exc:
            raise CallFailure("timeout", f"{host} did not resolve in time") from exc
        except (OSError, ValueError) as exc:
            raise CallFailure("dns_failure", f"{host} does not resolve") from exc
        try:
            self.policy.check_addresses(host, addresses)
        except Refused as exc:
            raise CallFailure("blocked_address", str(exc)) from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:  # connect to the address just checked, never to the name again
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or CallFailure("dns_failure", f"{host} does not resolve")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise CallFailure("blocked_address", "unix sockets are not merchant endpoints")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(
    policy: EgressPolicy, resolver: Resolver = resolve, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    # httpx takes no network backend, so its connection pool is replaced by one that uses ours (no proxy: a
    # proxy would resolve the name itself, after our check).
    context = ssl_context or httpx.create_ssl_context(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context, retries=0, network_backend=GuardedBackend(policy, resolver)
    )
    return transport


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def classify(exc: BaseException) -> str:
    """The console's class of a transport failure, from the exception and what caused it."""
    chain = list(_chain(exc))
    for kind, types in (
        ("tls_error", (ssl.SSLError, ssl.CertificateError)),
        ("connection_refused", (ConnectionRefusedError,)),
        ("dns_failure", (socket.gaierror,)),
        ("timeout", (TimeoutError, httpx.TimeoutException)),
        ("bad_response", (httpx.RemoteProtocolError, httpx.DecodingError)),
    ):
        if any(isinstance(e, types) for e in chain):
            return kind
    return "connection_failed"


class GuardedSender:
    """The real transport: one POST, JSON, within the §8.2.1 5-second timeout, through the guarded backend.

    One httpx client for the service's lifetime (created on first use, inside the running loop; closed at
    shutdown with `aclose`): connections to a merchant are kept and reused, each one checked when it was
    opened. A new client per call cost a connection pool, a TLS context and a handshake every time."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        timeout: float,
        max_bytes: int,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy, self.timeout, self.max_bytes = policy, timeout, max_bytes
        self.resolver, self.ssl_context = resolver, ssl_context
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=guarded_transport(self.policy, self.resolver, self.ssl_context),
                timeout=self.timeout,
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(
        self, url: str, headers: dict[str, str], params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        timeout, max_bytes = self.timeout, self.max_bytes
        try:
            self.policy.target(url)
        except Refused as exc:
            raise CallFailure("blocked_address", str(exc)) from exc
        try:
            async with (
                asyncio.timeout(timeout),
                self.client().stream(
                    "POST",
                    url,
                    params=params,
                    content=body,
                    headers={**headers, "content-type": "application/json", "accept-encoding": "identity"},
                ) as resp,
            ):  # no compressed answer to inflate past the cap
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise CallFailure(
                        "response_too_large",
                        f"the answer declares {declared} bytes; at most {max_bytes} are read",
                    )
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:  # stop reading: a huge (or endless) answer never fills memory
                        raise CallFailure("response_too_large", f"the answer exceeds {max_bytes} bytes")
                    chunks.append(chunk)
                return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, b"".join(chunks)
        except CallFailure:
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise CallFailure("timeout", f"no complete answer within {timeout:g} s") from exc
        except (httpx.HTTPError, OSError) as exc:
            kind = classify(exc)
            raise CallFailure(kind, DETAILS.get(kind, "the connection failed")) from exc


DETAILS = {
    "tls_error": "the TLS handshake failed (certificate or protocol)",
    "connection_refused": "the endpoint refused the connection",
    "dns_failure": "the endpoint's host does not resolve",
    "timeout": "the endpoint did not answer in time",
    "bad_response": "the endpoint's answer is not valid HTTP",
}
