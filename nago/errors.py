"""Errors that users can cause. Every message names the field, the value and what is allowed."""

from __future__ import annotations


class NagoError(Exception):
    """Base class of every error nago raises on purpose (bad input, missing files, ...)."""


class ConfigError(NagoError, ValueError):
    """A configuration value, key or file is wrong (unknown name, out of range, malformed TOML)."""


class DataError(NagoError):
    """A dataset is missing, malformed or in an unexpected layout."""
