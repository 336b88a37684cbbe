"""Each credentials scope gets its own per-action rate limits, reported as a metric without key ids."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from ens_image_operator.controllers.kube import Connection, KubeApi
from ens_image_operator.controllers.operator import build_runtime
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.metrics import REGISTRY
from ens_image_operator.settings import Settings

SECRETS = {
    "team-a": {"accessKeyId": "LTAI-team-a", "accessKeySecret": "secret-a"},
    "team-b": {"accessKeyId": "LTAI-team-b", "accessKeySecret": "secret-b"},
}


def _secrets(request: httpx.Request) -> httpx.Response:
    namespace = request.url.path.split("/")[4]
    data = SECRETS.get(namespace)
    if data is None:
        return httpx.Response(404, json={})
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return httpx.Response(200, json={"data": encoded})


async def _clients(settings: Settings) -> tuple[EnsClient, EnsClient, EnsClient]:
    kube = KubeApi(Connection(server="http://k8s"), transport=httpx.MockTransport(_secrets))
    runtime = build_runtime(settings, kube)
    a, b = await runtime.scopes.cloud_for("team-a", None), await runtime.scopes.cloud_for("team-b", None)
    assert isinstance(a.client, EnsClient) and isinstance(b.client, EnsClient)
    assert isinstance(a.once, EnsClient)
    return a.client, a.once, b.client


def _gauge(action: str, scope: str) -> float | None:
    return REGISTRY.get_sample_value("ens_operator_ens_rate_limit", {"action": action, "scope": scope})


@pytest.mark.looptime
async def test_a_throttle_in_one_scope_leaves_another_scopes_rate_alone() -> None:
    a, a_once, b = await _clients(Settings(qps=10))
    assert a.limiter is a_once.limiter  # one account, one set of buckets, retrying or not
    assert a.limiter is not b.limiter
    a.limiter.penalize(0.0, "ImportImage")
    assert a.limiter.rate("ImportImage") == pytest.approx(7.0)
    assert b.limiter.rate("ImportImage") == 10.0


@pytest.mark.looptime
async def test_configured_rates_reach_every_scope_over_the_documented_defaults() -> None:
    a, _, b = await _clients(Settings(qps=10, rate_limits={"ImportImage": 2.0}))
    for limiter in (a.limiter, b.limiter):
        assert limiter.rate("ImportImage") == 2.0
        assert limiter.rate("DescribeExportImageInfo") == 50.0  # documented default kept
        assert limiter.rate("DeleteImage") == 10.0  # qps


@pytest.mark.looptime
async def test_the_rate_metric_follows_cuts_per_scope_and_never_names_a_key() -> None:
    a, _, b = await _clients(Settings(qps=10))
    a_scope, b_scope = a.limiter.scope, b.limiter.scope
    assert a_scope.startswith("secret-") and b_scope.startswith("secret-") and a_scope != b_scope
    await a.limiter.acquire("DescribeSelfImages")
    await b.limiter.acquire("DescribeSelfImages")
    a.limiter.penalize(1.0, "DescribeSelfImages")
    assert _gauge("DescribeSelfImages", a_scope) == pytest.approx(7.0)
    assert _gauge("DescribeSelfImages", b_scope) == 10.0
    await asyncio.sleep(30)
    await a.limiter.acquire("DescribeSelfImages")
    assert _gauge("DescribeSelfImages", a_scope) == 10.0  # recovered
    exposed = str([metric.samples for metric in REGISTRY.collect()])
    assert "LTAI" not in exposed
