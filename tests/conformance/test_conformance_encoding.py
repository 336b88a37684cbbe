"""Any parameter value an SDK can send survives the trip: the verifier re-encodes what it decoded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alibabacloud_ens20171110 import models as ens
from alibabacloud_ens20171110.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_setup import KEY_ID, KEY_SECRET, v3_client

from ens_image_kit.emulator import RunningEmulator, emulator_thread

# Any Unicode but lone surrogates, which UTF-8 cannot carry.
VALUES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def shared() -> Iterator[RunningEmulator]:
    with emulator_thread(keys={KEY_ID: KEY_SECRET}) as emu:
        yield emu


@pytest.fixture(scope="module", params=["v3", "v2"])
def client(shared: RunningEmulator, request: pytest.FixtureRequest) -> Client:
    if request.param == "v2":
        return v3_client(shared, signature_algorithm="v2")
    return v3_client(shared)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=VALUES)
def test_any_filter_value_is_accepted_by_the_verifier(client: Client, name: str) -> None:
    body = client.describe_self_images(ens.DescribeSelfImagesRequest(image_name=name, page_size=50)).body
    assert body.total_count == "0"
