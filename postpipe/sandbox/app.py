"""The ASGI app: Postproxy's ``/api/...`` plus the sandbox control surface under ``/sandbox/...``."""

from __future__ import annotations

import asyncio
import html
import json
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import routes_accounts as accounts
from . import routes_control as control
from . import routes_posts as posts
from . import routes_queues as queues
from . import routes_webhooks as webhooks
from .clock import to_iso
from .connections import connect_profile
from .context import RequestContext
from .engine import SandboxEngine
from .errors import ApiError, bad_request, unauthorized
from .idempotency import MAX_KEY_LENGTH, Verdict, fingerprint
from .request_body import canonical, parse_body
from .state import Caller

logger = logging.getLogger(__name__)

Handler = Callable[[RequestContext], tuple[int, Any]]
Endpoint = Callable[[Request], Awaitable[Response]]

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
FAULT_MESSAGES = {
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}

API_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/profile_groups", accounts.list_groups),
    ("POST", "/api/profile_groups", accounts.create_group),
    ("GET", "/api/profile_groups/{id}", accounts.get_group),
    ("DELETE", "/api/profile_groups/{id}", accounts.delete_group),
    ("POST", "/api/profile_groups/{id}/initialize_connection", accounts.initialize_connection),
    ("GET", "/api/api_keys", accounts.list_api_keys),
    ("POST", "/api/api_keys", accounts.create_api_key),
    ("DELETE", "/api/api_keys/{id}", accounts.delete_api_key),
    ("GET", "/api/profiles", accounts.list_profiles),
    ("GET", "/api/profiles/{id}", accounts.get_profile),
    ("DELETE", "/api/profiles/{id}", accounts.delete_profile_route),
    ("GET", "/api/profiles/{id}/placements", accounts.profile_placements),
    ("GET", "/api/posts", posts.list_posts),
    ("POST", "/api/posts", posts.create_post),
    ("GET", "/api/posts/stats", posts.post_stats),
    ("GET", "/api/posts/{id}", posts.get_post),
    ("PATCH", "/api/posts/{id}", posts.update_post),
    ("DELETE", "/api/posts/{id}", posts.delete_post),
    ("POST", "/api/posts/{id}/publish", posts.publish_post),
    ("POST", "/api/posts/{id}/delete_on_platform", posts.delete_on_platform),
    ("GET", "/api/post_queues", queues.list_queues),
    ("POST", "/api/post_queues", queues.create_queue),
    ("GET", "/api/post_queues/{id}", queues.get_queue),
    ("PATCH", "/api/post_queues/{id}", queues.update_queue),
    ("DELETE", "/api/post_queues/{id}", queues.delete_queue),
    ("GET", "/api/post_queues/{id}/next_slot", queues.next_slot),
    ("GET", "/api/webhooks", webhooks.list_webhooks),
    ("POST", "/api/webhooks", webhooks.create_webhook),
    ("GET", "/api/webhooks/{id}", webhooks.get_webhook),
    ("PATCH", "/api/webhooks/{id}", webhooks.update_webhook),
    ("DELETE", "/api/webhooks/{id}", webhooks.delete_webhook),
    ("GET", "/api/webhooks/{id}/deliveries", webhooks.list_deliveries),
]

CONTROL_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/sandbox/clock", control.clock_now),
    ("GET", "/sandbox/faults", control.list_faults),
    ("POST", "/sandbox/faults", control.add_fault),
    ("DELETE", "/sandbox/faults", control.clear_faults),
    ("POST", "/sandbox/profiles", control.create_profile),
    ("POST", "/sandbox/profiles/{id}/expire", control.expire),
    ("POST", "/sandbox/seed", control.seed_posts),
]


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


