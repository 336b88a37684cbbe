"""The emulator judges the operator's ENS client, so it must not lean on it."""

from __future__ import annotations

import subprocess
import sys


def test_the_emulator_does_not_import_the_operators_client() -> None:
    forbidden = ("ens_image_operator.ens", "kopf", "kubernetes")
    probe = (
        "import sys, ens_image_kit.emulator, ens_image_kit.commands.emulator;"
        f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
