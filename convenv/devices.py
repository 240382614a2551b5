"""Device and dtype choice shared by every model-backed agent."""

from __future__ import annotations

import torch

from convenv.errors import InvalidArgumentError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a usable device.

    Raises:
        ValueError: if the device string is unknown or names hardware that is absent.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise InvalidArgumentError(
            f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(
            f"device={device!r} but this machine has no CUDA device; use device='auto' or 'cpu'."
        )
    if (
        resolved.type == "cuda"
        and resolved.index is not None
        and resolved.index >= torch.cuda.device_count()
    ):
        raise InvalidArgumentError(
            f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist."
        )
    return resolved


def inference_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CUDA (where it is supported), float32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


class quiet_model_loading:
    """Hides transformers' per-load "Loading weights" bar: a user building envs sees
    one bar per real job, not one per model load."""

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self._was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging as hf_logging

        if self._was_enabled:
            hf_logging.enable_progress_bar()


def free_cores() -> int:
    """Cores not busy with other work (cores minus the 1-minute load average), at least 1."""
    import os

    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # no load average on this platform
        busy = 0
    return max(1, min(cores, cores - busy))


def set_torch_threads(threads: int) -> int:
    """Use ``threads`` CPU threads for torch's operators (0: the cores not busy with
    other work); returns the number in use.

    Small networks stepped many times (the policy MLP, the encoder on one short
    answer) run faster on one thread: a second thread costs more in hand-offs than it
    saves. Larger products (fine-tuning a language model) share well between idle
    cores, but threads that must wait for a core taken by another process slow every
    step (measured in ``benchmarks/threads.py``), hence the load-aware 0.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise InvalidArgumentError(
            f"threads={threads!r}; pass 0 (the free cores) or a positive count."
        )
    torch.set_num_threads(threads or free_cores())
    return torch.get_num_threads()
