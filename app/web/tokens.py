"""Access tokens, for admins."""

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.store.database import LastAdminToken
from app.web import schemas as s
from app.web.access import json_only, requires, triage

tokens = Blueprint("tokens", __name__, description="Access tokens")
tokens.before_request(json_only)


@tokens.route("/v1/tokens")
class TokenList(MethodView):
    @requires("admin")
    @tokens.response(200, s.TokenSchema(many=True))
    @tokens.doc(operationId="listTokens")
    def get(self):
        """Every token (never its secret), revoked ones included."""
        return triage().store.tokens()

    @requires("admin")
    @tokens.arguments(s.NewTokenSchema)
    @tokens.response(201, s.CreatedTokenSchema)
    @tokens.doc(operationId="createToken")
    def post(self, new):
        """Create a token; its secret is in this answer and nowhere else, ever."""
        record, token = triage().tokens.create(new["name"], new["role"])
        return {**record, "token": token}


@tokens.route("/v1/tokens/<token_id>")
class TokenById(MethodView):
    @requires("admin")
    @tokens.response(204)
    @tokens.alt_response(404, description="No such active token")
    @tokens.alt_response(409, description="The token is the last active admin token")
    @tokens.doc(operationId="revokeToken")
    def delete(self, token_id):
        """Revoke a token; every process stops accepting it within the token refresh interval. The last
        active admin token cannot be revoked (409): create another admin token first."""
        try:
            revoked = triage().tokens.revoke(token_id)
        except LastAdminToken as exc:
            abort(409, message=str(exc))
        if not revoked:
            abort(404, message=f"no active token {token_id}")