class SandboxApp:
    """Wires handlers to the engine: authentication, faults, idempotency, the state lock."""

    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine
        self.state = engine.state

    def _authenticate(self, request: Request) -> Caller | None:
        token = _bearer_token(request)
        if token is None:
            return None
        with self.state.lock:
            return self.state.caller_for(token)

    def _run_handler(self, handler: Handler, request: Request, caller: Caller, body: dict[str, Any]) -> Response:
        with self.state.lock:
            ctx = RequestContext(
                state=self.state,
                caller=caller,
                body=body,
                query=request.query_params,
                path_params=dict(request.path_params),
                headers=request.headers,
                now=self.state.clock.now(),
                base_url=str(request.base_url).rstrip("/"),
            )
            try:
                status, payload = handler(ctx)
            except ApiError as error:
                return error_response(error)
            except Exception:
                logger.exception("sandbox handler %s failed", handler.__name__)
                return json_response(500, {"error": "Internal server error"})
        return json_response(status, payload)

    async def _fault_response(self, path: str, token: str) -> Response | None:
        with self.state.lock:
            fault = self.state.faults.take_api_fault(path, token)
        if fault is None:
            return None
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000.0)
        if fault.status is None:
            return None
        headers = {"Retry-After": _retry_after_text(fault.retry_after)} if fault.retry_after is not None else {}
        return error_response(ApiError(fault.status, FAULT_MESSAGES[fault.status], headers=headers))

    def api_endpoint(self, handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            caller = self._authenticate(request)
            if caller is None:
                return error_response(unauthorized())
            raw = await request.body()
            try:
                body = parse_body(raw, request.headers.get("content-type", ""))
            except ApiError as error:
                return error_response(error)
            key = request.headers.get("idempotency-key") if request.method in WRITE_METHODS else None
            if key is not None:
                early = self._begin_idempotent(key, request, body)
                if early is not None:
                    return early
            try:
                response = await self._fault_response(request.url.path, caller.token)
                if response is None:
                    response = self._run_handler(handler, request, caller, body)
            except BaseException:
                if key is not None:
                    with self.state.lock:
                        self.state.idempotency.abandon(key)
                raise
            if key is not None:
                with self.state.lock:
                    self.state.idempotency.finish(key, response.status_code, bytes(response.body), self.state.clock.now())
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    def _begin_idempotent(self, key: str, request: Request, body: dict[str, Any]) -> Response | None:
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return error_response(bad_request(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters"))
        print_ = fingerprint(request.method, request.url.path, canonical(body))
        with self.state.lock:
            verdict, stored = self.state.idempotency.begin(key, print_, self.state.clock.now())
        if verdict is Verdict.REPLAY and stored is not None:
            return Response(
                content=stored.body, status_code=stored.status, media_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        if verdict is Verdict.IN_FLIGHT:
            return error_response(ApiError(409, "A request with this Idempotency-Key is still being processed; retry later"))
        if verdict is Verdict.MISMATCH:
            return error_response(ApiError(422, "Idempotency-Key was already used with a different request"))
        return None

    def control_endpoint(self, handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            caller = self._authenticate(request)
            if caller is None or not caller.is_account:
                return error_response(unauthorized("The sandbox control surface needs the account key"))
            try:
                body = parse_body(await request.body(), request.headers.get("content-type", ""))
            except ApiError as error:
                return error_response(error)
            return self._run_handler(handler, request, caller, body)

        endpoint.__name__ = handler.__name__
        return endpoint

    async def advance_clock(self, request: Request) -> Response:
        caller = self._authenticate(request)
        if caller is None or not caller.is_account:
            return error_response(unauthorized("The sandbox control surface needs the account key"))
        try:
            body = parse_body(await request.body(), request.headers.get("content-type", ""))
        except ApiError as error:
            return error_response(error)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            return error_response(ApiError(422, "seconds must be a non-negative number", messages=["seconds must be a non-negative number"]))
        moment = await anyio.to_thread.run_sync(self.engine.advance, float(seconds))
        return json_response(200, {"now": to_iso(moment.timestamp())})

    async def connect_page(self, request: Request) -> Response:
        """The fake OAuth consent page: a plain GET connects the account and redirects back."""
        token = request.path_params["token"]
        with self.state.lock:
            record = self.state.connect_tokens.get(token)
            if record is None or record.used or record.group_id not in self.state.groups:
                return HTMLResponse("<h1>This connection link is invalid or was already used.</h1>", status_code=404)
            record.used = True
            profile = connect_profile(
                self.state, group_id=record.group_id, platform=record.platform, now=self.state.clock.now(), refresh=record.refresh
            )
        if record.redirect_url:
            return RedirectResponse(
                _with_query(record.redirect_url, {"profile_id": profile.id, "platform": profile.platform, "status": "connected"}),
                status_code=302,
            )
        text = html.escape(f"Connected {profile.platform} profile {profile.name} ({profile.id}). You can close this page.")
        return HTMLResponse(f"<h1>{text}</h1>")

    async def health(self, request: Request) -> Response:
        return json_response(200, {"ok": True})


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found", 405: "Method not allowed"}.get(status, "Error")
    return json_response(status, {"error": message})


def build_app(engine: SandboxEngine) -> Starlette:
    wiring = SandboxApp(engine)
    routes = [Route(path, wiring.api_endpoint(handler), methods=[method]) for method, path, handler in API_ROUTES]
    routes += [Route(path, wiring.control_endpoint(handler), methods=[method]) for method, path, handler in CONTROL_ROUTES]
    routes += [
        Route("/sandbox/clock/advance", wiring.advance_clock, methods=["POST"]),
        Route("/sandbox/connect/{token}", wiring.connect_page, methods=["GET"]),
        Route("/sandbox/health", wiring.health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
