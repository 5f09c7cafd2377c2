"""Errors that carry a message meant for a person, not a traceback."""

from __future__ import annotations


class TlguiError(Exception):
    """Base class: ``str(exc)`` is one plain sentence naming the file or value at fault."""


class DataError(TlguiError):
    """A data set could not be read or is unusable."""


class ModelError(TlguiError):
    """Unknown architecture, bad layer path, or a head that cannot be found."""


class WeightsError(TlguiError):
    """A weight file is missing, unsafe, not a checkpoint, or does not fit."""


class RunDirError(TlguiError):
    """The output folder cannot be used (not writable, or holds a finished run)."""


class TrainingError(TlguiError):
    """Training cannot go on (non-finite loss, out of memory, ...)."""


class ConfigError(TlguiError):
    """A configuration value is out of range or unknown."""
