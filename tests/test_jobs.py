"""Each subcommand's main() on a small configuration; outputs parse back."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from stable_baselines3 import PPO

from convenv import cli
from convenv.config import EnvConfig
from convenv.env import PersonaInterviewEnv
from convenv.training import bench, chat, selfplay, train_policy
from convenv.training.jsonl import read_jsonl

pytestmark = pytest.mark.slow


def test_cli_lists_subcommands_and_rejects_unknown(capsys):
    assert cli.main(["--help"]) == 0
    assert "selfplay" in capsys.readouterr().out
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


def test_train_saves_model_settings_and_logs(tmp_path, default_components, capsys):
    out = tmp_path / "train"
    code = train_policy.main(
        [
            "--timesteps",
            "250",
            "--n-envs",
            "4",
            "--max-turns",
            "4",
            "--eval-every",
            "128",
            "--eval-episodes",
            "4",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["algorithm"] == "ppo" and settings["timesteps"] == 250
    # PPO collects 4 envs x 16 steps at a time: it runs 256 steps, and says so up front
    # (the progress bar's total is the 256 it reaches, not 250).
    assert "training 256 steps (--timesteps 250)" in capsys.readouterr().out
    assert settings["timesteps_run"] == 256
    assert PPO.load(out / "model.zip", device="cpu").num_timesteps == 256
    with pytest.raises(ValueError, match="--overwrite"):  # two runs' logs must not mix
        train_policy.train(train_policy.TrainConfig(out=str(out), timesteps=64))
    with (out / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert "task/recall@5" in rows[-1]  # the task's report metrics, per rollout
    assert any(row["eval/mean_reward"] for row in rows)
    assert list(out.glob("events.out.tfevents*"))  # TensorBoard
    assert (out / "model.zip").exists() and (out / "best" / "best_model.zip").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["job"] == "train" and run["config"]["timesteps"] == 250
    assert run["versions"]["torch"] and run["versions"]["stable-baselines3"]
    assert run["seeds"]["train"] == 0 and run["seconds"] > 0


@pytest.mark.parametrize("algorithm", ["dqn", "a2c"])
def test_other_algorithms_train(tmp_path, default_components, algorithm):
    config = train_policy.TrainConfig(
        env=EnvConfig(max_turns=4),
        algorithm=algorithm,
        timesteps=128,
        n_envs=4,
        eval_every=10_000,
        eval_episodes=4,
        out=str(tmp_path),
        progress=False,
    )
    assert train_policy.train(config).exists()


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="algorithm='sac'"):
        train_policy.TrainConfig(algorithm="sac")
    with pytest.raises(ValueError, match="n_envs=0"):
        train_policy.TrainConfig(n_envs=0)


def test_bench_outputs_and_determinism(tmp_path, default_components, capsys):
    args = [
        "--policies", "random", "round-robin", "oracle", "fixed:2", "best-fixed",
        "--limit", "12", "--max-turns", "4", "--search-episodes", "16", "--no-progress",
    ]  # fmt: skip
    assert bench.main([*args, "--out", str(tmp_path / "a")]) == 0
    table = capsys.readouterr().out
    assert "| round-robin |" in table and "| oracle (cheats) |" in table
    assert "| oracle (cheats) − best-fixed |" in table  # paired differences from the baseline
    assert bench.main([*args, "--out", str(tmp_path / "b")]) == 0
    first = (tmp_path / "a" / "episodes.csv").read_text()
    assert first == (tmp_path / "b" / "episodes.csv").read_text()
    assert (tmp_path / "a" / "results.md").read_text() == (
        tmp_path / "b" / "results.md"
    ).read_text()
    rows = list(csv.DictReader(first.splitlines()))
    assert {r["policy"] for r in rows} == {
        "random",
        "round-robin",
        "oracle (cheats)",
        "fixed:2",
        "best-fixed",
    }
    assert len(rows) == 5 * 12 and {r["persona"] for r in rows} == {str(k) for k in range(12)}
    (summary,) = json.loads((tmp_path / "a" / "results.json").read_text())
    for row in summary["rows"].values():
        assert all(low <= value <= high for value, low, high in row.values())
    searched = json.loads((tmp_path / "a" / "best_fixed.json").read_text())
    assert len(searched["sequence"]) == 4 and searched["settings"]["task"] == "identification"
    differences = list(csv.DictReader((tmp_path / "a" / "differences.csv").open()))
    assert {r["reference"] for r in differences} == {"best-fixed"}
    png = (tmp_path / "a" / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_authentication_bench_reports_both_impostor_kinds(tmp_path, default_components, capsys):
    out = tmp_path / "auth"
    args = [
        "--task", "authentication", "--policies", "random", "claim", "best-fixed", "lookahead",
        "--limit", "8", "--repeats", "2", "--max-turns", "3", "--search-episodes", "16",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    assert "impostor=random" in text and "impostor=overlap" in text
    assert "| lookahead (cheats) − best-fixed |" in text
    assert "Share of the gap from best-fixed to each cheating reference closed" in text
    summary = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in summary] == [
        "authentication, impostor=random",
        "authentication, impostor=overlap",
    ]
    for result in summary:
        assert set(result["rows"]["claim"]) == {"roc_auc", "eer", "accuracy"}
        assert len(result["curves"]["random"]) == 3
        assert set(result["calibration"]) == {"random", "claim", "best-fixed", "lookahead (cheats)"}
        # The lookahead peeks at the truth: it separates at least as well as anything.
        best = max(result["rows"][p]["roc_auc"][0] for p in ("random", "claim", "best-fixed"))
        assert result["rows"]["lookahead (cheats)"]["roc_auc"][0] >= best
        # The share of the gap to the bound each policy closes, on the same episodes.
        auc = {p: result["rows"][p]["roc_auc"][0] for p in result["rows"]}
        share = result["gaps"]["claim"]["lookahead (cheats)"][0]
        if auc["lookahead (cheats)"] > auc["best-fixed"]:
            assert share == pytest.approx(
                (auc["claim"] - auc["best-fixed"]) / (auc["lookahead (cheats)"] - auc["best-fixed"])
            )
        assert set(result["gaps"]) == {"random", "claim"}
        # Beside best-fixed, the best heuristic is a reference: paired, same episodes.
        assert result["heuristic"] == "claim" and set(result["heuristic_differences"]) == {"random"}
        diff = result["heuristic_differences"]["random"]["roc_auc"][0]
        assert diff == pytest.approx(auc["random"] - auc["claim"])
    assert "| random − claim |" in text and "| lookahead (cheats) − claim |" not in text
    assert (out / "best_fixed_impostor-random.json").exists()
    assert (out / "best_fixed_impostor-overlap.json").exists()
    episodes = list(csv.DictReader((out / "episodes.csv").open()))
    assert len(episodes) == 2 * 4 * 16
    assert {r["genuine"] for r in episodes} == {"True", "False"}


def test_bench_is_independent_of_batch_size(default_components):
    env = PersonaInterviewEnv(split="test", personas=None, max_turns=3)
    from convenv.policies import RandomPolicy, RoundRobinPolicy

    for make in (lambda: RoundRobinPolicy(11), lambda: RandomPolicy(11, seed=3)):
        a = bench.benchmark(env, [make()], batch_size=1, progress=False)
        b = bench.benchmark(env, [make()], batch_size=16, progress=False)
        assert a.rows == b.rows and a.curves == b.curves
    assert a.episodes == 118 and a.personas == 118


def test_selfplay_writes_parseable_episodes(tmp_path, default_components):
    out = tmp_path / "episodes.jsonl"
    assert (
        selfplay.main(
            [
                "--episodes",
                "6",
                "--max-turns",
                "3",
                "--policy",
                "round-robin",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    episodes = selfplay.read_episodes(out)
    assert len(episodes) == 6
    first = episodes[0]
    assert len(first.utterances) == 6 and len(first.metrics) == 3
    assert first.codes == ["ask about kids.", "ask about pets.", "talk about work."]
    assert sum(first.is_true) == len(first.persona)
    row = next(read_jsonl(out))
    assert row["questions"] == first.utterances[0::2] and row["answers"] == first.utterances[1::2]
    assert row["labels"] == ["ask about family", "ask about pets", "talk about work"]
    assert len(row["rewards"]) == 3 and sum(row["rewards"]) == pytest.approx(
        row["metrics"][-1]["auc"]
    )
    assert row["settings"]["reward_mode"] == "delta" and "interviewer_persona" not in row
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded.num_rows == 6 and loaded[0]["persona"] == first.persona


def test_selfplay_rerun_refuses_resumes_or_overwrites(tmp_path, default_components, capsys):
    out = tmp_path / "episodes.jsonl"
    base = ["--max-turns", "2", "--out", str(out), "--no-progress"]
    assert selfplay.main(["--episodes", "4", *base]) == 0
    with pytest.raises(SystemExit) as refused:
        selfplay.main(["--episodes", "4", *base])
    assert refused.value.code == 2 and "--resume or --overwrite" in capsys.readouterr().err
    assert selfplay.main(["--episodes", "6", "--resume", *base]) == 0
    seeds = [r["seed"] for r in read_jsonl(out)]
    assert len(seeds) == 6 == len(set(seeds))  # only the two missing seeds were added
    assert "4 seeds were already there" in capsys.readouterr().out
    # The record of the resumed run keeps the first run's, with its settings.
    record = json.loads((tmp_path / "episodes.run.json").read_text())
    assert record["written"] == 2 and [r["written"] for r in record["earlier"]] == [4]
    assert record["config"]["resume"] and not record["earlier"][0]["config"]["resume"]
    assert selfplay.main(["--episodes", "3", "--overwrite", *base]) == 0
    assert len(list(read_jsonl(out))) == 3
    assert "earlier" not in json.loads((tmp_path / "episodes.run.json").read_text())


def test_shards_an_interrupted_ray_run_left_are_merged_once_into_the_named_file(tmp_path):
    from convenv.training.jsonl import JsonlWriter
    from convenv.training.selfplay import episode_files, merge_shards, shard_file

    out = tmp_path / "episodes.jsonl"
    for path, seeds in ((out, [0, 1]), (shard_file(out, 0), [3, 1]), (shard_file(out, 1), [2])):
        with JsonlWriter(path) as writer:
            for seed in seeds:
                writer.write({"seed": seed})
    # Seed 1 reached the file before a crash cut the merge short: it is not added twice.
    assert merge_shards(out) == 2
    assert [r["seed"] for r in read_jsonl(out)] == [0, 1, 2, 3]
    assert episode_files(out) == [out]
    assert merge_shards(out) == 0


def test_ctrl_c_keeps_episodes_and_exits_130(tmp_path, default_components):
    out = tmp_path / "interrupted.jsonl"
    code = (
        # A process started in the background inherits SIGINT ignored; a terminal's
        # Ctrl-C reaches a program with Python's default handler, so restore it.
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from convenv.training import selfplay; "
        "sys.exit(selfplay.main(['--episodes', '100000', '--n-envs', '1', "
        f"'--max-turns', '2', '--out', {str(out)!r}, '--no-progress']))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 240
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 130, stderr[-2000:]
    kept = len(list(read_jsonl(out)))
    assert f"interrupted: {kept} finished episodes kept" in stdout
    assert "Traceback" not in stderr


def test_interrupted_selfplay_keeps_every_finished_episode(tmp_path, default_components):
    out = tmp_path / "killed.jsonl"
    code = (
        "from convenv.training import selfplay; "
        "selfplay.main(['--episodes', '100000', '--n-envs', '1', "
        f"'--max-turns', '2', '--out', {str(out)!r}, '--no-progress'])"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    deadline = time.time() + 240
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 5):
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    lines = out.read_text().splitlines()
    assert len(lines) >= 5
    rows = list(read_jsonl(out))
    assert len(rows) >= len(lines) - 1
    assert all(len(r["metrics"]) == 2 for r in rows)


def test_chat_mode_one_with_scripted_person(default_components):
    answers = iter(["1", "x", "2", "3"])  # "x" is refused and costs no turn
    printed = []
    prompts = []

    def person(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    metrics = chat.chat(
        ("i have a dog.", "i work as a nurse."),
        mode=1,
        turns=3,
        components=default_components,
        input_fn=person,
        print_fn=printed.append,
    )
    text = "\n".join(printed)
    assert text.count("interviewer:") == 3 and text.count("partner:") == 3
    assert [p.split("]")[0] for p in prompts] == [
        "[turn 1/3",
        "[turn 2/3",
        "[turn 2/3",
        "[turn 3/3",
    ]
    assert "pick a number" in text and "identifier's ranking" in text
    assert set(metrics) >= {"precision@1", "mrr"}


def test_chat_main_mode_zero_types_questions(default_components):
    script = iter(["do you have any pets?", "what do you do for work?", ""])
    printed = []
    assert (
        chat.main(
            ["--mode", "0", "--persona", "i have a cat.|i am a teacher."],
            input_fn=lambda _: next(script),
            print_fn=printed.append,
        )
        == 0
    )
    assert sum(line.startswith("partner:") for line in printed) == 2
    assert printed[-1].endswith("i have a cat. | i am a teacher.")


def test_fixed_all_makes_one_policy_per_code(default_components):
    from convenv.policies.registry import PolicyContext, make_policies

    env = PersonaInterviewEnv(split="test")
    policies = make_policies(["fixed:all"], PolicyContext(env))
    assert len(policies) == 11
    assert policies[1].act(np.zeros((2, 1))).tolist() == [1, 1]
    with pytest.raises(ValueError, match="is none of"):
        make_policies(["nonsense"], PolicyContext(env))
