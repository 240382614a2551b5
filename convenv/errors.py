"""The few named exceptions convenv raises; each message names the argument and the fix."""

from __future__ import annotations


class ConvenvError(Exception):
    """Base class of every error convenv raises on purpose."""


class DataFileError(ConvenvError, ValueError):
    """A data file is missing or does not have the layout convenv expects."""

    def __init__(self, path: object, problem: str, expected: str) -> None:
        super().__init__(f"{path}: {problem}. Expected {expected}.")
        self.path = path


class InvalidArgumentError(ConvenvError, ValueError):
    """An argument has a value convenv cannot use."""


class ModelUnavailableError(ConvenvError, OSError):
    """A model could not be loaded (not cached, hub unreachable, wrong path)."""


class MissingDependencyError(ConvenvError, ImportError):
    """An optional package is not installed; the message names the pip command."""


def positive_int(value: object, name: str) -> int:
    """``value`` as an int if it is a positive integer (numpy integers too, not bools)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidArgumentError(f"{name}={value!r}; pass a positive integer.")
    return int(value)
