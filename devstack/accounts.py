"""The dev realm's people, how to log in as each, and `python -m devstack token <user>`."""

from __future__ import annotations

import asyncio
import sys

from devstack.identity import LoginFailed, payment_system, person
from devstack.keycloak import demo_users
from devstack.stack import Stack


def print_token(user: str, password: str | None, issuer: str) -> int:
    """Ask the issuer for the user's access token and print it (the suite never mints tokens itself)."""
    if user == "payment":
        login = payment_system(issuer)
    else:
        known = {u["username"]: u for u in demo_users()}
        if password is None and user not in known:
            print(
                f"unknown user {user!r}: the demo users are {', '.join(known)} (or give --password)",
                file=sys.stderr,
            )
            return 2
        login = person(issuer, user, password or str(known[user]["password"]))
    try:
        print(asyncio.run(login.token()))
    except LoginFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def how_to_log_in(stack: Stack) -> str:
    lines = [
        "Log in: every route needs a bearer token from the identity provider. Demo users (user / password):"
    ]
    for u in demo_users():
        lines.append(
            f"  {u['username']:<10} / {u['password']:<15} {u['role']:<9} account id {u['account_id']}"
        )
    lines += [
        "  payment system: client `koo-payment` (client credentials) confirms payments",
        "A token for a user, then a call with it:",
        "  TOKEN=$(.venv/bin/python -m devstack token buyer1)",
        f'  curl -H "Authorization: Bearer $TOKEN" {stack.url("orders")}/accounts/me',
        "or straight from Keycloak:",
        f"  curl -s -d grant_type=password -d client_id=koo-cli -d username=buyer1 -d password=buyer1-pass "
        f"{stack.issuer}/protocol/openid-connect/token",
        "In each service's /docs, `Authorize` takes the token.",
        f"The console: open {stack.console_url}/ and log in as one of the demo users above "
        "(each role has its own menu).",
    ]
    return "\n".join(lines)
