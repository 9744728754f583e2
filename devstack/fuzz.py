"""`python -m devstack fuzz [--quick]`: schemathesis over the four running services, as each role.

It starts a stack of its own (broker, database, IdP, Mailpit, SMS sink, the four services), makes one person
per role in Keycloak with a registered profile and a listed product to find, then runs schemathesis' fuzzing
and stateful phases against each service's OpenAPI document with each person's real token (and the payment
system's against orders). The check is `not_a_server_error`: every answer must be a 2xx, 3xx or 4xx. Any 5xx
fails the run; the failing cases are in the report folder it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from devstack.identity import KeycloakAdmin, Login, payment_system
from devstack.marketplace import Suite
from devstack.stack import REPO, SERVICES, Ports, Stack

ROLES = ("buyer", "merchant", "provider", "operator")
START = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


async def people(stack: Stack) -> dict[str, Login]:
    """One person per role with a profile, and a listed product, so routes answer with more than 404s."""
    assert stack.keycloak is not None
    admin = KeycloakAdmin(stack.keycloak.url, stack.keycloak.admin_password)
    who: dict[str, Login] = {role: await admin.user(role) for role in ROLES}
    async with httpx.AsyncClient(timeout=30) as http:
        suite = Suite({s: stack.url(s) for s in SERVICES}, http)
        for i, role in enumerate(ROLES):
            await suite.profile(who[role], f"+861380000{i:04d}")
        await suite.list_product(who["merchant"], who["operator"])
    who["payment-system"] = payment_system(stack.issuer)
    return who


def schemathesis(url: str, token: str, examples: int, report: Path) -> int:
    st = Path(sys.executable).parent / "st"
    argv = [
        str(st),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        "fuzzing,stateful",
        "--max-examples",
        str(examples),
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        "--output-truncate",
        "true",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]
    return subprocess.run(argv, check=False, stdout=sys.stdout, stderr=sys.stderr).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devstack fuzz", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer examples per operation (the CI variant)")
    p.add_argument("--examples", type=int, default=0, help="examples per operation (default 60, quick 15)")
    args = p.parse_args(argv)
    examples = args.examples or (15 if args.quick else 60)
    state = Path(tempfile.mkdtemp(prefix="koo-fuzz-"))
    stack = Stack(
        state,
        Ports.free(),
        service_env={
            "PARTNER_MERCHANT_CALL_TIMEOUT_SECONDS": "1",
            "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.5",
        },
    )
    results: list[tuple[str, str, int, float]] = []
    try:
        log("starting the broker, the database and the identity provider ...")
        stack.start_infra_with_cache(REPO / ".devstack" / "cache")
        log("starting the sinks and the four services ...")
        stack.start_sinks()
        stack.start_services()
        who = asyncio.run(people(stack))
        for service in SERVICES:
            for role, login in who.items():
                if role == "payment-system" and service != "orders":
                    continue  # its token is for orders only: elsewhere every call is a 401
                log(f"schemathesis: {service} as {role} ({examples} examples per operation)")
                t0 = time.monotonic()
                code = schemathesis(
                    stack.url(service),
                    asyncio.run(login.token()),
                    examples,
                    state / "reports" / f"{service}-{role}",
                )
                results.append((service, role, code, time.monotonic() - t0))
    finally:
        stack.stop()
    print("\nservice        role             result   seconds")
    for service, role, code, seconds in results:
        print(f"{service:<14} {role:<16} {'ok' if code == 0 else 'FAILED':<8} {seconds:7.1f}")
    failed = [r for r in results if r[2] != 0]
    print(
        f"fuzz: runs={len(results)} failed={len(failed)} examples={examples} "
        f"wall={time.monotonic() - START:.0f}s"
    )
    if failed:
        print(f"reports (JUnit, per run): {state / 'reports'}")
    else:
        shutil.rmtree(state, ignore_errors=True)
    return 1 if failed else 0
