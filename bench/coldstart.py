"""`make run`'s start, timed: `python -m devstack jars` (what `make install` runs once the virtualenv is
there) then `python -m devstack run`, in a state folder of its own on free ports (`DEVSTACK_STATE`,
`DEVSTACK_FREE_PORTS`, as the tests of `make run` start a second stack), until the run says the stack is up
and every service it lists answers /readyz with 200. Then it is stopped as Ctrl-C stops it.

"Once installed": the machine-wide cache (Keycloak, the SecantusDB server, Mailpit) is what the bench's own
stack used; the Kafka jars `make install` resolves into `.devstack/cache` are linked into the temporary state
folder, as a developer's clone has them after its first `make run`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devstack.procs import stop_recorded
from devstack.stack import REPO, SERVICES, ready

UP = "The stack is up"
URL = re.compile(r"^(orders|supervision|notification|partner)\s+(http://127\.0\.0\.1:\d+)/docs", re.M)


def _all_ready(out: str) -> bool:
    urls = dict(URL.findall(out))
    return set(urls) >= set(SERVICES) and all(ready(f"{u}/readyz") for u in urls.values())


def cold_start(cache: Path, limit: float = 240.0) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    state, log_path = tmp / "state", tmp / "run.log"
    (state / "cache").mkdir(parents=True)
    for item in cache.iterdir():  # the resolved Kafka jars: installed, not fetched again
        (state / "cache" / item.name).symlink_to(item.resolve())
    env = {**os.environ, "DEVSTACK_STATE": str(state), "DEVSTACK_FREE_PORTS": "1"}
    result: dict[str, Any] = {"state": str(state)}
    t0 = time.monotonic()
    jars = subprocess.run(
        [sys.executable, "-m", "devstack", "jars"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    result["install_check_s"] = round(time.monotonic() - t0, 2)
    if jars.returncode != 0:
        result["error"] = f"devstack jars failed: {jars.stderr[-500:]}"
        return result
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        up_at = None
        while time.monotonic() - t0 < limit:
            out = log_path.read_text(errors="replace")
            if run.poll() is not None:
                result["error"] = f"devstack run exited {run.returncode}: {out[-800:]}"
                break
            if up_at is None and UP in out:
                up_at = time.monotonic() - t0
            if up_at is not None and _all_ready(out):
                result["said_up_s"] = round(up_at, 2)
                result["ready_s"] = round(time.monotonic() - t0, 2)
                break
            time.sleep(0.2)
        else:
            result["error"] = f"not ready within {limit:.0f}s"
    finally:
        t1 = time.monotonic()
        if run.poll() is None:
            run.send_signal(signal.SIGINT)  # as Ctrl-C: devstack stops everything it started
            try:
                run.wait(120)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)
                run.wait(10)
        result["stop_s"] = round(time.monotonic() - t1, 2)
        left = stop_recorded(state / "pids")  # whatever the run could not stop
        if left:
            result["left_running"] = left
        if "error" in result:
            result["log_tail"] = log_path.read_text(errors="replace")[-1500:]
        shutil.rmtree(tmp, ignore_errors=True)
    return result
