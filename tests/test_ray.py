"""Ray: RLlib PPO on the vector entry point, sharded bench and self-play, a Tune sweep.

They run on a local Ray cluster (2 CPUs) and skip only where the extra is missing
(CI installs it). Stand-in agents come from ``convenv.testing`` so workers can
unpickle them.
"""

from __future__ import annotations

import csv
from functools import partial

import numpy as np
import pytest

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies import ClaimTopicPolicy, FixedSequencePolicy, RandomPolicy
from convenv.testing import HashingEncoder, stub_env

pytest.importorskip("ray", reason="the Ray tests need the extra: pip install 'convenv[ray]'")
pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_cluster():
    from convenv.ray_support import start_ray

    ray = start_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def policies(env: PersonaInterviewEnv):
    from convenv.policies.registry import PolicyContext, make_policies

    claim = ClaimTopicPolicy(env.actions, HashingEncoder())
    chosen = [RandomPolicy(11, seed=3), FixedSequencePolicy([0, 4, 7], 11), claim]
    # The lookahead steps forks of the episodes: on a worker, through the worker's env.
    return chosen + make_policies(["lookahead"], PolicyContext(env))


@pytest.mark.parametrize("task", ["identification", "authentication"])
def test_a_sharded_bench_equals_the_in_process_bench(ray_cluster, task):
    from convenv.training.bench import benchmark
    from convenv.training.ray_rollout import RayEpisodeRunner

    env = stub_env(task)
    local = benchmark(env, policies(env), repeats=2, seed=5, batch_size=4, progress=False,
                      calibration_episodes=16)  # fmt: skip
    runner = RayEpisodeRunner(partial(stub_env, task), workers=2)
    try:
        sharded = benchmark(env, policies(env), repeats=2, seed=5, batch_size=4, progress=False,
                            calibration_episodes=16, runner=runner)  # fmt: skip
    finally:
        runner.close()
    assert list(sharded.records) == list(local.records)
    for name, records in local.records.items():
        assert [r.to_dict() for r in sharded.records[name]] == [r.to_dict() for r in records]
    assert sharded.rows == local.rows
    assert sharded.calibration == local.calibration


def test_sharded_selfplay_streams_shards_equal_to_one_process(ray_cluster, tmp_path):
    from convenv.training.ray_rollout import RayEpisodeRunner
    from convenv.training.selfplay import episode_files, read_episodes, selfplay

    env = stub_env()
    local = tmp_path / "local" / "episodes.jsonl"
    local.parent.mkdir()
    selfplay(env, "random", 10, local, seed=2, batch_size=3, progress=False)
    runner = RayEpisodeRunner(partial(stub_env), workers=2)
    try:
        out = tmp_path / "ray" / "episodes.jsonl"
        result = selfplay(env, "random", 10, out, seed=2, batch_size=3, progress=False,
                          runner=runner)  # fmt: skip
        assert result.written == 10
        # The workers' shards are merged into the file the run names, in seed order.
        assert [f.name for f in episode_files(out)] == ["episodes.jsonl"]
        assert out.read_text() == local.read_text()
        assert [r.to_dict() for r in read_episodes(out)] == [
            r.to_dict() for r in read_episodes(local)
        ]
        again = selfplay(env, "random", 12, out, seed=2, batch_size=3, progress=False,
                         mode="resume", runner=runner)  # fmt: skip
        assert (again.written, again.skipped) == (2, 10)
        with pytest.raises(InvalidArgumentError, match="--resume"):
            selfplay(env, "random", 12, out, seed=2, progress=False, runner=runner)
    finally:
        runner.close()


