"""One exception family for bad input at public boundaries.

Every error names the input that was wrong and what was expected, so the CLI can print
it as one line instead of a traceback from deep inside torch.
"""


class PaperzooError(ValueError):
    """Bad input at a public boundary of paperzoo; the message says what and what was expected."""


class ConfigError(PaperzooError):
    """An unknown config name or an invalid config value."""


class CheckpointError(PaperzooError):
    """A missing, corrupt or mismatched checkpoint."""


class InputError(PaperzooError):
    """Bad data: a wrong shape or dtype, a missing or empty folder, an unreadable file."""
