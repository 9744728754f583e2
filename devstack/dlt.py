"""`python -m devstack dlt ...`: the dead letters and parked events of the running stack, as an operator.

    python -m devstack dlt list [--service orders] [--topic T] [--reason TEXT]
    python -m devstack dlt replay ID --service orders          one dead letter back to its topic
    python -m devstack dlt replay --service orders [--topic T] [--reason TEXT] [--limit N]   a filtered set
    python -m devstack dlt parked [--service S]               events waiting for what they are about

It calls the services' operator API (`/operator/dead-letters`, `/operator/parked`) with an operator's token
from the identity provider (the realm's `operator1` unless `--user`/`--password` say otherwise): the replay is
published by the service that produces the topic, as that service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any
from urllib.parse import quote

import httpx

from devstack.identity import person
from devstack.keycloak import demo_users
from devstack.stack import SERVICES, Ports

PRODUCERS = ("orders", "supervision", "partner")  # notification produces nothing, so it keeps no dead letters


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m devstack dlt",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=("list", "replay", "parked"))
    p.add_argument("id", nargs="?", help="the dead letter to replay (else: replay the filtered set)")
    p.add_argument("--service", choices=SERVICES)
    p.add_argument("--topic")
    p.add_argument("--reason", help="only dead letters whose reason contains this text")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--user", default="operator1")
    p.add_argument("--password")
    p.add_argument("--base", default="http://127.0.0.1")
    return p.parse_args(argv)


async def run(args: argparse.Namespace, issuer: str) -> Any:
    password = args.password or next(str(u["password"]) for u in demo_users() if u["username"] == args.user)
    login = person(issuer, args.user, password)
    urls = {name: f"{args.base}:{port}" for name, port in Ports().services.items()}
    services = [args.service] if args.service else list(PRODUCERS if args.action != "parked" else SERVICES)
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=30, headers=await login.headers()) as http:
        for service in services:
            base = urls[service] + "/operator"
            if args.action == "parked":
                resp = await http.get(f"{base}/parked", params={"limit": args.limit})
            elif args.action == "list":
                params = {k: v for k, v in (("topic", args.topic), ("reason_contains", args.reason)) if v}
                resp = await http.get(f"{base}/dead-letters", params={**params, "limit": args.limit})
            elif args.id:
                resp = await http.post(f"{base}/dead-letters/{quote(args.id, safe='')}/replay")
            else:
                body = {"topic": args.topic, "reason_contains": args.reason, "limit": args.limit}
                resp = await http.post(
                    f"{base}/dead-letters/replay", json={k: v for k, v in body.items() if v}
                )
            out[service] = (
                resp.json() if resp.status_code < 400 else {"error": resp.status_code, "body": resp.text}
            )
    return out


def main(argv: list[str], issuer: str) -> int:
    args = parse(argv)
    if args.action == "replay" and args.id and not args.service:
        print("replaying one dead letter needs --service (the topic's producer)", file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(run(args, issuer)), indent=2, ensure_ascii=False, default=str))
    return 0
