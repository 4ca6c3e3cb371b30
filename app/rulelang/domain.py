"""The words of the domain every rule document speaks: plans, environments, channels, levels."""

PLANS = ("basic", "advanced", "premium")
ENVIRONMENTS = ("production", "non-production")
CHANNELS = ("ticket", "phone", "chat")
LEVELS = (1, 2, 3, 4)
