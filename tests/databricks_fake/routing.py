"""Requests, responses, errors and the route table of the fake workspace.

Handlers take a `Request` and return a `Response`, a JSON-able dict (200), or None (200 with `{}`),
or raise `ApiError`, which becomes the `{"error_code", "message"}` body Databricks sends and the SDK
maps to its exception classes (`NotFound`, `ResourceAlreadyExists`, ...).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str):
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message


def not_found(message: str, error_code: str = "NOT_FOUND") -> ApiError:
    return ApiError(404, error_code, message)


def already_exists(message: str, error_code: str = "RESOURCE_ALREADY_EXISTS") -> ApiError:
    return ApiError(409, error_code, message)


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclass
class Request:
    method: str
    path: str
    """Percent-decoded, so a Files API path reads as `/api/2.0/fs/files/Volumes/c/s/v/a b.json`."""
    query: dict[str, Any]
    """One value per key as a string; a repeated key gives a list."""
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    """Named groups of the matched route."""

    def json(self) -> dict:
        if not self.body:
            return {}
        return json.loads(self.body)

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter (the SDK sends `true` / `false`)."""
        value = self.query.get(name)
        if value is None:
            return default
        return str(value).lower() == "true"

    def form(self) -> dict[str, bytes]:
        """The fields of a multipart/form-data body (workspace import as the SDK's upload sends it)."""
        content_type = self.header("Content-Type", "")
        raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + self.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = part.get_payload(decode=True) or b""
        return fields

    def is_multipart(self) -> bool:
        return (self.header("Content-Type") or "").startswith("multipart/form-data")


@dataclass
class Response:
    status: int = 200
    json_body: Any = None
    raw_body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if self.raw_body is not None:
            return self.raw_body, self.headers.get("Content-Type", "application/octet-stream")
        if self.json_body is None:
            return b"", "application/json"
        return json.dumps(self.json_body).encode(), "application/json"


def error_response(error: ApiError, extra_headers: dict[str, str] | None = None) -> Response:
    body = {"error_code": error.error_code, "message": error.message}
    return Response(status=error.status, json_body=body, headers=dict(extra_headers or {}))


Handler = Callable[[Request], "Response | dict | None"]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    template: str
    handler: Handler


class Router:
    """Routes written like `/api/2.1/unity-catalog/catalogs/{name}`; `{path*}` matches slashes too."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", template)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), template, handler))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None
