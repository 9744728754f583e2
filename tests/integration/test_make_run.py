"""`make run` stopped the way a supervisor or a script stops it: a TERM to its whole process group.

make gets the TERM as well and passes it on to devstack a second time. When that second TERM lands after devstack's
shutdown began (most of the time it coalesces with the first one, so the test sends it again itself once devstack
says "stopping"), the shutdown must still stop every process it started, and leave nothing for `make stop` to find. The stack runs in a state folder of its own on free
ports (`DEVSTACK_STATE`, `DEVSTACK_FREE_PORTS`), so it does not touch a `make run` of the developer's. It starts a
real stack: about a minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devstack.procs import stop_recorded

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has stopped; only its parent's reaping is left


def recorded(pids: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text()) for f in pids.glob("*.pid")}


@pytest.mark.timeout(420)
def test_a_term_to_make_runs_process_group_stops_everything(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "make-run.log"
    env = {**os.environ, "DEVSTACK_STATE": str(state), "DEVSTACK_FREE_PORTS": "1"}
    with out.open("wb") as log:
        make = subprocess.Popen(
            ["make", "-s", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # its own group, as in a shell
    started: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 300
        while "The stack is up" not in out.read_text(errors="replace"):
            assert make.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.5)
        started = recorded(state / "pids")
        assert {
            "devstack",
            "secantusdb",
            "kafka",
            "keycloak",
            "mailpit",
            "sms-sink",
            "orders",
            "notification",
        } <= set(started), started

        os.killpg(make.pid, signal.SIGTERM)
        while "stopping ..." not in out.read_text(errors="replace") and make.poll() is None:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)  # the second TERM, while devstack stops its processes
        make.wait(120)
        left = {name: pid for name, pid in started.items() if alive(pid)}
        assert left == {}, (
            f"still running after make exited: {left}\n{out.read_text(errors='replace')[-3000:]}"
        )
        stop = subprocess.run(
            ["make", "-s", "stop"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
        )
        assert stop.stdout.strip() == "stopped: nothing was running", stop.stdout
    finally:  # whatever failed above, leave nothing running
        if make.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGKILL)
        stop_recorded(state / "pids")
        for pid in started.values():
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
