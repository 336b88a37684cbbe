"""The body of a watch response: backlog first, then live events, as JSON lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from ens_image_kit.sandbox.store import Event, Store, Watcher

Json = dict[str, Any]


def event_line(event_type: str, obj: Json) -> bytes:
    """One watch event as the API server streams it."""
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def event_stream(
    store: Store,
    watcher: Watcher,
    backlog: list[Event],
    *,
    wanted: Callable[[Json], bool],
    render: Callable[[Json], Json],
    lasts: float | None,
    poll_seconds: float,
    closing: Callable[[], bool],
    bookmark: Callable[[], Json] | None = None,
    bookmark_seconds: float = 60.0,
) -> AsyncIterator[bytes]:
    """Stream for ``lasts`` seconds (``timeoutSeconds``), server shutdown, or the client leaving.

    With ``bookmark`` (``allowWatchBookmarks=true``), a quiet stream sends a BOOKMARK carrying the
    current resourceVersion every ``bookmark_seconds``, so a client resumes from a recent point.
    """
    loop = asyncio.get_running_loop()
    deadline = None if lasts is None else loop.time() + lasts
    next_bookmark = loop.time() + bookmark_seconds
    try:
        for event in backlog:
            seen_as = _as_seen_through_filter(event, wanted)
            if seen_as is not None:
                yield event_line(seen_as, render(event.object))
        while not closing():
            wait = poll_seconds
            if bookmark is not None:
                if loop.time() >= next_bookmark:
                    next_bookmark = loop.time() + bookmark_seconds
                    yield event_line("BOOKMARK", bookmark())
                wait = min(wait, max(next_bookmark - loop.time(), 0.0))
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            try:
                event = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                yield b""  # lets the HTTP layer notice a client that went away
                continue
            seen_as = _as_seen_through_filter(event, wanted)
            if seen_as is not None:
                yield event_line(seen_as, render(event.object))
    finally:
        store.unsubscribe(watcher)


def _as_seen_through_filter(event: Event, wanted: Callable[[Json], bool]) -> str | None:
    """The event type a filtered watch sees: an object leaving the filter is DELETED for it,
    one entering it ADDED, as the API server's watch cache does."""
    now = wanted(event.object)
    if event.type != "MODIFIED" or event.previous is None:
        return event.type if now else None
    before = wanted(event.previous)
    if before and now:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None
