"""Build promtool from its Go module, the way ``tests/cluster/build.py`` builds kube-apiserver.

The wrapper module beside this file (``go.mod`` + ``go.sum``, committed) has one ``tool`` line,
``github.com/prometheus/prometheus/cmd/promtool``, pinned at ``VERSION``. The binary is cached under
``$HOME/.cache/ens-image-operator/promtool/<version>/`` and not built again while it is there.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.cluster.build import BuildError, Progress, go_available, go_build, locked

HERE = Path(__file__).resolve().parent
WRAPPER = HERE
PACKAGE = "github.com/prometheus/prometheus/cmd/promtool"
# The Go module version; the Prometheus release it is (v0.316.0 is Prometheus 3.16.0).
VERSION = "0.316.0"

__all__ = ["BuildError", "cache_dir", "cached", "ensure_promtool", "release_of"]


def cache_dir(version: str = VERSION) -> Path:
    return Path.home() / ".cache" / "ens-image-operator" / "promtool" / version


def release_of(version: str) -> str:
    """Prometheus' own version of a module version: v0.316.0 -> 3.16.0."""
    _, minor, patch = version.split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def cached(version: str = VERSION) -> Path | None:
    """The promtool binary of ``version`` if it is there already (no build, no Go needed)."""
    binary = cache_dir(version) / "promtool"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def ensure_promtool(version: str = VERSION, progress: Progress = print) -> Path:
    """The promtool binary: from the cache, or built now (minutes with cold Go caches)."""
    found = cached(version)
    if found is not None:
        return found
    if not go_available():
        raise BuildError(
            f"Go is not installed: it is needed once to build promtool (Prometheus module v{version}) "
            "for the chart's alert tests (install Go >= 1.26 and put `go` on PATH)"
        )
    where = cache_dir(version)
    where.mkdir(parents=True, exist_ok=True)
    with locked(where / ".lock"):
        binary = where / "promtool"
        if not binary.is_file():
            progress(f"building promtool v{version} into {where} (minutes with cold Go caches; once)")
            release = release_of(version)
            go_build(
                WRAPPER,
                PACKAGE,
                binary,
                version,
                where / "build.log",
                stamps=[
                    f"github.com/prometheus/common/version.Version={release}",
                    "github.com/prometheus/common/version.Branch=HEAD",
                ],
            )
        return binary
