"""Errors a handler raises to answer with a Postproxy-shaped error body."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer: ``{"error": message}`` plus optional extra keys."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}
        self.messages = messages or [message]

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"error": self.message}
        if self.status == 422:
            payload["errors"] = list(self.messages)
        if self.status == 400:
            payload["status"] = 400
            payload["message"] = self.message
        payload.update(self.extra)
        return payload


def not_found() -> ApiError:
    return ApiError(404, "Not found")


def unauthorized(message: str = "Invalid API key") -> ApiError:
    return ApiError(401, message)


def invalid(*messages: str) -> ApiError:
    """A 422 carrying every message in ``errors`` and all of them joined in ``error``."""
    return ApiError(422, "; ".join(messages), messages=list(messages))


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
