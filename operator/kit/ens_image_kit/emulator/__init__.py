"""A local ENS API: signature checks, image life cycle, persistence, faults and an admin API.

It shares no code with the operator's ENS client, so that it can judge it.
"""

from ens_image_kit.emulator.server import DEFAULT_KEYS, RunningEmulator, build_app, run_emulator
from ens_image_kit.emulator.state import DEFAULT_ACCOUNT_ID, EmulatorState, StsCredential
from ens_image_kit.emulator.threaded import emulator_thread

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_KEYS",
    "EmulatorState",
    "RunningEmulator",
    "StsCredential",
    "build_app",
    "emulator_thread",
    "run_emulator",
]
