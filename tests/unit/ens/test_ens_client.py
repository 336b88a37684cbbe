"""EnsClient sends SDK-shaped, signed requests and retries only what is worth retrying."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from alibabacloud_tea_openapi.utils import get_canonical_query_string, get_canonicalized_headers  # type: ignore[import-untyped]

from ens_image_operator.ens.auth import EMPTY_SHA256, sign, string_to_sign
from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import StaticCredentials
from ens_image_operator.ens.errors import Denied, Invalid, NotFound, Throttled, Transient
from ens_image_operator.ens.models import DiskDeviceMapping, ImportImageRequest
from ens_image_operator.ens.ratelimit import RateLimiter

Handler = Callable[[httpx.Request], httpx.Response]
ENDPOINT = "https://ens.example.test"


def ok(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"RequestId": "ok-1", **fields})


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"RequestId": f"req-{code}", "Code": code}, headers=headers)


class MaxJitter(random.Random):
    """Always picks the top of the jitter range, so backoff delays are predictable."""

    def uniform(self, a: float, b: float) -> float:
        return b


def client(handler: Handler, **kwargs: Any) -> EnsClient:
    kwargs.setdefault("limiter", RateLimiter(qps=1000, burst=1000))
    return EnsClient(
        StaticCredentials("testid", "testsecret"),
        endpoint=ENDPOINT,
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def now() -> float:
    return asyncio.get_running_loop().time()


class Recorder:
    """Answers with a scripted list of responses and records each request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(now())
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_request_is_a_post_to_root_with_parameters_in_query_and_empty_body() -> None:
    rec = Recorder(ok(Images={"Image": []}))
    async with client(rec) as ens:
        await ens.describe_self_images(image_id="m-1", page_size=10)
    request = rec.requests[0]
    assert (request.method, request.url.path, request.content) == ("POST", "/", b"")
    assert dict(request.url.params) == {"ImageId": "m-1", "PageNumber": "1", "PageSize": "10"}
    assert request.headers["x-acs-action"] == "DescribeSelfImages"
    assert request.headers["x-acs-version"] == "2017-11-10"
    assert request.headers["x-acs-content-sha256"] == EMPTY_SHA256


async def test_signature_verifies_with_the_official_sdk_canonicalisation() -> None:
    rec = Recorder(ok(ImageId="m-new"))
    request_model = ImportImageRequest(
        image_name="my image*~", os_type="linux", disk_device_mapping=[DiskDeviceMapping(oss_object="a b/c")]
    )
    async with client(rec) as ens:
        await ens.import_image(request_model)
    request = rec.requests[0]
    fields = dict(part.split("=", 1) for part in request.headers["authorization"].split(" ", 1)[1].split(","))
    signed_names = fields["SignedHeaders"].split(";")
    headers, signed = get_canonicalized_headers({name: request.headers[name] for name in signed_names})
    query = get_canonical_query_string(dict(request.url.params))
    canonical = f"POST\n/\n{query}\n{headers}\n{signed}\n{EMPTY_SHA256}"
    assert fields["Credential"] == "testid"
    assert fields["Signature"] == sign("testsecret", string_to_sign(canonical))


async def test_import_image_returns_the_image_id_and_sends_disk_mapping_json() -> None:
    rec = Recorder(ok(ImageId="m-123"))
    request_model = ImportImageRequest(
        image_name="img",
        os_type="linux",
        disk_device_mapping=[
            DiskDeviceMapping(oss_bucket="b", oss_object="d.qcow2", oss_region="cn-beijing")
        ],
    )
    async with client(rec) as ens:
        assert await ens.import_image(request_model) == "m-123"
    assert rec.requests[0].url.params["DiskDeviceMapping"] == (
        '[{"OSSBucket":"b","OSSObject":"d.qcow2","OSSRegion":"cn-beijing"}]'
    )


async def test_export_image_uses_sdk_names_and_returns_the_url() -> None:
    rec = Recorder(ok(ExportedImageURL="https://b.oss/x.qcow2"))
    async with client(rec) as ens:
        url = await ens.export_image(image_id="m-1", oss_bucket="b", oss_region_id="cn-beijing")
    assert url == "https://b.oss/x.qcow2"
    assert dict(rec.requests[0].url.params) == {
        "ImageId": "m-1",
        "OSSBucket": "b",
        "OSSRegionId": "cn-beijing",
    }


