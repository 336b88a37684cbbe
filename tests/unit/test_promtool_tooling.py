"""promtool's build tooling: the wrapper module's pin, the cache, and a one-line error without Go."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.promtool import build
from tests.promtool.build import BuildError


def test_the_wrapper_module_pins_the_version_it_builds() -> None:
    go_mod = (build.WRAPPER / "go.mod").read_text(encoding="utf-8")
    assert re.search(r"^tool github\.com/prometheus/prometheus/cmd/promtool$", go_mod, re.MULTILINE)
    assert f"\tgithub.com/prometheus/prometheus v{build.VERSION}" in go_mod
    assert (build.WRAPPER / "go.sum").is_file()


def test_the_module_version_maps_onto_the_prometheus_release() -> None:
    assert build.release_of("0.316.0") == "3.16.0"
    assert build.release_of("0.305.2") == "3.5.2"


def test_without_go_and_without_a_cache_the_build_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(BuildError, match=r"^Go is not installed: .*put `go` on PATH\)$"):
        build.ensure_promtool(progress=lambda line: None)


def test_a_cached_promtool_is_used_without_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    where = build.cache_dir()
    assert where == tmp_path / ".cache" / "ens-image-operator" / "promtool" / build.VERSION
    where.mkdir(parents=True)
    (where / "promtool").write_text("#!/bin/sh\n")
    (where / "promtool").chmod(0o755)
    lines: list[str] = []
    assert build.ensure_promtool(progress=lines.append) == where / "promtool"
    assert lines == []  # nothing built, nothing announced


def test_a_failed_build_is_one_line_naming_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    fake_go = tmp_path / "bin" / "go"
    fake_go.parent.mkdir()
    fake_go.write_text(
        "#!/bin/sh\necho 'go: github.com/prometheus/prometheus@v0.316.0: not found' >&2\nexit 1\n"
    )
    fake_go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_go.parent}")
    lines: list[str] = []
    with pytest.raises(BuildError) as raised:
        build.ensure_promtool(progress=lines.append)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("building promtool v0.316.0 failed (exit 1)")
    assert "not found" in message and str(build.cache_dir() / "build.log") in message
    assert len(lines) == 1 and lines[0].startswith("building promtool v0.316.0 into ")
