"""Errors the emulator answers with, shaped like Alibaba Cloud's."""

from __future__ import annotations


class ApiError(Exception):
    """An error reply: the ``Code`` and HTTP status a client sees, plus extra response headers."""

    def __init__(
        self, code: str, message: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def missing_parameter(name: str) -> ApiError:
    """A required parameter was not sent."""
    return ApiError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def invalid_parameter(name: str, why: str) -> ApiError:
    """A parameter was sent with a value the service rejects: ``InvalidParameter.<Name>``."""
    return ApiError(f"InvalidParameter.{name}", f'The specified parameter "{name}" is not valid: {why}')


def image_not_found(image_id: str) -> ApiError:
    """No live image has this id (404, as Alibaba's ``*.NotFound`` codes usually are)."""
    return ApiError("ImageId.NotFound", f"The specified image {image_id} does not exist.", status=404)
