"""Run a Go test module under tests/ from pytest: `go test ./...` in it, failures as pytest failures.

Go is found and run the way ``tests/cluster/build.py`` does it (its ``go_available`` and
``go_env``: no cgo, ``-mod=readonly`` against the committed go.sum). Modules come from the module
proxy into the default Go module cache: the first run on a machine downloads them (one line of
progress says so), later runs start at once.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.cluster.build import go_available, go_env

REPO = Path(__file__).resolve().parents[1]
# Cold: module downloads plus compiling k8s.io/apimachinery on two shared cores.
TIMEOUT = 540.0


def announce(config: pytest.Config, line: str) -> None:
    """One line on the terminal even while pytest captures output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(line)


def _escaped(path: str) -> str:
    """A module path as the module cache spells it (capitals become ``!`` + lower case)."""
    return re.sub(r"[A-Z]", lambda match: "!" + match.group().lower(), path)


def missing_modules(module: Path, mod_cache: Path) -> list[str]:
    """The ``path@version`` of each module that go.mod requires and the module cache lacks."""
    text = (module / "go.mod").read_text(encoding="utf-8")
    required = re.findall(r"^\s*(?:require\s+)?([\w.\-]+\.[\w.\-/]+)\s+(v\S+)", text, re.MULTILINE)
    return [
        f"{path}@{version}"
        for path, version in required
        if not (mod_cache / "cache" / "download" / _escaped(path) / "@v" / f"{version}.zip").is_file()
    ]


def go_test(module: Path, config: pytest.Config, env: Mapping[str, str] | None = None) -> None:
    """Run ``go test ./...`` in ``module``; fail the calling test with Go's output if it fails."""
    where = module.relative_to(REPO)
    if not go_available():
        pytest.fail(
            f"Go is not installed: {where} is a Go test module (install Go >= 1.26 and put `go` on PATH)",
            pytrace=False,
        )
    run_env = {**go_env(), **(env or {})}
    mod_cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, env=run_env, check=True
    ).stdout.strip()
    missing = missing_modules(module, Path(mod_cache))
    if missing:
        announce(
            config,
            f"downloading {len(missing)} Go module{'s' if len(missing) > 1 else ''} for {where} "
            f"into {mod_cache} (once per machine)",
        )
    try:
        done = subprocess.run(
            ["go", "test", "-count=1", "./..."],
            cwd=module,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"go test in {where} took longer than {TIMEOUT:.0f} s", pytrace=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        pytest.fail(f"go test in {where} failed (exit {done.returncode}):\n{output}", pytrace=False)
