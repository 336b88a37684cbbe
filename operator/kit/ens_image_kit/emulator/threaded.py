"""The emulator on its own thread and event loop, for synchronous callers such as the SDKs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ens_image_kit.emulator.server import RunningEmulator, run_emulator


@contextmanager
def emulator_thread(**options: Any) -> Iterator[RunningEmulator]:
    """``run_emulator(**options)`` served from a daemon thread for the duration of the block."""
    started = threading.Event()
    handle: list[RunningEmulator] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with run_emulator(**options) as emulator:
                handle.append(emulator)
                started.set()
                await stop.wait()
        except BaseException as error:  # reported to the caller's thread below
            failure.append(error)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        loop.close()
        raise failure[0]
    try:
        yield handle[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()
