"""Session fixtures of the chart tests: the helm/kubectl toolsets, installed once and cached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chart_tools import TOOLSETS, Toolset, install


@pytest.fixture(scope="session")
def toolsets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Toolset]:
    """Both toolsets, installed once per machine and reused from the cache."""
    found: dict[str, Toolset] = {}
    for label, (_, _, kube_version) in TOOLSETS.items():
        where = install(label)
        found[label] = Toolset(
            label=label,
            helm_path=where / "helm" / "helm",
            kubectl_path=where / "kubectl" / "kubectl",
            kube_version=kube_version,
            home=tmp_path_factory.mktemp(label),
        )
    return found


@pytest.fixture(scope="session", params=sorted(TOOLSETS))
def tools(request: pytest.FixtureRequest, toolsets: dict[str, Toolset]) -> Iterator[Toolset]:
    """Each test using this runs once with Helm 3 and once with Helm 4."""
    yield toolsets[request.param]
