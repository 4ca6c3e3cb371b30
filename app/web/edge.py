"""What every request passes before its view, one way for every endpoint: the body's size (413, never a
body cut at the limit), its JSON (400: not JSON, a key twice in one object, nested too deeply, NaN),
and the path's values (404 for one with a control character: no id has one).

The app factory installs `TriageRequest` (the body's size) and `StrictJSONProvider` (request.get_json()),
and runs `limit` before authentication (the Content-Length alone), `path_values` and `parse` (the body
itself) after it. webargs parses the cached body again with the standard library, but only after `parse`
has passed it."""

import json
from typing import Any

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

MAX_DEPTH = 32  # arrays and objects within each other; a case is 2 deep
DRAIN_LIMIT = 16 * 1024 * 1024  # a refused body up to this size is read to its end, so the client sees the 413
# Blueprints whose bodies have a limit of their own (the setting that holds it); the others: MAX_CONTENT_LENGTH.
BODY_LIMITS = {"rule_documents": "MAX_RULES_CONTENT_LENGTH"}


class BodyInvalid(ValueError):
    """A body that parses as JSON but that we refuse: `field` names where (a dotted path, or _body)."""

    def __init__(self, message: str, field: str = "_body"):
        super().__init__(message)
        self.field = field


class _Duplicated(dict):
    """An object in which a key came more than once (marked by the parser, named by the check)."""

    key = ""


def _object(pairs: list[tuple[str, Any]]) -> dict:
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    marked, seen = _Duplicated(made), set()
    for key, _ in pairs:
        if key in seen:
            marked.key = key
            break
        seen.add(key)
    return marked


def _constant(name: str) -> Any:
    raise BodyInvalid(f"{name} is not JSON.")


def _checked(value: Any) -> Any:
    """`value` if no object in it has a key twice and it nests at most MAX_DEPTH deep."""
    stack = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyInvalid(f"Arrays and objects nest more than {MAX_DEPTH} levels deep.")
        if isinstance(item, _Duplicated):
            where = f"{path}.{item.key}" if path else item.key
            raise BodyInvalid(f"The key {item.key!r} comes more than once in one object.", where)
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but a body is UTF-8, each key comes once in an object, nothing nests deeper than
    MAX_DEPTH and NaN / Infinity are not numbers; a refusal is a ValueError (BodyInvalid names where)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode("utf-8") if isinstance(s, bytes | bytearray) else s  # UnicodeDecodeError is a ValueError
        try:
            value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, **kwargs)
        except RecursionError:
            raise BodyInvalid(f"Arrays and objects nest more than {MAX_DEPTH} levels deep.") from None
        return _checked(value)


class TriageRequest(Request):
    """A request whose body is read up to its limit and refused (413) past it: with a Content-Length
    before anything is read, without one (chunked) as soon as one byte more than the limit arrives.
    Werkzeug alone stops reading a chunked body at the limit and hands on what it read."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        try:  # one byte more than the limit, so that get_data can tell a body at the limit from a longer one
            return get_input_stream(self.environ, max_content_length=None if limit is None else limit + 1)
        except RequestEntityTooLarge:
            too_large(0)

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and len(data) > limit:
            too_large(len(data))
        return data.decode(errors="replace") if as_text else data

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            return super().on_json_loading_failed(e)  # not JSON: 415
        if isinstance(e, BodyInvalid):
            reason = str(e)
            abort(
                400,
                message=f"The request body is refused: {reason[0].lower()}{reason[1:]}",
                messages={"json": {e.field: [reason]}},
            )
        abort(400, message="The request body is not valid JSON.", messages={"json": {"_body": [f"Invalid JSON body: {e}"]}})


def too_large(read: int) -> None:
    """Refuse the body (413). The rest of it, up to DRAIN_LIMIT, is read and dropped first: a client
    still sending would otherwise find the connection closed and never read the answer."""
    raw, length = request.environ.get("wsgi.input"), request.content_length
    try:
        if raw is not None and length is not None and length - read <= DRAIN_LIMIT:
            left = length - read
            while left > 0 and (chunk := raw.read(min(left, 65536))):
                left -= len(chunk)
        elif raw is not None and length is None and "wsgi.input_terminated" in request.environ:
            drained = 0
            while drained <= DRAIN_LIMIT and (chunk := raw.read(65536)):
                drained += len(chunk)
    except (OSError, ValueError):
        pass  # the client went away
    abort(413, message=f"The request body is larger than allowed ({request.max_content_length} bytes).")


def limit() -> None:
    """Before authentication: the body's limit for this endpoint, and a Content-Length over it refused."""
    setting = BODY_LIMITS.get(request.blueprint or "")
    if setting is not None:
        request.max_content_length = current_app.config[setting]
    maximum, length = request.max_content_length, request.content_length
    if maximum is not None and length is not None and length > maximum:
        too_large(0)


def parse() -> None:
    """After authentication: a JSON body is read (within its limit) and parsed strictly, for every
    endpoint; views and webargs then find it parsed and checked."""
    if request.is_json and request.get_data(cache=True):
        request.get_json()


def path_values() -> None:
    """No id has a control character (and PostgreSQL refuses NUL in a query): 404, before any view."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and any(ord(c) < 0x20 for c in value):
            abort(404, message="There is nothing at this path: a path value may not contain control characters.")


def init_app(app: Flask) -> None:
    """The request class and the JSON provider (the factory registers the checks, in their order)."""
    app.request_class = TriageRequest
    app.json = StrictJSONProvider(app)
