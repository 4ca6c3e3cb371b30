"""Every blueprint of the API, in the order the OpenAPI document lists them."""

from app.web.cases import cases
from app.web.classify import classify
from app.web.decisions import decisions
from app.web.health import health
from app.web.pools import pools
from app.web.rule_documents import rule_documents
from app.web.tokens import tokens

BLUEPRINTS = (classify, cases, decisions, pools, rule_documents, tokens, health)
