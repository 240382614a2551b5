"""A tiny PersonaGPT-format model for tests and benchmarks (no hub, a few seconds on CPU).

A byte-level BPE tokenizer is trained by ``tokenizers`` on the given sentences, a
2-layer GPT-2 is initialised at random, and both are saved as a model directory
with PersonaGPT's special tokens — the same code path as the real checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from convenv.agents.personagpt_prompt import ADDITIONAL_TOKENS, CLS, EOS, SEP

FALLBACK_SENTENCES = (
    "hi how are you today?",
    "i am good, i just got back from work.",
    "what do you do for a living?",
    "i am a nurse at the hospital.",
    "do you have any pets?",
    "yes i have two dogs and a cat.",
    "what is your favorite food?",
    "i love pizza and italian food.",
    "do you like music?",
    "i play the guitar in a band.",
    "where do you like to travel?",
    "i went to france last summer.",
    "are you married?",
    "no, i am single but i have a girlfriend.",
    "what do you do for fun?",
    "i like hiking and reading books.",
    "how old are you?",
    "i am thirty years old.",
    "do you have kids?",
    "i have two kids, a boy and a girl.",
    "what movies do you like?",
    "i like horror movies the most.",
    "what do you think about politics?",
    "i do not follow politics much.",
)


def train_byte_bpe(sentences: Sequence[str], vocab_size: int, specials: Sequence[str]):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``sentences``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(sentences) * 3, trainer)
    return bpe


def build_tiny_personagpt(
    directory: Path | str,
    sentences: Sequence[str] = FALLBACK_SENTENCES,
    vocab_size: int = 600,
    n_layer: int = 2,
    n_embd: int = 64,
    n_positions: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tiny GPT-2 + tokenizer with PersonaGPT's special tokens to ``directory``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = train_byte_bpe(sentences, vocab_size, [EOS, SEP, CLS, *ADDITIONAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=EOS,
        bos_token=EOS,
        unk_token=EOS,
        pad_token=EOS,
        sep_token=SEP,
        cls_token=CLS,
        additional_special_tokens=list(ADDITIONAL_TOKENS),
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=2,
        bos_token_id=tokenizer.convert_tokens_to_ids(EOS),
        eos_token_id=tokenizer.convert_tokens_to_ids(EOS),
        pad_token_id=tokenizer.convert_tokens_to_ids(EOS),
    )
    GPT2LMHeadModel(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
