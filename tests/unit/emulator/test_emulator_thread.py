"""The thread-backed emulator serves synchronous callers and reports a failed start to them."""

from __future__ import annotations

import socket

import httpx
import pytest

from ens_image_kit.emulator import emulator_thread


def test_it_serves_from_its_own_thread_until_the_block_ends() -> None:
    with emulator_thread() as emu:
        assert httpx.get(f"{emu.admin_url}/health").json() == {"ok": True}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.admin_url}/health")


def test_a_port_already_taken_is_raised_in_the_caller() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError), emulator_thread(port=taken.getsockname()[1]):
            pass
