"""The scheduler tells each scope which images are in flight: a cycle then costs lookups of those,
not the listing of the whole account, and the drift check still sees every image (P1b)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any

from ens_image_operator.api.kinds import Kind
from ens_image_operator.controllers import scheduler
from ens_image_operator.credentials_scope import CredentialScopes
from ens_image_operator.ens.credentials import CredentialsProvider, StaticCredentials
from ens_image_operator.ens.models import ExportImageInfo, SelfImage
from ens_image_operator.reconcile.ports import ObjectView
from ens_image_operator.reconcile.timing import Backoffs

READY = [{"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "x"}]
IMPORTING = [{"type": "Reconciling", "status": "True", "reason": "Importing", "lastTransitionTime": "x"}]
ACCOUNT = 5000  # images in the account: a listing is 100 pages


class Account:
    """One emulated account of ACCOUNT images, counting pages and lookups by id."""

    def __init__(self) -> None:
        self.pages = 0
        self.lookups = 0

    def client(self, credentials: CredentialsProvider, retrying: bool) -> Any:
        return SimpleNamespace(iter_self_images=self.iter_self_images, iter_export_image_info=self.exports)

    async def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        if image_id is not None:
            self.lookups += 1
            await asyncio.sleep(0)
            yield SelfImage(image_id=image_id, status="Creating")
            return
        for start in range(0, ACCOUNT, 50):
            self.pages += 1
            await asyncio.sleep(0)
            for index in range(start, start + 50):
                yield SelfImage(image_id=f"m-{index}", status="Available")

    async def exports(self) -> AsyncIterator[ExportImageInfo]:
        for info in ():
            yield info


def _body(name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "generation": 1}
    return {"metadata": metadata, "spec": dict(spec), "status": {"observedGeneration": 1, **status}}


def _importing(name: str, image_id: str) -> dict[str, Any]:
    return _body(
        name, {"source": {}}, {"imageId": image_id, "imageStatus": "Creating", "conditions": IMPORTING}
    )


def _runtime(account: Account, bodies: list[dict[str, Any]], now: list[float]) -> Any:
    async def no_secret(namespace: str, name: str) -> dict[str, str] | None:
        return None

    scopes = CredentialScopes(
        no_secret,
        account.client,
        StaticCredentials("id", "secret"),
        default_secret_name="ens-credentials",
        snapshot_max_age=1.0,
        clock=lambda: now[0],
    )
    key = lambda body: (body["metadata"]["namespace"], body["metadata"]["name"])  # noqa: E731
    indexes = {
        scheduler.IMAGE_INDEX: {key(b): [scheduler.image_entry(b)] for b in bodies},
        scheduler.EXPORT_INDEX: {},
    }
    return SimpleNamespace(indexes=indexes, scopes=scopes, kube=None, backoffs=Backoffs(base=1.0, cap=60.0))


def _reading_pass(missed: list[str]) -> Any:
    """A pass that reads its image from the snapshot, as the image driver does."""

    async def run(runtime: Any, kind: Kind, body: Mapping[str, Any], *, force: bool = False) -> None:
        view = ObjectView.from_body(body)
        image_id = view.status.get("imageId") or view.spec.get("imageId")
        cloud = await runtime.scopes.cloud_for(view.namespace, None)
        if image_id not in await cloud.snapshots.self_images():
            missed.append(image_id)

    return run


async def test_after_the_first_listing_a_cycle_costs_one_lookup_per_image_in_flight() -> None:
    account, now, missed = Account(), [0.0], []
    bodies = [_importing(f"img-{i}", f"m-new-{i}") for i in range(5)]
    runtime = _runtime(account, bodies, now)
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups) == (100, 0)  # the account's size is not known yet
    now[0] = 2.0
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups) == (100, 5)
    assert missed == ["m-new-0", "m-new-1", "m-new-2", "m-new-3", "m-new-4"]  # only in the first listing


async def test_an_adopted_image_id_is_wanted_before_its_status_records_it() -> None:
    account, now, missed = Account(), [0.0], []
    runtime = _runtime(account, [_body("adopt", {"imageId": "m-7"}, {"conditions": IMPORTING})], now)
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    now[0] = 2.0
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups, missed) == (100, 1, [])


async def test_many_images_in_flight_are_listed_not_looked_up() -> None:
    account, now, missed = Account(), [0.0], []
    runtime = _runtime(account, [_importing(f"img-{i}", f"m-{i}") for i in range(150)], now)
    for cycle in range(3):
        now[0] = 2.0 * cycle
        await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups, missed) == (300, 0, [])


async def test_the_drift_check_sees_every_stable_image_after_targeted_cycles() -> None:
    account, now, missed = Account(), [0.0], []
    stable = [
        _body(
            f"ok-{i}",
            {"imageId": f"m-{i}"},
            {"imageId": f"m-{i}", "imageStatus": "Available", "conditions": READY},
        )
        for i in range(20)
    ]
    runtime = _runtime(account, [_importing("busy", "m-new"), *stable], now)
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    now[0] = 2.0
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups) == (100, 1)
    now[0] = 700.0
    assert await scheduler.check_once(runtime, _reading_pass(missed), max_age=300.0) == 0  # none drifted
    assert account.pages == 200  # one full listing for the check


async def test_after_the_drift_check_the_next_cycle_looks_up_its_ids_again() -> None:
    account, now, missed = Account(), [0.0], []
    stable = _body(
        "ok", {"imageId": "m-1"}, {"imageId": "m-1", "imageStatus": "Available", "conditions": READY}
    )
    runtime = _runtime(account, [_importing("busy", "m-new"), stable], now)
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    now[0] = 400.0
    await scheduler.check_once(runtime, _reading_pass(missed), max_age=300.0)
    assert account.pages == 200
    now[0] = 402.0
    await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups) == (200, 1)


async def test_an_import_whose_id_was_never_recorded_keeps_the_full_listing() -> None:
    # Recovery finds an interrupted import by its name, in the listing: lookups by id cannot.
    account, now, missed = Account(), [0.0], []
    interrupted = _body(
        "lost", {"source": {}}, {"importStartedAt": "2026-01-01T00:00:00Z", "conditions": IMPORTING}
    )
    runtime = _runtime(account, [_importing("busy", "m-new"), interrupted], now)
    for cycle in range(2):
        now[0] = 2.0 * cycle
        await scheduler.poll_in_flight(runtime, _reading_pass(missed))
    assert (account.pages, account.lookups) == (200, 0)
