"""The words of the domain every rule document speaks: plans, environments, channels, levels."""

PLANS = ("basic", "advanced", "premium")
ENVIRONMENTS = ("production", "non-production")
CHANNELS = ("ticket", "phone", "chat")
LEVELS = (1, 2, 3, 4)
# The largest rule document, in characters; the rule endpoints' body limit (TRIAGE_MAX_RULES_CONTENT_LENGTH)
# defaults to as many bytes.
MAX_RULE_DOCUMENT = 1024 * 1024

# -- Limits every rule document keeps, checked when it is validated (README "Limits") ---------
MAX_ALTERNATIVES = 32  # signals in one rule's `signals.any` (the engine fires once per alternative that holds)
MAX_VALUES = 256  # values in one `in` or `not_in` (an `$or` of more than 512 alternatives hangs the engine)
MAX_NUMBER = 1e9  # the largest magnitude of a number in a comparison (1e308 breaks the engine)
MAX_SIGNALS = 200  # signals in signals.yaml (a fact holds at most 254 properties)
MAX_WORDS = 1000  # characters of one term or pattern
MAX_VOCABULARY = 200_000  # characters of all terms and patterns together
MAX_TARGET = 30 * 24 * 60  # minutes of a response target (a month of 24/7, about four of business hours)
MATCH_BUDGET = 0.25  # seconds the signals may take on the longest case the API accepts (tried on publish)
TRIAL_BUDGET = 60.0  # seconds a publish's trial (golden cases and worst cases, in a child process) may take
