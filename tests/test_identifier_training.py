"""The trained identifier: its data, a few real training steps, and where it plugs in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convenv.candidates import CandidatePool
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.personachat import Dialog, load_dialogs, load_personas
from convenv.testing import EchoPartner, GoalInterviewer, HashingEncoder
from convenv.training.identifier_data import build_triplets, held_out_texts
from convenv.vocabulary import normalize_fact


def test_normalize_fact_ignores_case_punctuation_and_contractions():
    assert normalize_fact("I'm a nurse.") == normalize_fact("i am a nurse")
    assert normalize_fact("i don't like cats!") == "i do not like cats"
    assert normalize_fact("i have a dog.") != normalize_fact("i have a cat.")


def test_triplets_hold_no_test_text_and_pair_own_facts():
    test_fact = load_personas("test")[0][0]
    test_sentence = next(iter(load_dialogs("test")[0].turns))
    dialogs = load_dialogs("train")[:40]
    # A train dialog that quotes a test persona's fact and a test utterance.
    leaky = Dialog(
        turns=(test_sentence, f"{test_fact} what about you?", "i have a dog.", "i am a nurse."),
        persona1=("i have a dog.", test_fact),
        persona2=("i am a nurse.", "i like pizza."),
        split="train",
    )
    triplets = build_triplets([*dialogs, leaky], HashingEncoder(), min_similarity=0.3,
                              progress=False)  # fmt: skip
    assert len(triplets) > 40
    forbidden = held_out_texts()
    assert not any({t.anchor, t.positive, t.negative} & forbidden for t in triplets)
    facts_of = {}
    for d in [*dialogs, leaky]:
        facts_of.setdefault(d.persona1, d)
        facts_of.setdefault(d.persona2, d)
    own = {f for d in [*dialogs, leaky] for p in (d.persona1, d.persona2) for f in p}
    for t in triplets:
        assert t.positive in own and t.negative != t.positive
        assert normalize_fact(t.negative) != normalize_fact(t.positive)


def test_hard_negatives_share_the_topic_and_are_not_paraphrases():
    facts = [
        "i have a dog.", "i have a cat.", "i own a hamster.", "i have two dogs.",
        "i work as a nurse.", "i am a teacher.", "i like pizza.", "i love sushi.",
        "I work as a nurse!", "i drive a truck.",
    ] + [f"zebra quartz number {k} violin." for k in range(200)]  # fmt: skip
    pool = CandidatePool(facts)
    encoder = HashingEncoder()
    persona = ("i work as a nurse.", "i have a dog.")
    truth_vectors = encoder.encode(list(persona))

    def closeness(hard: bool) -> float:
        values = []
        for seed in range(30):
            rng = np.random.default_rng(seed)
            candidates, truth, _ = pool.draw(persona, 5, rng, encoder if hard else None)
            negatives = [c for c, t in zip(candidates, truth, strict=True) if not t]
            assert len(negatives) == 5
            assert "I work as a nurse!" not in negatives  # a copy of a true fact, never wrong
            values.append((encoder.encode(negatives) @ truth_vectors.T).max(axis=1).mean())
        return float(np.mean(values))

    assert closeness(hard=True) > closeness(hard=False) + 0.05


def test_bad_identifier_directory_is_a_clear_error(tmp_path, stub_env_kwargs):
    kwargs = {k: v for k, v in stub_env_kwargs.items() if k != "identifier"}
    with pytest.raises(InvalidArgumentError, match="sentence-transformers model directory"):
        PersonaInterviewEnv(**kwargs, identifier=str(tmp_path))


@pytest.fixture(scope="module")
def tiny_trained(tmp_path_factory):
    """A real MiniLM fine-tuned for a few steps on a small slice of train dialogs."""
    from convenv.training.train_identifier import IdentifierTrainingConfig, train_identifier

    out = tmp_path_factory.mktemp("identifier")
    config = IdentifierTrainingConfig(
        out=str(out), dialogs=80, held_out=20, max_steps=6, batch_size=16, eval_steps=6,
        learning_rate=5e-5, progress=False, device="cpu",
    )  # fmt: skip
    return train_identifier(config), out


@pytest.mark.slow
def test_training_lowers_held_out_loss_and_changes_weights(tiny_trained):
    from safetensors.numpy import load_file

    from convenv.encoder import bundled_minilm_path

    model, out = tiny_trained
    report = json.loads((out / "training_config.json").read_text())
    assert report["held_out_loss_after"] < report["held_out_loss_before"]
    base = load_file(str(next(bundled_minilm_path().glob("*.safetensors"))))
    tuned = load_file(str(model / "model.safetensors"))
    shared = [k for k in tuned if any(k.endswith(b) or b.endswith(k) for b in base)]
    assert shared
    changed = 0
    for key in tuned:
        match = [b for b in base if b.endswith(key) or key.endswith(b)]
        if match and base[match[0]].shape == tuned[key].shape:
            changed += not np.allclose(base[match[0]], tuned[key])
    assert changed > 10


@pytest.mark.slow
def test_trained_identifier_plugs_into_env_and_reference(tiny_trained, capsys):
    from convenv import reference_cli

    model, _ = tiny_trained
    env = PersonaInterviewEnv(partner=EchoPartner(), interviewer=GoalInterviewer(),
                              identifier=str(model), max_turns=2)  # fmt: skip
    assert env.engine.identifier.encoder.model_id != "all-MiniLM-L6-v2"
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert 0.0 <= info["metrics"]["auc"] <= 1.0
    assert reference_cli.main(["--identifier", str(model), "--limit", "5",
                               "--utterances", "2"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "| zero-shot | 2 |" in text and "| trained | 2 |" in text


@pytest.mark.slow
def test_identifier_reaches_every_job(tmp_path, default_components, monkeypatch):
    """--identifier travels from train, bench and selfplay to the env they build."""
    import convenv.defaults
    from convenv.identifier import PersonaIdentifier
    from convenv.training import bench, selfplay, train_policy

    seen = []

    def fake(path, device="auto", pool_dialogs=0, warm=True):
        seen.append(str(path))
        return PersonaIdentifier(default_components.encoder)

    monkeypatch.setattr(convenv.defaults, "trained_identifier", fake)
    directory = tmp_path / "ID-DIR"  # what train-identifier saves: checked before it loads
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    common = ["--identifier", str(directory), "--max-turns", "2", "--no-progress"]
    assert bench.main(["--policies", "random", "--limit", "2", "--out", str(tmp_path / "b"),
                       *common]) == 0  # fmt: skip
    assert selfplay.main(["--episodes", "2", "--out", str(tmp_path / "s.jsonl"), *common]) == 0
    assert train_policy.main(["--timesteps", "64", "--n-envs", "2", "--eval-every", "10000",
                              "--eval-episodes", "2", "--out", str(tmp_path / "t"),
                              *common]) == 0  # fmt: skip
    assert seen.count(str(directory)) >= 3
    settings = json.loads((tmp_path / "t" / "settings.json").read_text())
    assert settings["env"]["identifier"] == str(directory)
