"""Bad input: generated malformed EnsImage and EnsImageExport objects applied to the local API.

Each one must be refused at admission (422 naming the field) or, if the API accepts it, end Stalled
with a message naming the field. Either way the operator stays up, logs no traceback, and never
sends ENS a parameter ENS would refuse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from faultkit import API_VERSION, Kube, condition, make_stack, record, scaled, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ens_image_kit.stack import LocalStack

NAMESPACE = "bad"
REFUSED_BY_ENS = re.compile(r"^(InvalidParameter|MissingParameter|OssPrefix\.Malformed)")
_names = itertools.count()

# Values of the wrong JSON type for a string field.
not_a_string = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({"a": 1}))


# Text outside a closed set of accepted values.
def not_one_of(*allowed: str) -> st.SearchStrategy[str]:
    return st.text(max_size=12).filter(lambda text: text not in allowed)


ENS_NAME = re.compile("^[a-zA-Z\u4e00-\u9fa5][a-zA-Z0-9\u4e00-\u9fa5:_-]{1,127}$")
bad_image_name = st.text(max_size=140).filter(lambda text: not ENS_NAME.match(text))
STRING_FIELDS = ("imageName", "platform", "osVersion", "imageId")
ENUMS = {
    "osType": ("linux", "windows"),
    "architecture": ("x86_64",),
    "imageFormat": ("qcow2",),
    "computeType": ("ens_vm",),
    "licenseType": ("Aliyun", "BYOL"),
    "targetOSSRegionId": ("cn-beijing", "ap-southeast-1"),
    "deletionPolicy": ("Delete", "Retain"),
}


def source(bucket: Any = "images", obj: Any = "disk.qcow2", region: Any = "cn-beijing") -> dict[str, Any]:
    return {"oss": {"bucket": bucket, "object": obj, "region": region}}


@st.composite
def bad_image(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(object name, spec, the field at fault)."""
    spec: dict[str, Any] = {"source": source()}
    name = f"bad-img-{next(_names)}"
    kind = draw(st.sampled_from(["type", "enum", "name", "objectname", "bucket", "both", "neither", "disks"]))
    if kind == "type":
        field = draw(st.sampled_from(STRING_FIELDS))
        spec[field] = draw(not_a_string)
        if field == "imageId":
            spec.pop("source")
        return name, spec, field
    if kind == "enum":
        field = draw(st.sampled_from(sorted(ENUMS)))
        spec[field] = draw(not_one_of(*ENUMS[field]))
        return name, spec, field
    if kind == "name":
        spec["imageName"] = draw(bad_image_name)
        return name, spec, "imageName"
    if kind == "objectname":  # a fine Kubernetes name that is no ENS image name, and no imageName
        return f"{draw(st.integers(0, 9))}bad-{next(_names)}", spec, "imageName"
    if kind == "bucket":
        spec["source"] = source(
            bucket=draw(st.one_of(st.text(max_size=2), st.text(min_size=64, max_size=80)))
        )
        return name, spec, "bucket"
    if kind == "both":
        spec["imageId"] = "m-both"
        return name, spec, "spec"
    if kind == "neither":
        return name, {"osType": "linux"}, "spec"
    disks = draw(st.integers(5, 8))
    spec["dataDisks"] = [
        {"bucket": "images", "object": f"d{n}.qcow2", "region": "cn-beijing"} for n in range(disks)
    ]
    return name, spec, "dataDisks"


@st.composite
def bad_export(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    spec: dict[str, Any] = {"imageId": "m-export", "ossBucket": "exports", "ossRegionId": "cn-beijing"}
    name = f"bad-exp-{next(_names)}"
    kind = draw(st.sampled_from(["prefix", "type", "missing", "both"]))
    if kind == "prefix":
        spec["ossPrefix"] = draw(
            st.text(max_size=40).filter(lambda text: not re.match("^[a-zA-Z0-9]{1,30}$", text))
        )
        return name, spec, "ossPrefix"
    if kind == "type":
        field = draw(st.sampled_from(["imageId", "ossBucket", "ossRegionId", "roleName"]))
        spec[field] = draw(not_a_string)
        return name, spec, field
    if kind == "missing":
        field = draw(st.sampled_from(["ossBucket", "ossRegionId"]))
        spec.pop(field)
        return name, spec, field
    spec["imageRef"] = {"name": "other"}
    return name, spec, "spec"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = make_stack(tmp_path_factory.mktemp("bad"))
    try:
        stack.start_operator()
        yield stack
    finally:
        record("bad input", examples_per_kind=scaled(12, 150), checked=_checked)
        stack.close()


_checked = {"refused": 0, "stalled": 0}


def apply_and_judge(stack: LocalStack, kind: str, name: str, spec: dict[str, Any], field: str) -> None:
    kube = Kube(stack, NAMESPACE)
    body = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
    response = kube.create(body)
    if response.status_code == 422:
        causes = (response.json().get("details") or {}).get("causes") or []
        paths = [str(cause.get("field", "")) for cause in causes]
        assert any(path.startswith("spec") and field in path for path in paths), (spec, response.text)
        _checked["refused"] += 1
    else:
        assert response.status_code == 201, response.text
        items: dict[str, dict[str, Any]] = {}

        def stalled() -> bool:
            items.update({item["metadata"]["name"]: item for item in kube.items(kind)})
            return condition(items.get(name, {}), "Stalled").get("status") == "True"

        wait_until(stalled, 15, lambda: f"{name} {spec} not Stalled: {items.get(name, {}).get('status')}")
        message = str(condition(items[name], "Stalled").get("message"))
        assert field in message, (spec, message)
        _checked["stalled"] += 1
        kube.delete(kind, name)
    harmless(stack)


def harmless(stack: LocalStack) -> None:
    """The operator is up, has logged no traceback, and ENS refused nothing it was sent."""
    assert stack.operator is not None and stack.operator.alive, stack.operator and stack.operator.tail()
    assert "Traceback" not in stack.operator_log.read_text(encoding="utf-8", errors="replace")
    calls = stack.admin("GET", "calls")
    assert isinstance(calls, dict)
    refused = {
        f"{action}:{code}" for action, codes in calls.items() for code in codes if REFUSED_BY_ENS.match(code)
    }
    assert not refused, refused


EXAMPLES = settings(
    max_examples=scaled(12, 150),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@EXAMPLES
@given(case=bad_image())
def test_a_malformed_ens_image_is_refused_or_stalls_naming_its_field(
    stack: LocalStack, case: tuple[str, dict[str, Any], str]
) -> None:
    apply_and_judge(stack, "EnsImage", *case)


@EXAMPLES
@given(case=bad_export())
def test_a_malformed_export_is_refused_or_stalls_naming_its_field(
    stack: LocalStack, case: tuple[str, dict[str, Any], str]
) -> None:
    apply_and_judge(stack, "EnsImageExport", *case)
