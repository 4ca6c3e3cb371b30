"""The OpenAPI document as a contract: one error envelope declared for every error an operation can
answer, in one place, so no view can forget one.

- every protected operation (all but /healthz, /readyz, /openapi.json) declares 401 (with
  WWW-Authenticate) and 403;
- an operation with a body declares 400 (not JSON), 413 (too large), 415 (not application/json) and
  422 (invalid fields); one with query arguments declares 422;
- every protected operation that reads or writes the database declares 503 (with Retry-After): the
  database did not answer within TRIAGE_DATABASE_TIMEOUT (classifying answers all the same: the
  spool keeps the decision);
- every 4xx/5xx a view documents (404, 409, 428, ...) gets the envelope as its content."""

from importlib.metadata import version

from flask_smorest import Api

from app.web.schemas import ErrorSchema

_METHODS = ("get", "post", "put", "patch", "delete")
_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "string", "example": "5"}}
}
# Operations that never wait on the database (tokens are checked against each process's own copy).
_NO_DATABASE = {"getHealth", "getReadiness", "classifyCase", "listPools", "getCoverage"}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "Bearer: the token scheme", "schema": {"type": "string", "example": "Bearer"}}
}


def settings() -> dict:
    """flask-smorest's settings: the document's version is the package's."""
    return {
        "API_TITLE": "triage",
        "API_VERSION": version("triage"),
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
    }


class TriageApi(Api):
    ERROR_SCHEMA = ErrorSchema


def complete(api: Api) -> None:
    """Declare the error answers of every registered operation (call after registering the blueprints)."""
    for operations in api.spec._paths.values():
        for method, operation in operations.items():
            if method in _METHODS:
                _complete(operation)


def _complete(operation: dict) -> None:
    responses = operation.setdefault("responses", {})

    def declare(code: int, description: str, headers: dict | None = None) -> None:
        response = responses.setdefault(str(code), {"description": description})
        if headers:
            response.setdefault("headers", headers)

    if operation.get("security") != []:
        declare(401, "No token, or not a valid one", _WWW_AUTHENTICATE)
        declare(403, "The token's role may not do this")
        if operation.get("operationId") not in _NO_DATABASE:
            declare(503, "The database did not answer in time; try again after Retry-After seconds", RETRY_AFTER)
    if "requestBody" in operation:
        declare(400, "The body is not valid JSON")
        declare(413, "The body is larger than allowed")
        declare(415, "The body is not application/json")
        declare(422, "Invalid fields, each named in errors")
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        declare(422, "Invalid query arguments, each named in errors")
    for code, response in responses.items():
        if code[0] in "45" and "$ref" not in response:
            response.setdefault("content", _ENVELOPE)
