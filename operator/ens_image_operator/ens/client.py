"""The async ENS client: one typed method per image operation, with signing, retries and throttling.

Every call is ``POST /`` with all parameters in the query and an empty body, signed with
ACS3-HMAC-SHA256, exactly as the official SDK sends it. Retryable failures (throttling, 5xx,
timeouts, connection errors) are retried with exponential backoff and full jitter, within both an
attempt limit and a total deadline; ``x-acs-retry-after`` is honoured.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ens_image_operator import __version__
from ens_image_operator.ens.auth import Acs3Auth, canonical_query
from ens_image_operator.ens.credentials import CredentialsProvider
from ens_image_operator.ens.errors import EnsError, Invalid, Throttled, Transient, classify
from ens_image_operator.ens.models import (
    ExportImageInfo,
    ExportImageInfoPage,
    ImageInfo,
    ImageInfosResponse,
    ImportImageRequest,
    SelfImage,
    SelfImagesPage,
    ShareAccount,
    SharePermissionPage,
)
from ens_image_operator.ens.ratelimit import DOCUMENTED_RATES, RateLimiter
from ens_image_operator.ens.transport import AiohttpTransport

log = logging.getLogger(__name__)

API_VERSION = "2017-11-10"
DEFAULT_ENDPOINT = "https://ens.aliyuncs.com"
ENDPOINT_ENV = "ENS_OPERATOR_ENDPOINT"
PAGE_SIZE = 50
SHARE_PAGE_SIZE = 100  # DescribeImageSharePermission's maximum

OnCall = Callable[[str, str, float], None]


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class EnsClient:
    """Async client of the ENS 2017-11-10 image API over one pooled HTTP connection pool."""

    def __init__(
        self,
        credentials: CredentialsProvider,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        retry_deadline: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: OnCall | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = _loop_time,
        rng: random.Random | None = None,
        auth: Acs3Auth | None = None,
    ) -> None:
        if "://" not in endpoint:
            endpoint = f"https://{endpoint}"
        self.endpoint = endpoint.rstrip("/")
        # Without a limiter from the caller this client limits only itself; share one per credentials
        # scope so that a throttle slows every caller of that action in that account.
        self.limiter = limiter or RateLimiter(qps=10.0, rates=DOCUMENTED_RATES)
        self.max_attempts = max(1, max_attempts)
        self.retry_deadline = retry_deadline
        self.timeout = timeout
        self._on_call = on_call
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            auth=auth or Acs3Auth(credentials),
            # aiohttp moves the bytes at a fifth of httpx's CPU cost; it also honours proxy variables,
            # so httpx must not mount its own proxy transports in front of it.
            transport=transport or AiohttpTransport(),
            trust_env=False,
            timeout=timeout,
            headers={
                "accept": "application/json",
                "user-agent": f"ens-image-operator/{__version__}",
                "x-acs-version": API_VERSION,
            },
        )

    def __repr__(self) -> str:
        return f"EnsClient(endpoint={self.endpoint!r})"

    @staticmethod
    def endpoint_from_env(default: str = DEFAULT_ENDPOINT) -> str:
        """``ENS_OPERATOR_ENDPOINT`` if set, else ``default``."""
        return os.environ.get(ENDPOINT_ENV) or default

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- transport ------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0.0, min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1)))

    def _record(self, action: str, code: str, seconds: float) -> None:
        if self._on_call is not None:
            try:
                self._on_call(action, code, seconds)
            except Exception:  # a broken metrics hook must not break the call
                log.exception("on_call hook failed")

    async def _attempt(self, action: str, url: str, time_limit: float) -> dict[str, Any]:
        try:
            response = await self._http.post(url, headers={"x-acs-action": action}, timeout=time_limit)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent: safe to repeat any call.
            code = "ConnectionError" if isinstance(exc, httpx.ConnectError) else "Timeout"
            raise Transient(code, f"{action}: {type(exc).__name__} {exc}".strip()) from None
        except httpx.UnsupportedProtocol:
            raise Invalid(
                "InvalidEndpoint", f"the endpoint must be an http(s) URL, not {self.endpoint}"
            ) from None
        except httpx.TimeoutException as exc:
            raise Transient(
                "Timeout", f"{action} timed out ({type(exc).__name__})", maybe_applied=True
            ) from None
        except httpx.TransportError as exc:
            raise Transient(
                "ConnectionLost", f"{action}: {type(exc).__name__} {exc}".strip(), maybe_applied=True
            ) from None
        if response.status_code >= 300:
            raise classify(response.status_code, response.content, response.headers)
        try:
            body = response.json()
        except ValueError:
            raise Transient(
                "InvalidResponse", f"{action} answered HTTP {response.status_code} without JSON"
            ) from None
        if not isinstance(body, dict):
            raise Transient("InvalidResponse", f"{action} answered a JSON {type(body).__name__}")
        return body

    async def call(
        self,
        action: str,
        params: Mapping[str, str | int | None] | None = None,
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Call ``action`` with ``params`` (None values left out) and return the JSON answer.

        A non-idempotent call is not repeated after a failure that may have taken effect
        (``EnsError.maybe_applied``); the caller must find out what happened first.
        """
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        url = f"{self.endpoint}/?{canonical_query(query)}" if query else f"{self.endpoint}/"
        started = self._clock()
        attempt = 0
        last_error: EnsError | None = None
        while True:
            attempt += 1
            await self.limiter.acquire(action)
            begun = self._clock()
            remaining = self.retry_deadline - (begun - started)
            if last_error is not None and remaining <= 0:
                raise last_error  # the limiter's queue ate the rest of the budget
            try:
                body = await self._attempt(action, url, max(0.001, min(self.timeout, remaining)))
            except EnsError as error:
                last_error = error
                self._record(action, error.code, self._clock() - begun)
                delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
                if isinstance(error, Throttled):
                    self.limiter.penalize(delay, action)
                if not error.retryable or attempt >= self.max_attempts:
                    raise
                if error.maybe_applied and not idempotent:
                    raise
                if self._clock() + delay - started > self.retry_deadline:
                    raise
                log.info(
                    "ENS %s failed (%s, RequestId %s), attempt %d of %d; retrying in %.2fs",
                    action,
                    error.code,
                    error.request_id or "-",
                    attempt,
                    self.max_attempts,
                    delay,
                )
                await self._sleep(delay)
                continue
            self._record(action, "OK", self._clock() - begun)
            return body

    # --- operations -----------------------------------------------------------------------

    async def import_image(self, request: ImportImageRequest) -> str:
        """ImportImage: start importing a qcow2 from OSS; returns the new ImageId.

        ImportImage is not idempotent, so a lost connection or a read timeout is raised at once
        (``Transient`` with ``maybe_applied``): look the image up by name before importing again.
        """
        body = await self.call("ImportImage", request.to_query(), idempotent=False)
        image_id = body.get("ImageId")
        if not image_id:
            raise EnsError("InvalidResponse", "ImportImage answered without an ImageId")
        return str(image_id)

    async def describe_self_images(
        self,
        *,
        image_id: str | None = None,
        image_name: str | None = None,
        page_number: int = 1,
        page_size: int = PAGE_SIZE,
    ) -> SelfImagesPage:
        """DescribeSelfImages: one page of the account's custom images (ImageName matches fuzzily)."""
        body = await self.call(
            "DescribeSelfImages",
            {"ImageId": image_id, "ImageName": image_name, "PageNumber": page_number, "PageSize": page_size},
        )
        return SelfImagesPage.model_validate(body)

    async def iter_self_images(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[SelfImage]:
        """Every custom image matching the filters, page after page."""

        async def fetch(number: int) -> tuple[list[SelfImage], int | None]:
            page = await self.describe_self_images(
                image_id=image_id, image_name=image_name, page_number=number, page_size=PAGE_SIZE
            )
            return page.images, page.total_count

        async for image in _walk_pages("DescribeSelfImages", fetch):
            yield image

    async def delete_image(self, image_id: str) -> None:
        """DeleteImage."""
        await self.call("DeleteImage", {"ImageId": image_id})

    async def modify_image_attribute(self, image_id: str, image_name: str) -> None:
        """ModifyImageAttribute: rename an image."""
        await self.call("ModifyImageAttribute", {"ImageId": image_id, "ImageName": image_name})

    async def export_image(
        self,
        *,
        image_id: str,
        oss_bucket: str,
        oss_region_id: str,
        oss_prefix: str | None = None,
        role_name: str | None = None,
    ) -> str:
        """ExportImage: start exporting an image to OSS; returns the ExportedImageURL."""
        body = await self.call(
            "ExportImage",
            {
                "ImageId": image_id,
                "OSSBucket": oss_bucket,
                "OSSRegionId": oss_region_id,
                "OSSPrefix": oss_prefix,
                "RoleName": role_name,
            },
        )
        return str(body.get("ExportedImageURL") or "")

    async def describe_export_image_status(self, image_id: str) -> str:
        """DescribeExportImageStatus: Exporting, Exported, ExportError or Unexported."""
        body = await self.call("DescribeExportImageStatus", {"ImageId": image_id})
        return str(body.get("ImageExportStatus") or "")

    async def describe_export_image_info(
        self,
        *,
        image_id: str | None = None,
        image_name: str | None = None,
        page_number: int = 1,
        page_size: int = PAGE_SIZE,
    ) -> ExportImageInfoPage:
        """DescribeExportImageInfo: one page of export states and URLs."""
        body = await self.call(
            "DescribeExportImageInfo",
            {"ImageId": image_id, "ImageName": image_name, "PageNumber": page_number, "PageSize": page_size},
        )
        return ExportImageInfoPage.model_validate(body)

    async def iter_export_image_info(
        self, *, image_id: str | None = None, image_name: str | None = None
    ) -> AsyncIterator[ExportImageInfo]:
        """Every export record matching the filters, page after page."""

        async def fetch(number: int) -> tuple[list[ExportImageInfo], int | None]:
            page = await self.describe_export_image_info(
                image_id=image_id, image_name=image_name, page_number=number, page_size=PAGE_SIZE
            )
            return page.images, page.total_count

        async for info in _walk_pages("DescribeExportImageInfo", fetch):
            yield info

    async def describe_image_infos(self, os_type: str | None = None) -> list[ImageInfo]:
        """DescribeImageInfos: the public images ENS offers (wire parameter ``OsType``)."""
        body = await self.call("DescribeImageInfos", {"OsType": os_type})
        return ImageInfosResponse.model_validate(body).images

    async def iter_share_accounts(self, image_id: str) -> AsyncIterator[str]:
        """DescribeImageSharePermission: every account the image is shared with, page after page."""

        async def fetch(number: int) -> tuple[list[ShareAccount], int | None]:
            body = await self.call(
                "DescribeImageSharePermission",
                {"ImageId": image_id, "PageNumber": number, "PageSize": SHARE_PAGE_SIZE},
            )
            page = SharePermissionPage.model_validate(body)
            return page.accounts, page.total_count

        async for account in _walk_pages("DescribeImageSharePermission", fetch, SHARE_PAGE_SIZE):
            yield account.aliyun_uid

    async def share_image(self, image_id: str, accounts: list[str]) -> None:
        """ModifyImageSharePermission with AddAccounts (comma-separated ids)."""
        await self.call(
            "ModifyImageSharePermission", {"ImageId": image_id, "AddAccounts": ",".join(accounts)}
        )

    async def unshare_image(self, image_id: str, account: str) -> None:
        """ModifyImageSharePermission with RemoveAccounts: ENS takes one account per call."""
        await self.call("ModifyImageSharePermission", {"ImageId": image_id, "RemoveAccounts": account})


Item = TypeVar("Item", SelfImage, ExportImageInfo, ShareAccount)


def _key(item: SelfImage | ExportImageInfo | ShareAccount) -> str:
    return item.aliyun_uid if isinstance(item, ShareAccount) else item.image_id


async def _walk_pages(
    action: str, fetch: Callable[[int], Awaitable[tuple[list[Item], int | None]]], page_size: int = PAGE_SIZE
) -> AsyncIterator[Item]:
    """Items of page 1, 2, … until a short page, the announced total, or a repeated page."""
    seen = 0
    previous: list[str] = []
    for number in itertools.count(1):
        items, total = await fetch(number)
        ids = [_key(item) for item in items]
        if ids and ids == previous:
            # A server that ignores PageNumber would otherwise be paged forever.
            log.warning("ENS %s returned page %d identical to page %d; stopping", action, number, number - 1)
            return
        for item in items:
            yield item
        seen += len(items)
        if len(items) < page_size or (total is not None and seen >= total):
            return
        previous = ids
