"""Merchant endpoints and SSRF (issue 9): what may be saved, and what the guarded transport connects to.

The transport tests run real sockets on 127.0.0.1 (servers in this event loop); names are resolved by a scripted
resolver, so a test can make a name answer one thing at save time and another at connect time (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.partner.egress import CallFailure, EgressPolicy, GuardedSender, Refused
from services.partner.settings import PartnerSettings
from tests.service.rig import FAST

PUBLIC = "93.184.216.34"
DEFAULT = EgressPolicy.from_settings(PartnerSettings(**FAST))
DEV = EgressPolicy.from_settings(
    PartnerSettings(**FAST, merchant_endpoint_allow_http=True, merchant_endpoint_allow_hosts=["127.0.0.1"])
)


@dataclass
class Resolver:
    """Answers from a table; `then` is what a name resolves to from the second lookup on (rebinding)."""

    names: dict[str, list[str]]
    then: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        seen = host in self.lookups
        self.lookups.append(host)
        if seen and host in self.then:
            return self.then[host]
        if host not in self.names:
            raise OSError(f"{host} does not resolve")
        return self.names[host]


NAMES = Resolver(
    {
        "isv.example": [PUBLIC],
        "localhost.example": ["127.0.0.1"],
        "mixed.example": [PUBLIC, "10.1.2.3"],
        "v6.example": ["::1"],
        "mapped.example": ["::ffff:127.0.0.1"],
        "ula.example": ["fd00::5"],
    }
)


@pytest.mark.parametrize(
    "url",
    [
        "http://isv.example/api",  # plain http
        "https://127.0.0.1/api",
        "https://10.0.0.8/api",
        "https://172.20.1.1/",
        "https://192.168.1.10/",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fd00::1]/",
        "https://[fe80::1]/",
        "https://224.0.0.1/",
        "https://localhost.example/",  # a name resolving to loopback
        "https://mixed.example/",  # one public and one private address: every address is checked
        "https://v6.example/",
        "https://mapped.example/",
        "https://ula.example/",
        "https://nowhere.example/",  # does not resolve
        "https://user:pass@isv.example/",  # credentials in the URL
        "ftp://isv.example/",
    ],
)
async def test_the_default_settings_refuse_internal_and_plain_http_endpoints(url: str) -> None:
    with pytest.raises(Refused):
        await DEFAULT.check(url, NAMES)


async def test_a_public_https_endpoint_is_accepted() -> None:
    await DEFAULT.check("https://isv.example/api", NAMES)


async def test_a_real_name_resolving_to_loopback_is_refused_by_the_real_resolver() -> None:
    with pytest.raises(Refused, match="loopback"):
        await DEFAULT.check("https://localhost/api")


async def test_a_configured_cluster_range_is_refused_too() -> None:
    policy = EgressPolicy.from_settings(
        PartnerSettings(**FAST, merchant_endpoint_blocked_cidrs=["93.184.216.0/24"])
    )
    with pytest.raises(Refused, match=r"93\.184\.216\.0/24"):
        await policy.check("https://isv.example/api", NAMES)


async def test_the_dev_allow_list_admits_its_named_host_and_plain_http_only() -> None:
    await DEV.check("http://127.0.0.1:8080/api", NAMES)
    with pytest.raises(Refused):
        await DEV.check("http://10.0.0.8/api", NAMES)
    with pytest.raises(Refused):
        await DEV.check("http://localhost.example/api", NAMES)


def test_production_refuses_plain_http_or_allow_listed_hosts() -> None:
    dev = PartnerSettings(
        **FAST,
        environment="dev",
        merchant_endpoint_allow_http=True,
        merchant_endpoint_allow_hosts=["127.0.0.1"],
    )
    problems = PartnerSettings(
        **FAST, merchant_endpoint_allow_http=True, merchant_endpoint_allow_hosts=["127.0.0.1"]
    ).production_problems()
    assert any("ALLOW_HTTP" in p for p in problems)
    assert any("ALLOW_HOSTS" in p and "127.0.0.1" in p for p in problems)
    assert not any("MERCHANT_ENDPOINT" in p for p in PartnerSettings(**FAST).production_problems())
    assert dev.dev  # dev may run so: check() only applies production_problems outside dev


def test_the_private_link_key_is_a_secret() -> None:
    settings = PartnerSettings(**FAST, private_link_private_key="-----BEGIN PRIVATE KEY-----\nabc")
    assert "abc" not in repr(settings)
    assert settings.private_link_private_key is not None
    assert settings.private_link_private_key.get_secret_value().endswith("abc")


# --- the guarded transport, on real sockets ---------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return head + await reader.readexactly(length)


def answer(status: str, body: bytes = b"", extra: str = "") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body)
        await writer.drain()

    return handle


@contextlib.asynccontextmanager
async def serve(handle: Handler, context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(0)

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=context)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def sender(
    policy: EgressPolicy = DEV,
    resolver: Resolver = NAMES,
    timeout: float = 2.0,
    max_bytes: int = 4096,
    context: ssl.SSLContext | None = None,
) -> Callable[[str], Awaitable[tuple[int, dict[str, str], bytes]]]:
    send = GuardedSender(policy, timeout=timeout, max_bytes=max_bytes, resolver=resolver, ssl_context=context)
    return lambda url: send(url, {}, {}, b'{"activity": "newInstance"}')


async def failure(call: Awaitable[object]) -> CallFailure:
    with pytest.raises(CallFailure) as caught:
        await call
    return caught.value


async def test_the_allow_listed_test_merchant_is_reached() -> None:
    async with serve(answer("200 OK", b'{"resultCode": "000000"}')) as srv:
        status, _, body = await sender()(f"http://127.0.0.1:{srv.port}/saas/v2/instance")
    assert status == 200
    assert body == b'{"resultCode": "000000"}'


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}/", "https://127.0.0.1:{port}/", "https://localhost.example:{port}/"]
)
async def test_the_default_settings_refuse_loopback_at_connect_time_without_connecting(url: str) -> None:
    async with serve(answer("200 OK")) as srv:
        failed = await failure(sender(DEFAULT)(url.format(port=srv.port)))
    assert failed.kind == "blocked_address"
    assert srv.connections == 0


async def test_a_name_rebound_to_loopback_after_the_save_check_is_refused_at_connect_time() -> None:
    rebinding = Resolver({"rebind.example": [PUBLIC]}, then={"rebind.example": ["127.0.0.1"]})
    await DEFAULT.check("https://rebind.example/", rebinding)  # public when saved
    async with serve(answer("200 OK")) as srv:
        failed = await failure(sender(DEFAULT, rebinding)(f"https://rebind.example:{srv.port}/"))
    assert failed.kind == "blocked_address"
    assert "loopback" in failed.detail
    assert srv.connections == 0


async def test_redirects_are_not_followed() -> None:
    async with serve(
        answer("302 Found", extra="location: http://169.254.169.254/latest/meta-data/\r\n")
    ) as srv:
        status, headers, _ = await sender()(f"http://127.0.0.1:{srv.port}/")
    assert headers["location"].startswith("http://169.254.169.254")  # handed back, never followed
    assert status == 302  # the runner records it as redirect_refused
    assert srv.connections == 1


async def test_a_large_answer_is_cut_at_the_limit() -> None:
    async with serve(answer("200 OK", b"x" * 10_000)) as srv:
        failed = await failure(sender(max_bytes=4096)(f"http://127.0.0.1:{srv.port}/"))
    assert failed.kind == "response_too_large"


async def test_an_endless_answer_without_a_length_is_cut_at_the_limit() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(1000):
            writer.write(b"400\r\n" + b"y" * 1024 + b"\r\n")
            await writer.drain()

    async with serve(endless) as srv:
        failed = await failure(sender(max_bytes=4096)(f"http://127.0.0.1:{srv.port}/"))
    assert failed.kind == "response_too_large"


async def test_a_silent_endpoint_times_out_within_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serve(silent) as srv:
        started = asyncio.get_running_loop().time()
        failed = await failure(sender(timeout=0.3)(f"http://127.0.0.1:{srv.port}/"))
    assert failed.kind == "timeout"
    assert asyncio.get_running_loop().time() - started < 2


async def test_a_closed_port_is_connection_refused() -> None:
    async with serve(answer("200 OK")) as srv:
        port = srv.port
    failed = await failure(sender()(f"http://127.0.0.1:{port}/"))
    assert failed.kind == "connection_refused"
    assert "127.0.0.1" not in failed.detail


def tls_pair(tmp: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A test CA, a server certificate for `name` signed by it; the server's context and a client trusting the CA."""

    def cert(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = cert("test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = cert(name, key, ca_name, ca_key, ca=False)
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_pair(tmp_path, "merchant.example")
    names = Resolver({"merchant.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    policy = EgressPolicy(allow_hosts=frozenset({"merchant.example", "other.example"}))
    async with serve(answer("200 OK", b"{}"), server_ctx) as srv:
        status, _, _ = await sender(policy, names, context=client_ctx)(
            f"https://merchant.example:{srv.port}/"
        )
        failed = await failure(
            sender(policy, names, context=client_ctx)(f"https://other.example:{srv.port}/")
        )
    assert status == 200  # connected to 127.0.0.1, certificate checked against merchant.example
    assert failed.kind == "tls_error"  # same address, but the certificate does not name other.example


def answering_each(body: bytes) -> Handler:
    """Answers every request on a connection until the client closes it (keep-alive)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()

    return handle


async def test_one_client_serves_the_services_lifetime_and_keeps_its_connections() -> None:
    send = GuardedSender(DEV, timeout=2.0, max_bytes=4096, resolver=NAMES)
    async with serve(answering_each(b'{"resultCode": "000000"}')) as srv:
        url = f"http://127.0.0.1:{srv.port}/saas/v2/instance"
        for _ in range(3):
            status, _, _ = await send(url, {}, {}, b"{}")
            assert status == 200
        assert srv.connections == 1  # one connection, kept between calls
        await send.aclose()  # shutdown
        await send(url, {}, {}, b"{}")  # a later call opens a client of its own again
        assert srv.connections == 2
        await send.aclose()
