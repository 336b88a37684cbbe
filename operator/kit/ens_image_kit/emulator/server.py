"""The aiohttp application: the signed ENS API at ``/`` and the unsigned admin API under ``/_emulator/``."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ens_image_kit.emulator.actions import ACTIONS, ENS_VERSION
from ens_image_kit.emulator.admin import add_admin_routes
from ens_image_kit.emulator.authentication import IncomingRequest, authenticate
from ens_image_kit.emulator.calls import CallRecorder
from ens_image_kit.emulator.errors import ApiError
from ens_image_kit.emulator.faults import FaultInjector, FaultRule
from ens_image_kit.emulator.state import DEFAULT_ACCOUNT_ID, EmulatorState, StsCredential
from ens_image_kit.emulator.store import SqliteStore
from ens_image_kit.emulator.sts import STS_VERSION, assume_role_with_oidc

DEFAULT_KEYS = {"testid": "testsecret"}
JSON_TYPE = "application/json;charset=utf-8"
STATE_KEY = web.AppKey("state", EmulatorState)
FAULTS_KEY = web.AppKey("faults", FaultInjector)
CALLS_KEY = web.AppKey("calls", CallRecorder)
# The caller's key id once authenticated, for the call log even when the operation then fails.
KEY_ID_KEY = web.RequestKey("access_key_id", str)
# Set when a fault rule fired on the call, so the call log tells injected failures from real ones.
INJECTED_KEY = web.RequestKey("injected", bool)


class _Dropped(Exception):
    """The connection was closed on purpose; nothing is to be answered."""


def _json_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def _error_body(error: ApiError, request_id: str, host: str) -> dict[str, Any]:
    return {
        "RequestId": request_id,
        "HostId": host,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Ens&requestId={request_id}",
    }


async def _incoming(request: web.Request) -> IncomingRequest:
    body = await request.read()
    form: list[tuple[str, str]] = []
    if request.content_type == "application/x-www-form-urlencoded" and body:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return IncomingRequest(
        method=request.method,
        path=request.rel_url.raw_path,
        # The raw query, decoded here once ('+' is a space), so the verifier re-encodes it itself.
        query=parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True),
        form=form,
        headers=headers,
        body=body,
    )


async def _inflict(request: web.Request, rule: FaultRule) -> None:
    """Delay, drop or refuse the call as the rule says."""
    request[INJECTED_KEY] = True
    if rule.latency:
        await asyncio.sleep(rule.latency)
    if rule.drop:
        if request.transport is not None:
            request.transport.close()
        raise _Dropped
    if rule.code:
        headers = {} if rule.retry_after_ms is None else {"x-acs-retry-after": str(rule.retry_after_ms)}
        raise ApiError(rule.code, rule.message, rule.status, headers)


def _operation(
    incoming: IncomingRequest, params: dict[str, str], action: str, state: EmulatorState
) -> tuple[Callable[[], dict[str, Any]], str | None]:
    """Authenticate and find the operation; returns it, not yet run, and the caller's key id."""
    if action == "AssumeRoleWithOIDC" and incoming.header("authorization") is None:
        if params.get("Version", STS_VERSION) != STS_VERSION:
            raise ApiError(
                "InvalidVersion", f"Specified parameter Version is not valid; expected {STS_VERSION}."
            )
        return (lambda: assume_role_with_oidc(state, params)), None
    key_id = authenticate(incoming, state)
    handler = ACTIONS.get(action)
    if handler is None:
        raise ApiError("InvalidAction.NotFound", f"Specified api {action} is not found.", status=404)
    version = incoming.header("x-acs-version") or params.get("Version") or ENS_VERSION
    if version != ENS_VERSION:
        raise ApiError("InvalidVersion", f"Specified parameter Version is not valid; expected {ENS_VERSION}.")
    account = state.account_of(key_id)
    return (lambda: handler(state, params, account)), key_id


