"""The few named exceptions convenv raises; each message names the argument and the fix."""

from __future__ import annotations


class ConvenvError(Exception):
    """Base class of every error convenv raises on purpose."""


class DataFileError(ConvenvError, ValueError):
    """A data file is missing or does not have the layout convenv expects."""

    def __init__(self, path: object, problem: str, expected: str) -> None:
        super().__init__(f"{path}: {problem}. Expected {expected}.")
        self.path = path


class StoreError(ConvenvError, OSError):
    """A label or account store cannot be opened, read or written (locked, full, corrupt)."""

    def __init__(self, path: object, cause: str, fix: str) -> None:
        super().__init__(f"{path}: {cause}. {fix}")
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


class PickledWeightsError(ConvenvError, ValueError):
    """A weights file holds pickled objects beyond plain tensors; convenv never runs them."""

    def __init__(self, path: object, detail: str = "") -> None:
        super().__init__(
            f"{path}: holds pickled data that is not plain tensors"
            + (f" ({detail})" if detail else "")
            + ", and convenv does not unpickle it: unpickling can run any code. Use weights "
            "saved as safetensors (save_pretrained(..., safe_serialization=True), or "
            "convenv train for a policy), or ask the file's publisher for a safetensors copy."
        )
        self.path = path
