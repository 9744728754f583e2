"""`python -m devstack run` starts everything and prints where to look; `demo` drives one order through."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from devstack.procs import stop_recorded
from devstack.stack import REPO, Ports, Stack, read_issuer, wait_forever, write_issuer


def _shut_down_once() -> None:
    """From here on, TERM and INT are ignored: a second one (make passes a TERM sent to its process group on
    to
    its child; Ctrl-C twice) would cut the shutdown short and leave processes running."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _shut_down(signum: int, frame: FrameType | None) -> None:
    _shut_down_once()
    raise SystemExit(0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="devstack")
    # Another state folder and free ports: a second stack beside `make run`'s (the tests of `make run` use
    # it).
    state = Path(os.environ.get("DEVSTACK_STATE") or REPO / ".devstack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser(
        "run", help="start Kafka, the database, Keycloak, Mailpit, the SMS sink and the four services"
    )
    sub.add_parser(
        "jars",
        help="fetch and build what the stack runs, once per machine: the Kafka jars, Keycloak, "
        "SecantusDB's Rust server and Mailpit",
    )
    sub.add_parser("stop", help="stop whatever an earlier `run` left running")
    sub.add_parser("contracts", help="regenerate docs/contracts (AsyncAPI and OpenAPI of every service)")
    demo = sub.add_parser("demo", help="drive one order through the story against a running stack")
    demo.add_argument("--base", default="http://127.0.0.1")
    sub.add_parser(
        "fuzz",
        help="schemathesis over the four services as each role (--quick: fewer examples)",
        add_help=False,
    )
    sub.add_parser(
        "dlt", help="list or replay dead letters, list parked events (as an operator)", add_help=False
    )
    token = sub.add_parser("token", help="print an access token from the running stack's identity provider")
    token.add_argument(
        "user",
        help="a demo user of the realm (buyer1, merchant1, provider1, operator1, ...), "
        "or `payment` for the payment system's service account",
    )
    token.add_argument("--password", help="for a user that is not in the realm file")
    token.add_argument("--issuer", help="default: the running stack's (or OIDC_ISSUER_URL)")
    if sys.argv[1:2] == ["fuzz"]:
        from devstack.fuzz import main as fuzz

        return fuzz(sys.argv[2:])
    if sys.argv[1:2] == ["dlt"]:
        from devstack.dlt import main as dlt

        return dlt(sys.argv[2:], os.environ.get("OIDC_ISSUER_URL") or read_issuer(state))
    args = parser.parse_args()

    if args.cmd == "jars":
        from devstack.kafka import ensure_jars
        from devstack.keycloak import distribution
        from devstack.mailpit import build
        from devstack.mongo import server

        ensure_jars(state / "cache")
        distribution()
        build()
        server()  # builds the Rust server, or announces the fallback
        return 0
    if args.cmd == "contracts":
        from devstack.contracts import write

        changed = write()
        print("\n".join(f"updated {p.relative_to(REPO)}" for p in changed) or "contracts are up to date")
        return 0
    if args.cmd == "stop":
        print("stopped: " + (", ".join(stop_recorded(state / "pids")) or "nothing was running"))
        return 0
    if args.cmd == "demo":
        from devstack.demo import run_demo

        return int(run_demo(args.base, os.environ.get("OIDC_ISSUER_URL") or read_issuer(state)))
    if args.cmd == "token":
        from devstack.accounts import print_token

        return print_token(
            args.user, args.password, args.issuer or os.environ.get("OIDC_ISSUER_URL") or read_issuer(state)
        )

    leftovers = stop_recorded(state / "pids")
    if leftovers:
        print(f"stopped what an earlier run left behind: {', '.join(leftovers)}", flush=True)
    stack = Stack(state, Ports.free() if os.environ.get("DEVSTACK_FREE_PORTS") == "1" else None)
    (state / "pids").mkdir(parents=True, exist_ok=True)
    (state / "pids" / "devstack.pid").write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, _shut_down)
    signal.signal(signal.SIGINT, _shut_down)
    try:
        print("starting Kafka, SecantusDB and Keycloak ...", flush=True)
        stack.start_infra()
        print("starting Mailpit and the SMS sink ...", flush=True)
        stack.start_sinks()
        print("starting orders, supervision, notification, partner ...", flush=True)
        stack.start_services()
        print("starting the console ...", flush=True)
        stack.start_console()
        write_issuer(state, stack.issuer)
        from devstack.accounts import how_to_log_in

        print(
            "\nThe stack is up:\n"
            + stack.summary()
            + "\n\n"
            + how_to_log_in(stack)
            + "\n\nRun `make demo` in another terminal. Ctrl-C stops everything.",
            flush=True,
        )
        wait_forever(stack)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        _shut_down_once()  # also after an error: nothing may cut the shutdown short
        print("stopping ...", flush=True)
        stack.stop()
        (state / "pids" / "devstack.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
