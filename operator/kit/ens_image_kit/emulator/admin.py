"""The unsigned admin API under ``/_emulator/``: inspect and steer the emulated account."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from ens_image_kit.emulator.actions import iso_time
from ens_image_kit.emulator.calls import CallRecorder
from ens_image_kit.emulator.faults import FaultInjector, FaultRule
from ens_image_kit.emulator.images import EXPORT_STATUSES, Image
from ens_image_kit.emulator.state import EmulatorState

PREFIX = "/_emulator"
_ACCOUNT_ID = re.compile(r"[0-9]{1,20}")


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _bad_request(why: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": why}), content_type="application/json")


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise _bad_request("the body must be JSON") from None


def image_view(image: Image, now: float) -> dict[str, Any]:
    """What the admin API shows of one image."""
    return {
        "ImageId": image.image_id,
        "ImageName": image.image_name,
        "Status": image.status(now),
        "ExportStatus": image.export_state(now),
        "ExportedImageURL": image.export_url(),
        "CreationTime": iso_time(image.created_at),
        "StatusChangedAt": image.status_changed_at,
        "DeletedAt": None if image.deleted_at is None else iso_time(image.deleted_at),
        "Disks": [{"bucket": d.bucket, "object": d.object, "region": d.region} for d in image.disks],
        "Owner": image.owner,
        "SharedWith": list(image.shared_with),
    }


def add_admin_routes(
    app: web.Application, state: EmulatorState, faults: FaultInjector, calls: CallRecorder
) -> None:
    """Register every admin route on ``app``."""

    async def health(_: web.Request) -> web.Response:
        return _reply({"ok": True})

    async def list_images(_: web.Request) -> web.Response:
        now = state.now()
        everything = sorted(state.images.values(), key=lambda image: image.seq)
        return _reply([image_view(image, now) for image in everything])

    async def set_image(request: web.Request) -> web.Response:
        image = state.images.get(request.match_info["image_id"])
        if image is None:
            return _reply({"error": "no such image"}, 404)
        body = await _json_body(request)
        if not isinstance(body, dict) or not ({"Status", "ExportStatus"} & body.keys()):
            raise _bad_request('expected {"Status": ...} and/or {"ExportStatus": ...}')
        now = state.now()
        if "Status" in body:
            image.force_status(str(body["Status"]), now)
        if "ExportStatus" in body:
            if body["ExportStatus"] not in EXPORT_STATUSES:
                raise _bad_request(f"ExportStatus must be one of {', '.join(EXPORT_STATUSES)}")
            image.force_export_status(body["ExportStatus"], now, state.step_seconds)
        state.save(image)
        # Monotonic clocks are shared by the processes of one machine: benchmarks time reactions with it.
        return _reply(image_view(image, now) | {"ChangedAtMonotonic": time.monotonic()})

    async def get_missing(_: web.Request) -> web.Response:
        return _reply(
            {
                "buckets": sorted(state.missing_buckets),
                "objects": [{"bucket": b, "object": o} for b, o in sorted(state.missing_objects)],
            }
        )

    async def add_missing(request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            buckets = [str(b) for b in body.get("buckets", [])]
            objects = [(str(o["bucket"]), str(o["object"])) for o in body.get("objects", [])]
        except (AttributeError, KeyError, TypeError):
            raise _bad_request('expected {"buckets": [...], "objects": [{"bucket", "object"}]}') from None
        state.declare_missing(buckets, objects)
        return await get_missing(request)

    async def clear_missing(request: web.Request) -> web.Response:
        state.clear_missing()
        return await get_missing(request)

    async def get_faults(_: web.Request) -> web.Response:
        return _reply([rule.to_json() for rule in faults.rules])

    async def add_faults(request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            rules = [FaultRule.from_json(item) for item in (body if isinstance(body, list) else [body])]
        except (AttributeError, TypeError, ValueError) as error:
            raise _bad_request(f"bad fault rule: {error}") from None
        for rule in rules:
            faults.add(rule)
        return await get_faults(request)

    async def clear_faults(request: web.Request) -> web.Response:
        faults.clear()
        return await get_faults(request)

    async def get_calls(_: web.Request) -> web.Response:
        return _reply(calls.summary())

    async def get_call_log(request: web.Request) -> web.Response:
        return _reply(calls.recent(request.query.get("action")))

    async def clear_calls(_: web.Request) -> web.Response:
        calls.clear()
        return _reply({})

    def accounts_view() -> dict[str, Any]:
        # Secrets are never shown: only which account each long-term key acts for.
        return {
            "defaultAccountId": state.default_account_id,
            "keys": [
                {"accessKeyId": key_id, "accountId": state.account_of(key_id)}
                for key_id in sorted(state.keys)
            ],
        }

    async def get_accounts(_: web.Request) -> web.Response:
        return _reply(accounts_view())

    async def add_account_key(request: web.Request) -> web.Response:
        body = await _json_body(request)
        fields = ("accessKeyId", "accessKeySecret", "accountId")
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) and body[f] for f in fields):
            raise _bad_request('expected {"accessKeyId", "accessKeySecret", "accountId": "<digits>"}')
        if not _ACCOUNT_ID.fullmatch(body["accountId"]):
            raise _bad_request("accountId must be 1 to 20 digits")
        if body["accessKeyId"] in state.sts:
            raise _bad_request("that key id is an STS key")
        state.add_account_key(body["accessKeyId"], body["accessKeySecret"], body["accountId"])
        return _reply(accounts_view())

    def config_view() -> dict[str, Any]:
        return {
            "stepSeconds": state.step_seconds,
            "stsDurationSeconds": state.sts_duration_override,
            "listingLagSeconds": state.listing_lag,
            "defaultAccountId": state.default_account_id,
        }

    async def get_config(_: web.Request) -> web.Response:
        return _reply(config_view())

    async def set_config(request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise _bad_request("expected a JSON object")
        try:
            step = body.get("stepSeconds")
            if step is not None and float(step) < 0:
                raise ValueError("stepSeconds must not be negative")
            if step is not None:
                state.set_step_seconds(float(step))
            if "stsDurationSeconds" in body:
                duration = body["stsDurationSeconds"]
                state.set_sts_duration(None if duration is None else float(duration))
            lag = body.get("listingLagSeconds")
            if lag is not None and float(lag) < 0:
                raise ValueError("listingLagSeconds must not be negative")
            if lag is not None:
                state.set_listing_lag(float(lag))
            if "defaultAccountId" in body:
                account_id = str(body["defaultAccountId"])
                if not _ACCOUNT_ID.fullmatch(account_id):
                    raise ValueError("defaultAccountId must be 1 to 20 digits")
                state.set_default_account(account_id)
            if "seed" in body:
                faults.seed(None if body["seed"] is None else int(body["seed"]))
        except (TypeError, ValueError) as error:
            raise _bad_request(str(error)) from None
        return _reply(config_view())

    async def reset(_: web.Request) -> web.Response:
        state.reset()
        faults.clear()
        calls.clear()
        return _reply({"reset": True})

    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/images", list_images)
    app.router.add_post(f"{PREFIX}/images/{{image_id}}", set_image)
    app.router.add_get(f"{PREFIX}/missing", get_missing)
    app.router.add_post(f"{PREFIX}/missing", add_missing)
    app.router.add_delete(f"{PREFIX}/missing", clear_missing)
    app.router.add_get(f"{PREFIX}/faults", get_faults)
    app.router.add_post(f"{PREFIX}/faults", add_faults)
    app.router.add_delete(f"{PREFIX}/faults", clear_faults)
    app.router.add_get(f"{PREFIX}/calls", get_calls)
    app.router.add_delete(f"{PREFIX}/calls", clear_calls)
    app.router.add_get(f"{PREFIX}/calls/log", get_call_log)
    app.router.add_get(f"{PREFIX}/accounts", get_accounts)
    app.router.add_post(f"{PREFIX}/accounts", add_account_key)
    app.router.add_get(f"{PREFIX}/config", get_config)
    app.router.add_post(f"{PREFIX}/config", set_config)
    app.router.add_post(f"{PREFIX}/reset", reset)
