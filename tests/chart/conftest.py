"""Session fixtures of the chart tests: the helm/kubectl toolsets and promtool, installed once and cached."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chart_tools import TOOLSETS, Toolset, install
from tests.gotest import announce
from tests.promtool.build import BuildError, ensure_promtool

_PROMTOOL = pytest.StashKey[Path | tuple[str, str]]()


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


def _uses_promtool(item: pytest.Item) -> bool:
    return "promtool" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build promtool before the first test that needs it, so a cold build is not a test's timeout."""
    if not session.config.option.collectonly and any(_uses_promtool(item) for item in session.items):
        _promtool(session.config)


def _promtool(config: pytest.Config) -> Path | tuple[str, str]:
    """The promtool binary (built now if missing), or ("skip" | "fail", why)."""
    if _PROMTOOL not in config.stash:
        try:
            config.stash[_PROMTOOL] = ensure_promtool(progress=functools.partial(announce, config))
        except BuildError as error:
            # Without Go a developer may still run the other chart tests; CI must have promtool.
            config.stash[_PROMTOOL] = ("fail" if os.environ.get("CI") == "true" else "skip", str(error))
    return config.stash[_PROMTOOL]


@pytest.fixture(scope="session")
def promtool(request: pytest.FixtureRequest) -> Path:
    """promtool built from its Go module (tests/promtool), cached under ~/.cache/ens-image-operator."""
    found = _promtool(request.config)
    if isinstance(found, tuple):
        (pytest.fail if found[0] == "fail" else pytest.skip)(found[1])
    assert isinstance(found, Path)
    return found
