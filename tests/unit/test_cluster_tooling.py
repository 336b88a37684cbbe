"""The real control plane's build tooling: wrapper modules per version, version choice, caching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.cluster import build
from tests.cluster.build import BuildError, wanted_version, wrapper_go_mod

COMMITTED = (build.K8S_WRAPPER / "go.mod").read_text(encoding="utf-8")


def _replaces(go_mod: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(?:replace )?(k8s\.io/\S+) => k8s\.io/\S+ (v\S+)$", go_mod, re.MULTILINE))


def test_the_committed_wrapper_replaces_every_staging_module_at_the_default_version() -> None:
    replaces = _replaces(COMMITTED)
    assert len(replaces) == 31
    assert set(replaces.values()) == {"v0.34.4"}
    assert "require (" in COMMITTED and "\tk8s.io/kubernetes v1.34.4 // indirect" in COMMITTED
    assert "go 1.24.0" in COMMITTED and "godebug default=go1.24" in COMMITTED


def test_a_1_35_wrapper_moves_every_module_and_the_go_line() -> None:
    go_mod = wrapper_go_mod("1.35.4")
    assert set(_replaces(go_mod).values()) == {"v0.35.4"} and len(_replaces(go_mod)) == 31
    assert "\ngo 1.25.0\n" in go_mod and "godebug default=go1.25" in go_mod
    assert "require k8s.io/kubernetes v1.35.4" in go_mod


def test_a_1_36_or_later_wrapper_adds_the_two_new_staging_modules() -> None:
    replaces = _replaces(wrapper_go_mod("1.37.2"))
    assert len(replaces) == 33
    assert replaces["k8s.io/cri-streaming"] == replaces["k8s.io/streaming"] == "v0.37.2"
    assert "\ngo 1.26.0\n" in wrapper_go_mod("1.37.2")


def test_a_generated_wrapper_keeps_the_tools_of_the_committed_one() -> None:
    tools = re.search(r"^tool \((.*?)^\)", COMMITTED, re.MULTILINE | re.DOTALL)
    assert tools is not None
    assert tools.group(0) in wrapper_go_mod("1.36.3")


def test_the_version_comes_from_ens_k8s_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_K8S_VERSION", "v1.37.2")
    assert wanted_version() == "1.37.2"
    monkeypatch.delenv("ENS_K8S_VERSION")
    assert wanted_version() == "1.34.4"


def test_a_version_the_proxy_does_not_serve_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_K8S_VERSION", "1.33.0")
    with pytest.raises(BuildError) as raised:
        wanted_version()
    assert "\n" not in str(raised.value) and "1.34.4" in str(raised.value)


def test_without_go_and_without_a_cache_the_build_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(BuildError, match=r"^Go is not installed: .*put `go` on PATH\)$"):
        build.ensure_binaries("1.34.4", progress=lambda line: None)


def test_cached_binaries_are_used_without_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    where = build.cache_dir("1.34.4")
    where.mkdir(parents=True)
    for name in ("kube-apiserver", "kube-controller-manager", "etcd", "kubectl"):
        (where / name).write_text("#!/bin/sh\n")
        (where / name).chmod(0o755)
    lines: list[str] = []
    found = build.ensure_binaries("1.34.4", progress=lines.append)
    assert found.kube_apiserver == where / "kube-apiserver"
    assert lines == []  # nothing built, nothing announced
