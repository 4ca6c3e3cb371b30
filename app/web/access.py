"""Access: denied by default. Every view method names its roles with @requires, and a check before
every request refuses an endpoint that does not (except the public ones)."""

from datetime import UTC, datetime
from functools import wraps

from flask import current_app, g, request
from flask_smorest import abort

PUBLIC = {"health.Healthz", "health.Readyz", "api-docs.openapi_json"}


def triage():
    """The service this process holds (app.service.Triage)."""
    return current_app.extensions["triage"]


def now() -> datetime:
    return datetime.now(UTC)


def requires(*roles):
    """Only tokens with one of these roles (or admin) may call the view."""

    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not g.principal.may(roles):
                abort(403, message=f"this needs the role {' or '.join(roles)}; the token has {g.principal.role}")
            return view(*args, **kwargs)

        checked.roles = roles
        return checked

    return decorate


def authenticate():
    """Before every request: public endpoints pass; others need a valid token (401) and a view that
    declares its roles (403). Unknown paths pass through to their 404."""
    if request.endpoint is None or request.endpoint in PUBLIC or request.method == "OPTIONS":
        return None
    principal = bearer()
    if principal is None:
        abort(401, message="send a valid token: Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    view_class = getattr(current_app.view_functions[request.endpoint], "view_class", None)
    method = getattr(view_class, request.method.lower(), None)
    if method is None and request.method == "HEAD":  # HEAD is GET without the body (as MethodView answers it)
        method = getattr(view_class, "get", None)
    if getattr(method, "roles", None) is None:  # a view without declared roles is closed to everyone
        abort(403, message="no role may call this endpoint")
    g.principal = principal
    return None


def bearer():
    """The principal of the request's bearer token, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return triage().tokens.verify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def json_only():
    """Before a blueprint's requests: a body must be JSON (415)."""
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        abort(415)