async def _dispatch(
    request: web.Request, incoming: IncomingRequest, params: dict[str, str], action: str
) -> dict[str, Any]:
    operation, key_id = _operation(incoming, params, action, request.app[STATE_KEY])
    if key_id is not None:
        request[KEY_ID_KEY] = key_id
    rule = request.app[FAULTS_KEY].pick(action)
    if rule is not None and not rule.after:
        await _inflict(request, rule)
    body = operation()
    if rule is not None and rule.after:
        # The operation took effect, but the caller never learns it: the case retries must survive.
        await _inflict(request, rule)
    return body


async def handle_api(request: web.Request) -> web.StreamResponse:
    """One ENS (or STS) API call: authenticate, maybe inject a fault, run the operation."""
    request_id = str(uuid.uuid4()).upper()
    incoming = await _incoming(request)
    params = dict(incoming.query) | dict(incoming.form)
    action = incoming.header("x-acs-action") or params.get("Action", "")
    host = incoming.header("host") or "ens.aliyuncs.com"
    calls = request.app[CALLS_KEY]
    try:
        if not action:
            raise ApiError("MissingParameter", 'The input parameter "Action" is not supplied.')
        body = await _dispatch(request, incoming, params, action)
    except ApiError as error:
        key_id = request.get(KEY_ID_KEY) or params.get("AccessKeyId")
        injected = request.get(INJECTED_KEY, False)
        calls.record(action or "-", error.code, error.status, params, key_id, injected)
        return _json_response(
            _error_body(error, request_id, host),
            error.status,
            {"x-acs-request-id": request_id, **error.headers},
        )
    except _Dropped:
        calls.record(action, "Dropped", 0, params, request.get(KEY_ID_KEY), injected=True)
        # The transport is closed: answer nothing, not even a 500.
        raise asyncio.CancelledError from None
    calls.record(action, "OK", 200, params, request.get(KEY_ID_KEY))
    return _json_response({"RequestId": request_id, **body}, 200, {"x-acs-request-id": request_id})


def build_app(state: EmulatorState, faults: FaultInjector, calls: CallRecorder) -> web.Application:
    """The aiohttp application over the given state."""
    app = web.Application()
    app[STATE_KEY] = state
    app[FAULTS_KEY] = faults
    app[CALLS_KEY] = calls
    app.router.add_route("POST", "/", handle_api)
    app.router.add_route("GET", "/", handle_api)
    add_admin_routes(app, state, faults, calls)
    return app


@dataclass
class RunningEmulator:
    """A started emulator: where it listens and handles on its state."""

    host: str
    port: int
    state: EmulatorState
    faults: FaultInjector
    calls: CallRecorder

    @property
    def url(self) -> str:
        """Base URL of the ENS (and STS) API."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """``host:port``, as the Alibaba SDKs want their endpoint."""
        return self.url.removeprefix("http://")

    @property
    def admin_url(self) -> str:
        """Base URL of the unsigned admin API."""
        return f"{self.url}/_emulator"


@asynccontextmanager
async def run_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    keys: Mapping[str, str] | None = None,
    step_seconds: float = 2.0,
    state_file: str | Path | None = None,
    sts_keys: Mapping[str, StsCredential] | None = None,
    seed: int | None = None,
    listing_lag: float | None = None,
    accounts: Mapping[str, str] | None = None,
    default_account_id: str = DEFAULT_ACCOUNT_ID,
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator for the duration of the block; port 0 picks a free port.

    ``accounts`` maps access key ids to the account they act for; others act for ``default_account_id``.
    """
    store = SqliteStore(state_file) if state_file is not None else None
    state = EmulatorState(
        keys=DEFAULT_KEYS if keys is None else keys,
        step_seconds=step_seconds,
        sts_keys=sts_keys,
        store=store,
        accounts=accounts,
        default_account_id=default_account_id,
    )
    if listing_lag is not None:
        state.set_listing_lag(listing_lag)
    faults, calls = FaultInjector(seed), CallRecorder()
    runner = web.AppRunner(build_app(state, faults, calls), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        yield RunningEmulator(host, bound_port, state, faults, calls)
    finally:
        await runner.cleanup()
        state.close()
