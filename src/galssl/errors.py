"""Exceptions whose message is a one-line, user-facing explanation (field + fix)."""


class GalsslError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits non-zero."""


class ConfigError(GalsslError):
    """A config key, type or value is wrong; the message names the key and what is allowed."""


class DataError(GalsslError):
    """An input file (catalogue, image, checkpoint) is malformed; the message names the file and field."""
