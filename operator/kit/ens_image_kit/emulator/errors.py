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


def no_permission() -> ApiError:
    """The caller may not act on this resource, e.g. an image only shared with it (documented ENS code)."""
    return ApiError("NoPermission", "Permission denied.")


def invalid_field(name: str, why: str) -> ApiError:
    """``InvalidParameter.<Name>`` worded as the ENS image-sharing pages document it."""
    message = f"The specified field {name} invalid. Please check it again. {why}"
    return ApiError(f"InvalidParameter.{name}", message)


def invalid_request(why: str) -> ApiError:
    """The bare ``InvalidParameter`` the ENS image-sharing pages document: "The errorMessage is %s."."""
    return ApiError("InvalidParameter", f"The errorMessage is {why}. Please check it again.")
