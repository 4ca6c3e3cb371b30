"""The words of the domain every rule document speaks: plans, environments, channels, levels."""

PLANS = ("basic", "advanced", "premium")
ENVIRONMENTS = ("production", "non-production")
CHANNELS = ("ticket", "phone", "chat")
LEVELS = (1, 2, 3, 4)
# The largest rule document, in characters; the rule endpoints' body limit (TRIAGE_MAX_RULES_CONTENT_LENGTH)
# defaults to as many bytes.
MAX_RULE_DOCUMENT = 1024 * 1024
