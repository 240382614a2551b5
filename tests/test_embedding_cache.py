"""The on-disk embedding cache: a bad file is rebuilt, an unwritable directory is
survived, and concurrent processes build one file once."""

from __future__ import annotations

import multiprocessing
import warnings

import numpy as np
import pytest

from convenv.encoder import SentenceEncoder

TEXTS = [f"i have {k} dogs and a cat named number {k}." for k in range(40)]


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(device="cpu")


def cache_file(tmp_path):
    (file,) = tmp_path.glob("embeddings-*.npy")
    return file


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.write_bytes(f.read_bytes()[:200]),  # truncated
        lambda f: f.write_bytes(b""),  # zero length
        lambda f: f.write_bytes(b"\x93NUMPY garbage " * 20),  # garbage
        lambda f: np.save(f, np.full((40, 384), np.nan, np.float32)),  # NaN contents
        lambda f: np.save(f, np.ones((40, 384), np.float32)),  # not unit vectors
    ],
    ids=["truncated", "empty", "garbage", "nan", "not-unit"],
)
def test_a_bad_cache_file_is_rebuilt_with_a_warning(tmp_path, encoder, damage):
    good = encoder.encode_corpus(TEXTS, tmp_path)
    file = cache_file(tmp_path)
    damage(file)
    fresh = SentenceEncoder(device="cpu")
    with pytest.warns(UserWarning, match="rebuilding the embedding cache"):
        rebuilt = fresh.encode_corpus(TEXTS, tmp_path)
    np.testing.assert_allclose(rebuilt, good, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file is sound: no warning now
        np.testing.assert_allclose(fresh.encode_corpus(TEXTS, tmp_path), good, atol=1e-5)


def test_an_unwritable_cache_directory_keeps_the_matrix_in_memory(tmp_path, encoder):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.warns(UserWarning, match="keeping it in memory"):
        matrix = encoder.encode_corpus(TEXTS, blocker / "cache")
    assert matrix.shape == (40, 384) and np.isfinite(matrix).all()


def test_a_stopped_build_resumes_at_the_first_chunk_it_lacks(tmp_path):
    """Ctrl-C in the middle of a build keeps the finished chunks; the rerun embeds only
    the rest, and its matrix is bit for bit the one an uninterrupted build gives."""
    calls = []

    class Stopping(SentenceEncoder):
        stop_at: int | None = 3

        def encode(self, texts, show_progress=False):
            if len(calls) == self.stop_at:
                raise KeyboardInterrupt
            calls.append(texts[0])
            return super().encode(texts, show_progress)

    stopping = Stopping(device="cpu", batch_size=1)  # chunks of 8 sentences: 5 of them
    with pytest.raises(KeyboardInterrupt):
        stopping.encode_corpus(TEXTS, tmp_path / "a")
    (parts,) = (tmp_path / "a").glob("embeddings-*.parts-8")
    assert len(list(parts.glob("*.npy"))) == 3 and not list((tmp_path / "a").glob("*.npy"))
    stopping.stop_at = None
    resumed = stopping.encode_corpus(TEXTS, tmp_path / "a")
    assert calls == [TEXTS[0], TEXTS[8], TEXTS[16], TEXTS[24], TEXTS[32]]  # none twice
    assert not parts.exists()  # the whole matrix replaced its chunks
    whole = SentenceEncoder(device="cpu", batch_size=1).encode_corpus(TEXTS, tmp_path / "b")
    assert np.array_equal(resumed, whole)


def _build(cache_dir: str, log: str) -> None:
    class Counting(SentenceEncoder):
        def _encode_all(self, texts, desc, step, parts=None):
            with open(log, "a") as handle:
                handle.write("built\n")
            return super()._encode_all(texts, desc, step, parts)

    Counting(device="cpu").encode_corpus(TEXTS, cache_dir)


@pytest.mark.slow
def test_concurrent_processes_build_one_cache_once(tmp_path):
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_build, args=(str(tmp_path), str(log))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert log.read_text().count("built") == 1
    assert len(list(tmp_path.glob("embeddings-*.npy"))) == 1
