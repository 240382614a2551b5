"""Supervised fine-tuning on the tiny PersonaGPT stand-in."""

import json
from functools import partial

import pytest
import torch
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from convenv.agents.base import DialogContext
from convenv.agents.personagpt import PersonaGPTAgent, load_personagpt
from convenv.errors import InvalidArgumentError
from convenv.personachat import Dialog
from convenv.tiny_models import build_tiny_personagpt
from convenv.training.finetune import (
    FinetuneConfig,
    _capped,
    base_model_card,
    evaluate_loss,
    finetune,
    oversample,
    split_examples,
)
from convenv.training.finetune_data import (
    IGNORE,
    SupervisedExample,
    action_examples,
    personachat_examples,
    personachat_question_examples,
)
from convenv.training.label_store import LabelledExample, LabelStore


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_personagpt(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def store(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    for i in range(12):
        store.append(
            LabelledExample(
                "ask about pets.",
                "p",
                f"do you have a dog or a cat {i}?",
                "correct",
                history=("hi",),
            )
        )
    store.append(LabelledExample("ask about pets.", "p", "", "reject"))
    return store


def test_action_examples_mask_everything_but_the_question(tiny_dir, store):
    tokenizer, _ = load_personagpt(tiny_dir, torch.device("cpu"), torch.float32)
    (first, *_rest) = action_examples(tokenizer, store.training_examples())
    assert len(_rest) == 11  # the rejection is not a training example
    target = tokenizer.encode(
        "do you have a dog or a cat 0?<|endoftext|>", add_special_tokens=False
    )
    n_prompt = len(first.input_ids) - len(target)
    assert first.labels[:n_prompt] == [IGNORE] * n_prompt
    assert first.labels[n_prompt:] == target == first.input_ids[n_prompt:]
    assert tokenizer.convert_ids_to_tokens(first.input_ids[:1]) == ["<|act|>"]


def test_personachat_examples_put_the_speakers_persona_first(tiny_dir):
    tokenizer, _ = load_personagpt(tiny_dir, torch.device("cpu"), torch.float32)
    dialog = Dialog(
        ("hi", "hello, i am a nurse.", "cool, i have a dog."),
        ("i have a dog.",),
        ("i am a nurse.",),
        "train",
    )
    second, third = personachat_examples(tokenizer, [dialog])
    decode = tokenizer.decode
    assert decode(second.input_ids).startswith("<|p2|>i am a nurse.<|endoftext|><|sep|><|start|>hi")
    assert decode(third.input_ids).startswith("<|p2|>i have a dog.<|endoftext|><|sep|><|start|>hi")
    for example, reply in ((second, "hello, i am a nurse."), (third, "cool, i have a dog.")):
        kept = [t for t in example.labels if t != IGNORE]
        assert decode(kept) == reply + "<|endoftext|>"


def test_finetuning_lowers_loss_changes_weights_and_reloads(tiny_dir, store, tmp_path):
    out = tmp_path / "ckpt"
    config = FinetuneConfig(
        model=str(tiny_dir),
        labels=str(store.path),
        out=str(out),
        epochs=8,
        batch_size=4,
        lr=2e-3,
        eval_fraction=0.25,
        device="cpu",
        progress=False,
    )
    summary = finetune(config)
    assert summary["eval_loss_after"]["action"] < summary["eval_loss_before"]["action"] - 1.0
    before = load_file(tiny_dir / "model.safetensors")
    after = load_file(out / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    agent = PersonaGPTAgent(out, do_sample=False, max_new_tokens=12)
    (question,) = agent.respond([DialogContext(("hi",), goal="ask about pets.")])
    assert "dog" in question or "cat" in question
    assert json.loads((out / "finetune_config.json").read_text())["lr"] == 2e-3
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    assert "local_files_only" not in tokenizer_config
    n_positions = json.loads((out / "config.json").read_text())["n_positions"]
    assert tokenizer_config["model_max_length"] == n_positions
    card = (out / "README.md").read_text()
    assert "| action |" in card and tiny_dir.name in card
    assert str(tmp_path) not in card and str(tiny_dir) not in card  # no local paths
    metadata = ModelCard.load(out / "README.md").data
    assert metadata.base_model is None  # a local directory with no card: no hub lineage
    assert metadata.license == "unknown" and metadata.datasets == ["convai-challenge/conv_ai_2"]
    # A model trained from this one names this one's lineage and licence.
    (tiny_dir / "README.md").write_text(
        "---\nbase_model: openai-community/gpt2\nlicense: mit\n---\n# tiny\n"
    )
    try:
        assert base_model_card(str(tiny_dir))[:2] == ("openai-community/gpt2", "mit")
    finally:
        (tiny_dir / "README.md").unlink()


def test_model_cards_name_hub_models_and_the_packaged_model_by_hub_id():
    hub_id, licence, named = base_model_card("smollm2")
    assert "smollm2" in named
    assert (hub_id, licence) == ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")
    assert base_model_card("af1tang/personaGPT")[:2] == ("af1tang/personaGPT", "unknown")


def test_resume_continues_the_step_count(tiny_dir, store, tmp_path):
    out = tmp_path / "ckpt"
    common = dict(
        model=str(tiny_dir),
        labels=str(store.path),
        out=str(out),
        batch_size=2,
        epochs=10,
        device="cpu",
        progress=False,
    )
    assert finetune(FinetuneConfig(max_steps=3, **common))["steps"] == 3
    state = torch.load(out / "checkpoint-3" / "training_state.pt", weights_only=True)
    assert state["step"] == 3
    assert not (out / "training_state.pt").exists()  # optimizer state stays in checkpoint-N
    assert (out / "model.safetensors").exists()  # the final model at the top
    assert finetune(FinetuneConfig(max_steps=5, **common))["steps"] == 5
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-5"]
    # Only the newest checkpoint keeps the optimizer state (twice the weights): the older
    # one is a model; the model at the top is the final checkpoint's files, not a copy.
    older, newest = out / "checkpoint-3", out / "checkpoint-5"
    assert not (older / "training_state.pt").exists() and (newest / "training_state.pt").exists()
    load_file(older / "model.safetensors")
    assert (out / "model.safetensors").samefile(newest / "model.safetensors")
    size = {p: sum(f.stat().st_size for f in p.iterdir()) for p in (older, newest)}
    assert size[older] < 0.5 * size[newest]
    assert finetune(FinetuneConfig(max_steps=6, **common))["steps"] == 6  # resumes from 5
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-5", "checkpoint-6"]


def test_a_time_budget_bar_counts_the_budget_and_ends_full(tiny_dir, store, tmp_path, capfd):
    config = FinetuneConfig(model=str(tiny_dir), labels=str(store.path), out=str(tmp_path / "o"),
                            batch_size=2, epochs=1000, max_minutes=0.03, device="cpu")  # fmt: skip
    assert finetune(config)["stopped_by"] == "max_minutes"
    last = capfd.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    # It ends at 100% of the 2-second budget (it read "20/192 10%": updates it never ran).
    assert "fine-tuning (time budget): 100%" in last and "2/2" in last


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["model", "state", "renamed"])
def test_kill_during_a_save_loses_nothing(tiny_dir, store, tmp_path, stage):
    """kill -9 at each point of the first save; the rerun resumes from a complete
    checkpoint whose weights and optimizer state belong to the same step."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ckpt"
    args = [
        sys.executable, "-m", "convenv.cli", "finetune", "--model", str(tiny_dir),
        "--labels", str(store.path), "--out", str(out), "--batch-size", "2",
        "--epochs", "10", "--max-steps", "3", "--save-every", "1", "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip
    killed_env = {**os.environ, "CONVENV_TEST_KILL_DURING_SAVE": stage}
    # The kill comes at the first save (step 1) once it reaches `stage`.
    killed = subprocess.run(args, env=killed_env, capture_output=True, timeout=300)
    assert killed.returncode == -9
    done = [int(p.name.split("-")[1]) for p in out.glob("checkpoint-*")]
    assert done == ([1] if stage == "renamed" else [])
    for checkpoint in out.glob("checkpoint-*"):
        state = torch.load(checkpoint / "training_state.pt", weights_only=True)
        assert state["step"] == int(checkpoint.name.split("-")[1])
        load_file(checkpoint / "model.safetensors")  # complete and readable
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert json.loads(rerun.stdout[rerun.stdout.index("{") :])["steps"] == 3
    assert not list(out.glob(".checkpoint-*"))  # no half-written folder left behind
    final = torch.load(out / "checkpoint-3" / "training_state.pt", weights_only=True)
    assert final["step"] == 3


def test_eval_loss_is_token_weighted(tiny_dir):
    tokenizer, model = load_personagpt(tiny_dir, torch.device("cpu"), torch.float32)
    store_examples = [
        LabelledExample("x.", "p", "a b c d e f g?", "accept"),
        LabelledExample("x.", "p", "a?", "accept"),
    ]
    examples = action_examples(tokenizer, store_examples)
    cpu = torch.device("cpu")
    combined = evaluate_loss(model, examples, tokenizer.pad_token_id, cpu)["all"]
    parts = [evaluate_loss(model, [e], tokenizer.pad_token_id, cpu)["all"] for e in examples]
    counts = [sum(t != IGNORE for t in e.labels[1:]) for e in examples]
    expected = sum(p * n for p, n in zip(parts, counts, strict=True)) / sum(counts)
    assert combined == pytest.approx(expected, rel=1e-4)


def test_bad_config_and_empty_store(tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="task="):
        FinetuneConfig(task="dpo")
    with pytest.raises(ValueError, match="batch_size=0"):
        FinetuneConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"none\.jsonl' does not exist"):
        FinetuneConfig(model=str(tiny_dir), labels=str(tmp_path / "none.jsonl"))
    (tmp_path / "empty.jsonl").write_text("")
    empty = FinetuneConfig(
        model=str(tiny_dir),
        labels=str(tmp_path / "empty.jsonl"),
        out=str(tmp_path / "o"),
        device="cpu",
        progress=False,
    )
    with pytest.raises(ValueError, match="convenv label"):
        finetune(empty)


@pytest.mark.cuda
def test_bf16_autocast_on_cuda(tiny_dir, store, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    summary = finetune(
        FinetuneConfig(
            model=str(tiny_dir),
            labels=str(store.path),
            out=str(tmp_path / "c"),
            device="cuda",
            epochs=2,
            progress=False,
        )
    )
    assert summary["device"].startswith("cuda")
    assert summary["eval_loss_after"]["all"] < summary["eval_loss_before"]["all"]


class _StubGoalJudge:
    """Calls every question about pets, and accepts those that mention a dog."""

    def predict(self, questions):
        return ["ask about pets."] * len(questions)

    def auto_acceptable(self, questions, codes, threshold):
        return [("dog" in q) and threshold <= 0.9 for q in questions]


def test_personachat_questions_become_interviewer_examples_with_history(tiny_dir):
    tokenizer, _ = load_personagpt(tiny_dir, torch.device("cpu"), torch.float32)
    dialog = Dialog(
        ("do you have a dog?", "hi, i am a nurse. do you have a dog?", "yes. any cats?"),
        ("i have a dog.",),
        ("i am a nurse.",),
        "train",
    )
    (example,) = personachat_question_examples(tokenizer, [dialog], _StubGoalJudge(), 0.9)
    assert example.task == "action"
    text = tokenizer.decode(example.input_ids)
    # the action prompt, then the history before the question (turn 0 has none: skipped)
    assert text.startswith("<|act|> ask about pets.<|p1|><|sep|><|start|>do you have a dog?")
    kept = [t for t in example.labels if t != IGNORE]
    assert tokenizer.decode(kept) == "hi, i am a nurse. do you have a dog?<|endoftext|>"
    assert personachat_question_examples(tokenizer, [dialog], _StubGoalJudge(), 0.95) == []


def _examples(task: str, n: int) -> list[SupervisedExample]:
    return [SupervisedExample([i], [i], task) for i in range(n)]


def test_oversampling_reaches_the_share_and_never_drops():
    examples = _examples("persona", 900) + _examples("action", 10)
    mixed = oversample(examples, "action", 0.2)
    actions = sum(e.task == "action" for e in mixed)
    assert actions / len(mixed) == pytest.approx(0.2, abs=0.01)
    assert sum(e.task == "persona" for e in mixed) == 900
    assert oversample(examples, "action", 0.0) == examples  # off
    assert oversample(examples, "action", 0.005) == examples  # already above the share
    assert oversample(_examples("persona", 5), "action", 0.5) == _examples("persona", 5)


def test_the_held_out_split_keeps_every_task():
    examples = _examples("persona", 1000) + _examples("action", 20)
    train, held = split_examples(examples, 0.02, seed=0)
    assert sum(e.task == "action" for e in held) == 1
    assert sum(e.task == "persona" for e in held) == 20
    assert len(train) + len(held) == len(examples)
    assert not {id(e) for e in train} & {id(e) for e in held}
    capped = _capped(held, 4)
    assert len(capped) == 4 and {e.task for e in capped} == {"action", "persona"}
    with pytest.raises(InvalidArgumentError, match="action_share"):
        FinetuneConfig(action_share=1.0)


def test_precision_is_spelled_as_everywhere_else():
    config = partial(FinetuneConfig, task="personachat")
    assert config(precision="bfloat16").precision == "bfloat16"
    with pytest.warns(DeprecationWarning, match="'bf16' is now spelled 'bfloat16'"):
        assert config(precision="bf16").precision == "bfloat16"
    with pytest.raises(InvalidArgumentError, match=r"precision='fp16'; pass one of"):
        config(precision="fp16")