async def test_describe_image_infos_sends_os_type_with_its_own_casing() -> None:
    rec = Recorder(ok(Images={"Image": [{"ImageId": "centos_7", "OSType": "linux", "ImageSize": "40"}]}))
    async with client(rec) as ens:
        images = await ens.describe_image_infos(os_type="linux")
    assert dict(rec.requests[0].url.params) == {"OsType": "linux"}
    assert (images[0].image_id, images[0].image_size) == ("centos_7", 40)


async def test_export_status_and_info_are_read() -> None:
    rec = Recorder(
        ok(ImageExportStatus="Exported"),
        ok(TotalCount=1, Images={"Image": [{"ImageId": "m-1", "ImageExportStatus": "Exported"}]}),
    )
    async with client(rec) as ens:
        assert await ens.describe_export_image_status("m-1") == "Exported"
        infos = [info async for info in ens.iter_export_image_info(image_id="m-1")]
    assert [info.image_export_status for info in infos] == ["Exported"]


async def test_iter_self_images_walks_every_page() -> None:
    images = [{"ImageId": f"m-{n}"} for n in range(120)]

    def pages(request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["PageNumber"]), int(request.url.params["PageSize"])
        chunk = images[(number - 1) * size : number * size]
        return ok(PageNumber=str(number), TotalCount="120", Images={"Image": chunk})

    async with client(pages) as ens:
        ids = [image.image_id async for image in ens.iter_self_images(image_name="m")]
    assert ids == [f"m-{n}" for n in range(120)]


async def test_delete_and_rename_send_the_image_id() -> None:
    rec = Recorder(ok(Code=0))
    async with client(rec) as ens:
        await ens.delete_image("m-9")
        await ens.modify_image_attribute("m-9", "new-name")
    assert [r.headers["x-acs-action"] for r in rec.requests] == ["DeleteImage", "ModifyImageAttribute"]
    assert dict(rec.requests[1].url.params) == {"ImageId": "m-9", "ImageName": "new-name"}


@pytest.mark.looptime
async def test_transient_errors_are_retried_until_success() -> None:
    rec = Recorder(
        error(503, "ServiceUnavailable"), error(500, "InternalError"), ok(ImageExportStatus="Exported")
    )
    calls: list[tuple[str, str]] = []
    async with client(rec, on_call=lambda action, code, _: calls.append((action, code))) as ens:
        assert await ens.describe_export_image_status("m-1") == "Exported"
    assert calls == [
        ("DescribeExportImageStatus", "ServiceUnavailable"),
        ("DescribeExportImageStatus", "InternalError"),
        ("DescribeExportImageStatus", "OK"),
    ]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(404, "ImageId.NotFound", NotFound), (400, "InvalidParameter", Invalid), (403, "NoPermission", Denied)],
)
async def test_terminal_errors_are_not_retried(status: int, code: str, kind: type[Exception]) -> None:
    rec = Recorder(error(status, code))
    async with client(rec) as ens:
        with pytest.raises(kind):
            await ens.delete_image("m-1")
    assert len(rec.requests) == 1


@pytest.mark.looptime
async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    rec = Recorder(error(503, "ServiceUnavailable"))
    async with client(rec, max_attempts=3) as ens:
        with pytest.raises(Transient) as caught:
            await ens.delete_image("m-1")
    assert len(rec.requests) == 3
    assert caught.value.request_id == "req-ServiceUnavailable"


