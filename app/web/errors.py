"""One JSON error envelope for every failure: {code, status, message, errors}. No stack traces out."""

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from app import offload

log = logging.getLogger("triage.errors")

_MESSAGES = {
    400: "The request body is not valid JSON.",
    401: "Send a valid token: Authorization: Bearer <token>.",
    403: "The token's role may not do this.",
    404: "There is nothing at this path.",
    405: "This method is not allowed here.",
    413: "The request body is larger than allowed.",
    415: "Send the body as JSON with Content-Type: application/json.",
    422: "The request has invalid fields; see errors.",
    503: "The database did not answer in time; try again shortly (Retry-After).",
}
RETRY_AFTER = 5  # seconds a client waits before retrying a 503


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(offload.Overloaded, _overloaded)
    app.register_error_handler(offload.Overran, _long_read_failed)
    app.register_error_handler(offload.Failed, _long_read_failed)
    app.register_error_handler(Exception, _unexpected)


def envelope(code: int, message: str, errors: dict | None = None, headers=None):
    """The error response every failure gets."""
    status = HTTP_STATUS_CODES.get(code, "Error")
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    errors = _flatten(data.get("messages", {}))
    message = data.get("message") or _MESSAGES.get(exc.code or 500) or exc.description
    headers = dict(exc.get_headers()) if exc.code == 405 else dict(data.get("headers") or {})
    if headers:
        headers.pop("Content-Type", None)
    return envelope(exc.code or 500, str(message), errors, headers)


def _overloaded(exc: offload.Overloaded):
    """This worker runs a long read of the kind already (a report, a trial, a backtest)."""
    return envelope(429, str(exc), headers={"Retry-After": str(RETRY_AFTER)})


def _long_read_failed(exc: offload.Overran | offload.Failed):
    """A long read's own process failed (app.offload). The database away, or a read past its time,
    is a 503; anything else a 500. What went wrong is logged, never sent: it may quote SQL."""
    detail = (str(exc).splitlines() or [""])[0][:300]
    if isinstance(exc, offload.Overran) or exc.transient:
        log.warning("%s %s: %s", request.method, request.path, detail)
        message = (
            _MESSAGES[503] if isinstance(exc, offload.Failed) else "It took longer than this worker allows; try again later."
        )
        return envelope(503, message, headers={"Retry-After": str(RETRY_AFTER)})
    log.error("%s %s: %s", request.method, request.path, detail)
    return envelope(500, "Something went wrong on our side; it has been logged.")


def _unexpected(exc: Exception):
    service = current_app.extensions.get("triage")
    if service is not None and service.store is not None and service.store.transient(exc):
        # the database is away, locked or too slow (every wait on it is bounded): say so, and when to retry
        log.warning(
            "%s %s: the database did not answer: %s", request.method, request.path, (str(exc).splitlines() or [""])[0][:300]
        )
        return envelope(503, _MESSAGES[503], headers={"Retry-After": str(RETRY_AFTER)})
    log.exception("unexpected failure on %s %s", request.method, request.path)
    return envelope(500, "Something went wrong on our side; it has been logged.")


def _flatten(messages, prefix="") -> dict:
    """webargs' nested {location: {field: {sub: [...]}}} becomes {"customer.plan": [...]}."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "form", "files"} and not prefix:
        merged = {}
        for sub in messages.values():
            merged.update(_flatten(sub))
        return merged
    flat = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        flat[prefix or "_body"] = messages if isinstance(messages, list) else [messages]
    return flat
