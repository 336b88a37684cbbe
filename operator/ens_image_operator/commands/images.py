"""``ens-image-operator images``: list the public ENS images, which also proves the credentials work."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from pydantic import ValidationError

from ens_image_operator.ens.client import EnsClient
from ens_image_operator.ens.credentials import CredentialsProvider, default_chain
from ens_image_operator.ens.errors import CredentialsError, Denied, EnsError, Transient
from ens_image_operator.ens.models import ImageInfo
from ens_image_operator.settings import Settings

HELP = "list the public ENS images (DescribeImageInfos): checks your credentials"


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's flags."""
    parser.add_argument("--os-type", choices=["linux", "windows"], help="only images of this OS type")
    parser.add_argument("--endpoint", help="ENS API URL (default: ENS_OPERATOR_ENDPOINT or the public one)")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table", help="output format")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per HTTP request")


async def fetch_images(
    credentials: CredentialsProvider, endpoint: str, os_type: str | None, request_timeout: float
) -> list[ImageInfo]:
    """One DescribeImageInfos call, with a short retry budget fit for an interactive command."""
    async with EnsClient(
        credentials,
        endpoint=endpoint,
        timeout=request_timeout,
        max_attempts=3,
        retry_deadline=2 * request_timeout,
    ) as client:
        return await client.describe_image_infos(os_type=os_type)


def render_json(images: list[ImageInfo]) -> str:
    """The images as a JSON array, with the API's field names."""
    return json.dumps([image.model_dump(by_alias=True, exclude={"disks"}) for image in images], indent=2)


def render_table(images: list[ImageInfo]) -> None:
    """The images as a plain table on stdout, kubectl style: one line per image, columns padded."""
    header = ("IMAGE ID", "OS", "TYPE", "VERSION", "SIZE (GB)", "COMPUTE TYPE", "REGION")
    rows = [
        (
            image.image_id,
            image.os_name or "",
            image.os_type or "",
            image.image_version or "",
            "" if image.image_size is None else str(image.image_size),
            image.compute_type or "",
            image.region_id or "",
        )
        for image in sorted(images, key=lambda i: (i.os_type or "", i.os_name or "", i.image_id))
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    print(f"ENS public images ({len(images)})")
    for row in [header, *rows]:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _explain(error: EnsError, endpoint: str) -> str:
    if isinstance(error, CredentialsError):
        return error.message
    if isinstance(error, Denied):
        return f"ENS refused the credentials: {error}"
    if error.code == "InvalidEndpoint":
        return error.message
    if isinstance(error, Transient) and error.code in {"ConnectionError", "Timeout"}:
        return f"cannot reach ENS at {endpoint}: {error.message}"
    return f"ENS call failed: {error}"


def main(args: argparse.Namespace) -> int:
    """Print the catalogue; on any failure print one line to stderr and return 1."""
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"error: invalid ENS_OPERATOR_* setting: {error.errors()[0]['msg']}", file=sys.stderr)
        return 1
    endpoint = args.endpoint or EnsClient.endpoint_from_env(settings.endpoint)
    try:
        images = asyncio.run(
            fetch_images(default_chain(settings.sts_endpoint), endpoint, args.os_type, args.timeout)
        )
    except EnsError as error:
        print(f"error: {_explain(error, endpoint)}", file=sys.stderr)
        return 1
    except ValueError as error:  # a malformed --endpoint
        print(f"error: invalid endpoint {endpoint!r}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.output == "json":
        print(render_json(images))
    else:
        render_table(images)
    return 0
