"""The machine-wide cache outside the clone (`$KOO_CACHE_DIR`, default `~/.cache/koo-suite`): what devstack
fetches or builds once per machine (Keycloak, the SecantusDB Rust server, Mailpit) lives there, so a fresh
clone finds it.

Builds run under a file lock (two stacks never build the same thing at once), into a staging folder that is
renamed into place only when complete, and show their progress: a line when a step starts, a summary about
every 30 s (elapsed time and the tool's latest progress line), and the time it took. The tool's whole output
goes to a log file beside the result.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

PROGRESS_EVERY = 30.0


def cache_root() -> Path:
    return Path(os.environ.get("KOO_CACHE_DIR") or Path.home() / ".cache" / "koo-suite")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (an flock: released by the kernel if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def say(text: str) -> None:
    print(text, flush=True)


def banner(title: str, *lines: str) -> None:
    """A loud notice on stderr: something runs in a degraded way, and why."""
    rule = "!" * 100
    body = "\n".join(f"!! {line}" for line in (title, *lines))
    print(f"\n{rule}\n{body}\n{rule}\n", file=sys.stderr, flush=True)


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s" if seconds >= 60 else f"{seconds:.0f} s"


class BuildFailed(RuntimeError):
    def __init__(self, what: str, code: int, log: Path) -> None:
        super().__init__(f"{what} failed with exit code {code}; see {log}")
        self.log = log


def run_step(
    what: str,
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    progress: str = "",
) -> float:
    """Run one build step, its output appended to `log`; every ~30 s say how long it has run and the latest
    line
    that contains `progress` (e.g. cargo's "Compiling"), counting those lines. Returns the seconds it took."""
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"  {what} ...")
    started = time.monotonic()
    latest: list[str] = [""]
    count = [0]
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd) if cwd else None,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        done = threading.Event()

        def report() -> None:
            while not done.wait(PROGRESS_EVERY):
                seen = f"; {count[0]} so far, latest: {latest[0]}" if progress and latest[0] else ""
                say(f"  ... {what}: {minutes(time.monotonic() - started)}{seen}")

        ticker = threading.Thread(target=report, name="build-progress", daemon=True)
        ticker.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if progress and progress in line:
                    latest[0], count[0] = line.strip(), count[0] + 1
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            done.set()
            ticker.join()
    took = time.monotonic() - started
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        say(f"  {what} failed after {minutes(took)}:\n{tail}")
        raise BuildFailed(what, code, log)
    say(f"  {what}: done in {minutes(took)}")
    return took
