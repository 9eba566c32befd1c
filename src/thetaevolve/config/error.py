"""The configuration's one error type, raised by loading and by the consistency checks."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field and what to do."""
