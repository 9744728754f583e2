"""Start, watch and stop the local processes devstack owns (each in its own process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now and never handed out before by this process: the kernel may give a port it
    just
    gave back, and two processes of one stack told the same port would leave one of them answering for
    both."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(
                f"{what}: process exited with {proc.popen.returncode}; see {proc.log_path}\n" + proc.tail()
            )
        time.sleep(0.1)
    tail = proc.tail() if proc else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s\n{tail}")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        """What this run of the process has logged so far (earlier runs share the file)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> int | None:
        """Signal the whole process group, wait, then SIGKILL what is left. The pid file goes only once the
        process is gone: if this is cut short, `stop_recorded` (make stop) still finds it."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        (self.log_path.parent.parent / "pids" / f"{self.name}.pid").unlink(missing_ok=True)
        return self.popen.returncode

    def kill(self) -> None:
        """Hard crash: SIGKILL without a chance to clean up (used by failure tests)."""
        self.stop(timeout=10, sig=signal.SIGKILL)


def stop_recorded(pid_dir: Path) -> list[str]:
    """Stop process groups a previous run recorded but did not stop (it was killed, or its parent was)."""
    stopped = []
    files = sorted(pid_dir.glob("*.pid")) if pid_dir.exists() else []
    # The supervisor of an earlier `run` first: it stops its own children in order.
    for pid_file in sorted(files, key=lambda f: f.stem != "devstack"):
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
            pid = int(pid_file.read_text())
            # Children lead their own process group; the supervisor itself may not.
            kill = os.killpg if os.getpgid(pid) == pid else os.kill
            kill(pid, signal.SIGTERM)
            for _ in range(300):
                kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.1)
            kill(pid, signal.SIGKILL)
        stopped.append(pid_file.stem)
        pid_file.unlink(missing_ok=True)
    return stopped


def spawn(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab")
    offset = log.tell()
    full_env = {**os.environ, **(env or {})}
    popen = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
    )
    log.close()
    # Each process leads its own group; the pid file lets a later run stop what an unclean exit left.
    pid_dir = log_dir.parent / "pids"
    pid_dir.mkdir(parents=True, exist_ok=True)
    (pid_dir / f"{name}.pid").write_text(str(popen.pid))
    return Proc(name=name, popen=popen, log_path=log_path, log_offset=offset)