@pytest.mark.looptime
async def test_backoff_doubles_up_to_the_cap() -> None:
    rec = Recorder(error(503, "ServiceUnavailable"))
    async with client(rec, max_attempts=6, backoff_base=1.0, backoff_cap=5.0, rng=MaxJitter()) as ens:
        with pytest.raises(Transient):
            await ens.delete_image("m-1")
    gaps = [round(b - a, 3) for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert gaps == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.looptime
async def test_jitter_is_full_between_zero_and_the_exponential_bound() -> None:
    rec = Recorder(error(503, "ServiceUnavailable"))
    async with client(
        rec, max_attempts=40, retry_deadline=10_000, backoff_base=1.0, rng=random.Random(7)
    ) as ens:
        with pytest.raises(Transient):
            await ens.delete_image("m-1")
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert all(0 <= gap <= 20.0 for gap in gaps)
    assert min(gaps) < 2.0 < max(gaps)  # spread out, not a fixed schedule


@pytest.mark.looptime
async def test_retry_deadline_stops_retries_early() -> None:
    rec = Recorder(error(503, "ServiceUnavailable"))
    start = now()
    async with client(rec, max_attempts=100, retry_deadline=10.0, backoff_base=1.0, rng=MaxJitter()) as ens:
        with pytest.raises(Transient):
            await ens.delete_image("m-1")
    assert now() - start <= 10.0
    assert len(rec.requests) == 4  # waits 1 + 2 + 4 = 7 s; the next 8 s wait would pass the deadline


@pytest.mark.looptime
async def test_server_retry_after_is_honoured() -> None:
    rec = Recorder(error(400, "Throttling.User", {"x-acs-retry-after": "2500"}), ok(Code=0))
    async with client(rec, rng=MaxJitter()) as ens:
        await ens.delete_image("m-1")
    assert rec.times[1] - rec.times[0] == pytest.approx(2.5, abs=0.01)


@pytest.mark.looptime
async def test_a_throttled_answer_slows_other_callers_too() -> None:
    shared = RateLimiter(qps=1000, burst=1000)
    throttled = Recorder(error(400, "Throttling.User", {"x-acs-retry-after": "4000"}), ok(Code=0))
    other = Recorder(ok(Code=0))
    async with client(throttled, limiter=shared) as first, client(other, limiter=shared) as second:
        start = now()
        slow = asyncio.create_task(first.delete_image("m-1"))
        await asyncio.sleep(0.1)  # the first call has been throttled by now
        await second.delete_image("m-2")
        await slow
    assert other.times[0] - start >= 4.0


@pytest.mark.looptime
async def test_a_throttled_action_slows_that_action_only() -> None:
    shared = RateLimiter(qps=10)
    throttled = Recorder(error(400, "Throttling.User", {"x-acs-retry-after": "4000"}), ok(Code=0))
    other = Recorder(ok(TotalCount=0, Images={"Image": []}))
    async with client(throttled, limiter=shared) as first, client(other, limiter=shared) as second:
        start = now()
        slow = asyncio.create_task(first.delete_image("m-1"))
        await asyncio.sleep(0.1)  # DeleteImage has been throttled by now
        await second.describe_self_images()
        assert other.times[0] - start < 0.5
        assert shared.rate("DescribeSelfImages") == 10
        assert shared.rate("DeleteImage") < 10
        await slow


@pytest.mark.looptime
async def test_throttling_without_retry_after_still_backs_off_and_raises_throttled() -> None:
    rec = Recorder(error(400, "Throttling.Api"))
    async with client(rec, max_attempts=2) as ens:
        with pytest.raises(Throttled):
            await ens.delete_image("m-1")
    assert len(rec.requests) == 2


@pytest.mark.looptime
async def test_connection_errors_are_retried_as_transient() -> None:
    rec = Recorder(httpx.ConnectError("refused"), ok(Code=0))
    codes: list[str] = []
    async with client(rec, on_call=lambda _a, code, _s: codes.append(code)) as ens:
        await ens.delete_image("m-1")
    assert codes == ["ConnectionError", "OK"]


@pytest.mark.looptime
async def test_timeouts_are_retried_as_transient() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"), ok(Code=0))
    codes: list[str] = []
    async with client(rec, on_call=lambda _a, code, _s: codes.append(code)) as ens:
        await ens.delete_image("m-1")
    assert codes == ["Timeout", "OK"]


async def test_on_call_reports_the_duration_of_each_attempt() -> None:
    durations: list[float] = []
    async with client(Recorder(ok(Code=0)), on_call=lambda _a, _c, seconds: durations.append(seconds)) as ens:
        await ens.delete_image("m-1")
    assert len(durations) == 1
    assert durations[0] >= 0.0


async def test_a_failing_on_call_hook_does_not_fail_the_call() -> None:
    def broken(action: str, code: str, seconds: float) -> None:
        raise RuntimeError("metrics down")

    async with client(Recorder(ok(ImageExportStatus="Exporting")), on_call=broken) as ens:
        assert await ens.describe_export_image_status("m-1") == "Exporting"


async def test_success_without_json_is_reported_not_crashed() -> None:
    async with client(Recorder(httpx.Response(200, text="<html>")), max_attempts=1) as ens:
        with pytest.raises(Transient, match="InvalidResponse"):
            await ens.delete_image("m-1")


def test_endpoint_comes_from_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENS_OPERATOR_ENDPOINT", "http://127.0.0.1:9000")
    assert EnsClient.endpoint_from_env("https://ens.aliyuncs.com") == "http://127.0.0.1:9000"


def test_default_endpoint_when_environment_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENS_OPERATOR_ENDPOINT", raising=False)
    assert EnsClient.endpoint_from_env("https://ens.aliyuncs.com") == "https://ens.aliyuncs.com"


async def test_sts_credentials_travel_as_signed_headers() -> None:
    rec = Recorder(ok(Code=0))
    ens = EnsClient(
        StaticCredentials("STS.id", "stssecret", "tok"),
        endpoint=ENDPOINT,
        transport=httpx.MockTransport(rec),
    )
    async with ens:
        await ens.delete_image("m-1")
    headers = rec.requests[0].headers
    assert headers["x-acs-security-token"] == "tok"
    assert "x-acs-security-token" in headers["authorization"]
    assert "tok" not in str(rec.requests[0].url)


@pytest.mark.looptime
async def test_import_is_not_repeated_after_a_lost_connection() -> None:
    rec = Recorder(httpx.RemoteProtocolError("server disconnected"), ok(ImageId="m-2"))
    async with client(rec) as ens:
        with pytest.raises(Transient) as caught:
            await ens.import_image(ImportImageRequest(image_name="img", os_type="linux"))
    assert caught.value.maybe_applied
    assert len(rec.requests) == 1


@pytest.mark.looptime
async def test_import_is_not_repeated_after_a_read_timeout() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"), ok(ImageId="m-2"))
    async with client(rec) as ens:
        with pytest.raises(Transient):
            await ens.import_image(ImportImageRequest(image_name="img", os_type="linux"))
    assert len(rec.requests) == 1


@pytest.mark.looptime
async def test_import_is_repeated_when_it_surely_did_not_happen() -> None:
    rec = Recorder(
        httpx.ConnectError("refused"),
        error(503, "ServiceUnavailable"),
        error(400, "Throttling"),
        ok(ImageId="m-3"),
    )
    async with client(rec) as ens:
        assert await ens.import_image(ImportImageRequest(image_name="img", os_type="linux")) == "m-3"
    assert len(rec.requests) == 4


@pytest.mark.looptime
async def test_idempotent_calls_are_repeated_after_a_lost_connection() -> None:
    rec = Recorder(httpx.RemoteProtocolError("server disconnected"), ok(Code=0))
    async with client(rec) as ens:
        await ens.delete_image("m-1")
    assert len(rec.requests) == 2


@pytest.mark.looptime
async def test_a_long_limiter_pause_does_not_stretch_the_retry_deadline() -> None:
    limiter = RateLimiter(qps=1000, burst=1000)
    rec = Recorder(error(503, "ServiceUnavailable"))
    start = now()
    async with client(rec, limiter=limiter, retry_deadline=5.0, backoff_base=0.1, max_attempts=50) as ens:
        calling = asyncio.create_task(ens.delete_image("m-1"))
        await asyncio.sleep(0.01)
        limiter.penalize(60.0)  # someone else was throttled hard
        with pytest.raises(Transient):
            await calling
    assert len(rec.requests) <= 3
    assert now() - start == pytest.approx(60.0, abs=1.0)


async def test_requests_name_the_operator_as_user_agent() -> None:
    rec = Recorder(ok(Code=0))
    async with client(rec) as ens:
        await ens.delete_image("m-1")
    assert rec.requests[0].headers["user-agent"].startswith("ens-image-operator/")


async def test_paging_stops_when_the_server_repeats_a_page() -> None:
    full_page = ok(Images={"Image": [{"ImageId": f"m-{n}"} for n in range(50)]})  # no TotalCount
    rec = Recorder(full_page)
    async with client(rec) as ens:
        ids = [image.image_id async for image in ens.iter_self_images()]
    assert len(ids) == 50
    assert len(rec.requests) == 2


async def test_paging_stops_at_the_announced_total() -> None:
    rec = Recorder(ok(TotalCount="50", Images={"Image": [{"ImageId": f"m-{n}"} for n in range(50)]}))
    async with client(rec) as ens:
        infos = [info async for info in ens.iter_export_image_info()]
    assert len(infos) == 50
    assert len(rec.requests) == 1
