"""Shared pieces of the fault suite: a stack per scenario, the local Kubernetes API, and the checks.

ENS_FAULTS_SCALE=large makes every scenario bigger (more objects, more rounds, more examples).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from ens_image_kit.stack import LocalStack

LARGE = os.environ.get("ENS_FAULTS_SCALE", "small").lower() == "large"
GROUP, VERSION = "ens.image-operator.io", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
PLURALS = {"EnsImage": "ensimages", "EnsImageExport": "ensimageexports", "Event": "events"}
STEP_SECONDS = 0.3
WRITE_FAULTS = "/_sandbox/faults"
FAST_POLL = 0.5
# The emulator lists at once unless a scenario sets a lag: the operator's settle window need only
# cover a lost ImportImage answer (2 x the short request timeout), which keeps recovery waits short.
OPERATOR_ENV = {
    "ENS_OPERATOR_REQUEST_TIMEOUT": "1.5",
    "ENS_OPERATOR_SLOW_POLL_INTERVAL": "5",
    "ENS_OPERATOR_QPS": "50",
    "ENS_OPERATOR_LISTING_LAG": "3",
}


def scaled(small: int, large: int) -> int:
    return large if LARGE else small


def make_stack(workdir: Path, env: Mapping[str, str] | None = None, **kwargs: Any) -> LocalStack:
    """An emulator and a local Kubernetes API, started; the operator is started by the caller."""
    stack = LocalStack(
        workdir,
        step_seconds=STEP_SECONDS,
        fast_poll_interval=FAST_POLL,
        operator_env={**OPERATOR_ENV, **(env or {})},
        **kwargs,
    )
    stack.__enter__()
    return stack


def path(kind: str, namespace: str, name: str | None = None) -> str:
    group = "/api/v1" if kind == "Event" else f"/apis/{GROUP}/{VERSION}"
    tail = f"/{name}" if name else ""
    return f"{group}/namespaces/{namespace}/{PLURALS[kind]}{tail}"


class Kube:
    """The local Kubernetes API in one namespace, over plain HTTP."""

    def __init__(self, stack: LocalStack, namespace: str) -> None:
        assert stack.sandbox is not None and stack.sandbox.url is not None
        self.http = httpx.Client(base_url=stack.sandbox.url, timeout=30)
        self.namespace = namespace
        self.http.post("/api/v1/namespaces", json={"metadata": {"name": namespace}})

    def create(self, body: Mapping[str, Any]) -> httpx.Response:
        return self.http.post(path(str(body["kind"]), self.namespace), json=dict(body))

    def delete(self, kind: str, name: str) -> None:
        response = self.http.delete(path(kind, self.namespace, name))
        assert response.status_code in (200, 202, 404), response.text

    def items(self, kind: str) -> list[dict[str, Any]]:
        response = self.http.get(path(kind, self.namespace))
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def post_secret(self, name: str, data: Mapping[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": dict(data)}
        response = self.http.post(f"/api/v1/namespaces/{self.namespace}/secrets", json=body)
        response.raise_for_status()

    def text(self, url: str) -> str:
        response = self.http.get(url)
        response.raise_for_status()
        return response.text

    def write_faults(self, rules: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Add rules to, or (None) clear, the local API's injected write faults; the rules now held."""
        if rules is None:
            response = self.http.delete(WRITE_FAULTS)
        else:
            response = self.http.post(WRITE_FAULTS, json=rules) if rules else self.http.get(WRITE_FAULTS)
        response.raise_for_status()
        held: list[dict[str, Any]] = response.json()
        return held


def ens_image(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "EnsImage", "metadata": {"name": name}, "spec": spec}


def ens_export(name: str, image: str, prefix: str = "faults") -> dict[str, Any]:
    spec = {
        "imageRef": {"name": image},
        "ossBucket": "exports",
        "ossRegionId": "cn-beijing",
        "ossPrefix": prefix,
    }
    return {"apiVersion": API_VERSION, "kind": "EnsImageExport", "metadata": {"name": name}, "spec": spec}


def oss(obj: str) -> dict[str, Any]:
    return {"oss": {"bucket": "images", "object": obj, "region": "cn-beijing"}}


def condition(body: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for cond in (body.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def is_ready(body: Mapping[str, Any]) -> bool:
    return condition(body, "Ready").get("status") == "True"


def wait_until(check: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Poll ``check`` until it holds; fail with ``what()`` (the state seen last) otherwise."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f}s: {what()}")
        time.sleep(0.25)


def converge(
    kube: Kube, ready: Iterable[tuple[str, str]], gone: Iterable[tuple[str, str]], timeout: float
) -> None:
    """Wait until every (kind, name) in ``ready`` is Ready and every one in ``gone`` no longer exists."""
    want_ready, want_gone = set(ready), set(gone)

    def missing() -> set[tuple[str, str]]:
        present = {(kind, item["metadata"]["name"]): item for kind in ("EnsImage", "EnsImageExport")
                   for item in kube.items(kind)}  # fmt: skip
        not_ready = {key for key in want_ready if key not in present or not is_ready(present[key])}
        return not_ready | (want_gone & set(present))

    wait_until(lambda: not missing(), timeout, lambda: f"still not converged: {sorted(missing())}")


def live_images(images: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [image for image in images if not image.get("DeletedAt")]


def duplicates(images: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Image names the emulator ever created more than once (deleted images count too)."""
    counts = Counter(str(image.get("ImageName")) for image in images)
    return {name: count for name, count in counts.items() if count > 1}


def leaks(images: Iterable[Mapping[str, Any]], kept: set[str]) -> list[str]:
    """Live images in the emulator whose name is not one of the objects that should keep one."""
    return sorted(str(image["ImageName"]) for image in live_images(images) if image["ImageName"] not in kept)


def emulator_images(stack: LocalStack) -> list[dict[str, Any]]:
    """Every image the emulator ever created, deleted ones included."""
    images = stack.admin("GET", "images")
    assert isinstance(images, list)
    return images


# Figures the scenarios measured (rounds, kills, amplification, …), printed after the run.
FIGURES: dict[str, dict[str, object]] = {}


def record(scenario: str, **figures: object) -> None:
    FIGURES.setdefault(scenario, {}).update(figures)
