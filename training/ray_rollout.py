"""Episodes sharded over Ray workers (``bench --ray``, ``selfplay --ray``).

Each worker is a Ray actor that builds one env (its own copy of the models, once) and
plays contiguous shards of the seed list. Episode ``k`` depends only on its seed (the
env reset and every policy's random draws are seeded by it), so the same seeds give
the same episodes however they are sharded. Self-play workers stream to their own
files; the driver never holds the episodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from convenv.env import PersonaInterviewEnv
from convenv.errors import positive_int
from convenv.ray_support import start_ray
from convenv.records import EpisodeRecord


def shards(n: int, workers: int) -> list[slice]:
    """``workers`` contiguous, balanced slices of ``range(n)`` (empty ones dropped)."""
    size, extra = divmod(n, workers)
    bounds, start = [], 0
    for w in range(workers):
        stop = start + size + (1 if w < extra else 0)
        if stop > start:
            bounds.append(slice(start, stop))
        start = stop
    return bounds


def _persona_key(personas: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p) for p in personas)


class EpisodeWorker:
    """One Ray actor: an env built once, then shards of episodes on request."""

    def __init__(self, make_env: Callable[[], PersonaInterviewEnv]) -> None:
        self.base = make_env()
        self._envs = {(self.base.split, _persona_key(self.base.personas)): self.base}

    def _env(self, split: str, personas: Sequence[Sequence[str]]) -> PersonaInterviewEnv:
        # The driver may play on another persona pool of the same engine (authentication
        # calibrates its threshold on validation personas): same models, other personas.
        key = (split, _persona_key(personas))
        if key not in self._envs:
            self._envs[key] = self.base.with_personas(split, personas)
        return self._envs[key]

    def play(self, split, personas, policy, seeds, options, batch_size) -> list[EpisodeRecord]:
        from convenv.training.bench import play

        return play(self._env(split, personas), policy, seeds, options, batch_size, False)

    def write(self, split, personas, policy, seeds, path: str, batch_size: int) -> int:
        from convenv.training.selfplay import write_episodes

        env = self._env(split, personas)
        return write_episodes(env, policy, list(seeds), Path(path), batch_size, False)


class RayEpisodeRunner:
    """Plays episodes on ``workers`` Ray actors, each building its env with ``make_env``
    (a picklable callable; on a cluster it runs on the worker's node).

    Args:
        make_env: Builds the env every worker plays on.
        workers: How many actors (each takes one CPU).
        address: The Ray cluster to join; None starts a local one.
    """

    def __init__(
        self,
        make_env: Callable[[], PersonaInterviewEnv],
        workers: int = 2,
        address: str | None = None,
    ) -> None:
        self.workers = positive_int(workers, "workers")
        self.ray = start_ray(address)
        actor = self.ray.remote(num_cpus=1)(EpisodeWorker)
        self.actors = [actor.remote(make_env) for _ in range(self.workers)]

    def _wait(self, refs: list, progress: bool, what: str) -> list:
        """Results of ``refs`` in order, with a bar that moves as shards finish."""
        bar = tqdm(total=len(refs), desc=f"{what} shards", disable=not progress)
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            bar.update(len(done))
        bar.close()
        return self.ray.get(refs)

    def play(
        self,
        env: PersonaInterviewEnv,
        policy,
        seeds: Sequence[int],
        options: Sequence[dict | None] | None,
        batch_size: int,
        progress: bool,
    ) -> list[EpisodeRecord]:
        """What :func:`convenv.training.bench.play` returns, played by the workers on
        ``env``'s split and personas."""
        seeds, personas = list(seeds), [list(p) for p in env.personas]
        refs = [
            self.actors[w].play.remote(
                env.split,
                personas,
                policy,
                seeds[part],
                list(options[part]) if options is not None else None,
                batch_size,
            )
            for w, part in enumerate(shards(len(seeds), self.workers))
        ]
        return [record for shard in self._wait(refs, progress, policy.name) for record in shard]

    def write(
        self,
        env: PersonaInterviewEnv,
        policy,
        seeds: Sequence[int],
        out: Path,
        batch_size: int,
        progress: bool,
    ) -> int:
        """Self-play: worker ``w`` appends its shard's episodes to ``NAME.part-w.jsonl``
        (:func:`~convenv.training.selfplay.merge_shards` merges them into ``out``)."""
        from convenv.training.selfplay import shard_file

        seeds, personas = list(seeds), [list(p) for p in env.personas]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        refs = [
            self.actors[w].write.remote(
                env.split, personas, policy, seeds[part], str(shard_file(Path(out), w)), batch_size
            )
            for w, part in enumerate(shards(len(seeds), self.workers))
        ]
        try:
            return sum(self._wait(refs, progress, policy.name))
        except KeyboardInterrupt:
            for ref in refs:
                self.ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
