"""`python -m devstack.sinks --http-port Q --data-dir DIR`: the SMS sink until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from devstack.sinks.api import Callbacks, create_app
from devstack.sinks.store import SmsStore

HOST = "127.0.0.1"


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: it would re-raise SIGTERM once it has stopped, so the process
    would not exit 0 and the callbacks' client would not be closed. `serve` owns the signals instead."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # exits (SystemExit) if the port cannot be bound
        if self.started:
            self.on_started()


async def serve(http_port: int, data_dir: Path) -> None:
    store = SmsStore(data_dir)
    callbacks = Callbacks(store)
    config = uvicorn.Config(
        create_app(store, callbacks), host=HOST, port=http_port, log_level="warning", lifespan="off"
    )
    ready = f"sinks ready sms=http://{HOST}:{http_port}"
    http = _Uvicorn(config, on_started=lambda: print(ready, flush=True))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(http, "should_exit", True))
    try:
        await http.serve()  # until a signal
    finally:
        await callbacks.close()
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.sinks", description=__doc__)
    parser.add_argument("--http-port", type=int, default=8026)
    parser.add_argument("--data-dir", type=Path, default=Path(".devstack/sinks"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.http_port, args.data_dir))


if __name__ == "__main__":
    main()