def rllib_config(tmp_path, runners: int, **overrides):
    from convenv.training.train_policy import TrainConfig

    envs, fragment = 4, 8
    batch = envs * fragment * max(1, runners)
    from convenv.training.train_policy import RLlibSettings

    settings = dict(
        backend="rllib", timesteps=2 * batch, n_steps=fragment, batch_size=16,
        eval_every=2 * batch, eval_episodes=4, out=str(tmp_path / f"rllib{runners}"),
        progress=False, rllib=RLlibSettings(num_env_runners=runners, envs_per_runner=envs),
    )  # fmt: skip
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize("runners", [0, 2])
def test_rllib_ppo_trains_on_the_vector_entry_point(ray_cluster, tmp_path, runners):
    from convenv.policies.registry import PolicyContext, check_specs, make_policies
    from convenv.policies.rllib import RLlibPolicy
    from convenv.training.train_policy import train

    config = rllib_config(tmp_path, runners)
    out = train(config)
    with (out / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2  # two iterations of PPO
    assert float(rows[-1]["env_steps"]) >= config.timesteps
    for name in ("identification/auc", "identification/precision@1", "episode_return_mean"):
        assert 0.0 <= float(rows[-1][name]) <= 1.0, name
    assert "validation_return" in rows[-1]  # evaluated on validation personas
    assert (out / "checkpoint" / "rllib_checkpoint.json").exists()
    # The exported policy plays in the project's rollouts, read without unpickling.
    env = PersonaInterviewEnv(split="test", max_turns=3)
    check_specs([str(out)])
    (policy,) = make_policies([str(out)], PolicyContext(env))
    assert isinstance(policy, RLlibPolicy)
    observations = np.stack([env.reset(seed=s)[0] for s in range(5)])
    actions = policy.act(observations)
    assert actions.shape == (5,) and ((actions >= 0) & (actions < 11)).all()
    assert (policy.act(observations) == actions).all()  # greedy
    with pytest.raises(InvalidArgumentError, match="--overwrite"):
        train(config)


def test_an_rllib_policy_refuses_what_it_cannot_read(tmp_path):
    from convenv.policies.rllib import RLlibPolicy

    with pytest.raises(InvalidArgumentError, match="pickled"):
        RLlibPolicy.load(tmp_path)
    (tmp_path / "policy.json").write_text('{"module_class": "os.system"}')
    (tmp_path / "policy.safetensors").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="rebuilds"):
        RLlibPolicy.load(tmp_path)


def test_rllib_options_need_the_rllib_backend():
    from convenv.training.train_policy import RLlibSettings, TrainConfig

    with pytest.raises(InvalidArgumentError, match="--backend rllib"):
        TrainConfig(rllib=RLlibSettings(num_env_runners=2))
    with pytest.raises(InvalidArgumentError, match="backend"):
        TrainConfig(backend="spark")


def test_a_two_trial_tune_sweep_runs_and_reports(ray_cluster, tmp_path):
    import json

    from convenv.config import EnvConfig
    from convenv.training.train_policy import TrainConfig
    from convenv.training.tune_sweep import sweep

    base = TrainConfig(env=EnvConfig(max_turns=3), timesteps=96, n_envs=4, eval_every=32,
                       eval_episodes=4, out=str(tmp_path / "tune"), progress=False)  # fmt: skip
    summary = sweep(base, samples=2, scheduler="asha", cpus_per_trial=1.0)
    assert summary["trials"] == 2 and summary["errors"] == 0
    assert set(summary["settings"]) == {"learning_rate", "n_steps", "batch_size",
                                        "gae_lambda", "ent_coef"}  # fmt: skip
    best = json.loads((tmp_path / "tune" / "best.json").read_text())
    assert best["validation_return"] == summary["validation_return"]
    trials = (tmp_path / "tune" / "trials.csv").read_text().splitlines()
    assert len(trials) == 3 and "validation_return" in trials[0]
    # Trials train under --out made absolute; one ASHA stops early is not saved.
    runs = list((tmp_path / "tune").glob("sweep/*/run/model.zip"))
    assert 1 <= len(runs) <= 2


def test_bench_and_selfplay_take_ray_on_the_command_line(ray_cluster, tmp_path, capsys):
    import json

    import datasets

    from convenv.training import bench, selfplay
    from convenv.training.selfplay import read_episodes

    common = ["--ray", "--ray-workers", "2", "--max-turns", "2", "--no-progress"]
    assert selfplay.main([*common, "--episodes", "4", "--out", str(tmp_path / "sp.jsonl")]) == 0
    assert [r.seed for r in read_episodes(tmp_path / "sp.jsonl")] == [0, 1, 2, 3]
    assert f"wrote 4 episodes to {tmp_path / 'sp.jsonl'}" in capsys.readouterr().out
    # The file it names is the file a user loads, with Hugging Face datasets too.
    loaded = datasets.load_dataset(
        "json", data_files=str(tmp_path / "sp.jsonl"), cache_dir=str(tmp_path / "hf")
    )["train"]
    assert sorted(loaded["seed"]) == [0, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.glob("sp*.jsonl")) == ["sp.jsonl"]
    assert bench.main([*common, "--limit", "3", "--policies", "random", "fixed:0",
                       "--out", str(tmp_path / "bench")]) == 0  # fmt: skip
    result = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert "random" in json.dumps(result) and "fixed" in json.dumps(result)
    assert "| random |" in capsys.readouterr().out
