"""Keys and values of prompts already read, so a dialog's next turn reads only its new
tokens.

A partner's prompt at turn *t* is its prompt at turn *t − 1* plus its own reply and
the next question (the persona or action code always comes first), so most of what a
batched ``generate`` reads each turn it has read before. Reading the prompt (the
prefill) is most of a small model's time on a CPU: for SmolLM2-135M at 16 envs it is
about half the turn at the first question and grows with the dialog. This store keeps
each prompt's keys and values per layer; the next prompt that starts with the same
tokens reuses them, and the batch's ``generate`` reads only the rest.

How one batch is laid out: every row's reused keys sit right-aligned in a block of
width ``C`` (the longest reuse), its new tokens right-aligned in a block of width
``N`` after it; the attention mask is 0 over both blocks' padding. Position ids come
from the mask's running sum (``generate`` does that), so each real token keeps the
position it had when it was first read, as left padding does.

Only models whose cache is one plain :class:`~transformers.DynamicLayer` per layer
(full attention: GPT-2, Llama, SmolLM2, ...) are served; others decode as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class CachedPrompt:
    """One prompt's token ids and, per layer, its keys and values (heads × tokens × dim)."""

    ids: np.ndarray
    layers: list[tuple[torch.Tensor, torch.Tensor]]

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in self.layers)


@dataclass
class PreparedBatch:
    """What ``generate`` takes for one batch with reused prefixes."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    cache: object | None  # a DynamicCache of width C, or None when nothing is reused
    reused: list[int]  # tokens reused per row
    width: int  # C + N: where the replies start in ``generate``'s output


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens two id arrays share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


def batch_layout(
    rows: Sequence[Sequence[int]], reused: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask of one ``generate`` batch: each row's first
    ``reused[i]`` tokens right-aligned in a block as wide as the longest reuse, the rest
    right-aligned in a block after it, padding masked. With nothing reused this is plain
    left padding: every row's last token sits at the same position."""
    width_c = max(reused)
    width_n = max(len(r) - c for r, c in zip(rows, reused, strict=True))
    ids = torch.full((len(rows), width_c + width_n), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, (row, c) in enumerate(zip(rows, reused, strict=True)):
        row = torch.as_tensor(np.asarray(row, dtype=np.int64))
        new = len(row) - c
        ids[i, width_c - c : width_c] = row[:c]
        ids[i, width_c + width_n - new :] = row[c:]
        mask[i, width_c - c : width_c] = 1
        mask[i, width_c + width_n - new :] = 1
    return ids, mask


def supports_prefix_cache(model) -> bool:
    """Whether ``model``'s dynamic cache is one full-attention layer per decoder layer."""
    try:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        layers = DynamicCache(config=model.config).layers
    except Exception:  # a model family this transformers cannot describe: decode as before
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


class PrefixCache:
    """A bounded store of prompts' keys and values, oldest use evicted first.

    Args:
        max_bytes: What the stored keys and values may take (float32 SmolLM2-135M:
            46 KB a token, so the default 1 GiB holds ~23,000 tokens, i.e. about 60
            dialogs of 8 turns).
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[int, CachedPrompt] = OrderedDict()
        self.nbytes = 0
        self._next_key = 0
        self.reused_tokens = 0
        self.read_tokens = 0

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()
        self.nbytes = 0

    def longest_match(self, ids: np.ndarray) -> tuple[CachedPrompt | None, int]:
        """The stored prompt sharing the most leading tokens with ``ids``, and how many;
        at least one token of ``ids`` is always left to read (``generate`` needs it)."""
        best_key, best_length = None, 0
        for key, entry in self.entries.items():
            length = min(common_prefix(entry.ids, ids), len(ids) - 1)
            if length > best_length:
                best_key, best_length = key, length
        if best_key is None:
            return None, 0
        self.entries.move_to_end(best_key)
        return self.entries[best_key], best_length

    def prepare(self, rows: Sequence[list[int]], pad_id: int, config, device) -> PreparedBatch:
        """The batch's inputs: each row's longest stored prefix as cache, the rest as ids."""
        from transformers import DynamicCache

        arrays = [np.asarray(r, dtype=np.int64) for r in rows]
        matches = [self.longest_match(a) for a in arrays]
        reused = [length for _, length in matches]
        self.reused_tokens += sum(reused)
        self.read_tokens += sum(len(a) - c for a, c in zip(arrays, reused, strict=True))
        ids, mask = batch_layout(arrays, reused, pad_id)
        width_c = max(reused)
        cache = None
        if width_c:
            layers = []
            first = next(entry for entry, length in matches if length)
            for layer, (key0, value0) in enumerate(first.layers):
                heads, _, dim = key0.shape
                keys = key0.new_zeros((len(rows), heads, width_c, dim))
                values = value0.new_zeros((len(rows), heads, width_c, value0.shape[-1]))
                for i, (entry, c) in enumerate(matches):
                    if c:
                        keys[i, :, width_c - c :] = entry.layers[layer][0][:, :c]
                        values[i, :, width_c - c :] = entry.layers[layer][1][:, :c]
                layers.append((keys.to(device), values.to(device)))
            cache = DynamicCache(ddp_cache_data=layers, config=config)
        return PreparedBatch(ids.to(device), mask.to(device), cache, reused, ids.shape[1])

    def store(self, rows: Sequence[list[int]], batch: PreparedBatch, cache) -> None:
        """Keeps each row's prompt from the cache ``generate`` returned. A stored prompt
        that a new one extends is dropped: the new one serves both."""
        mask = batch.attention_mask[:, : batch.width].bool()
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        for i, row in enumerate(rows):
            positions = mask[i].nonzero().squeeze(1)
            kept = [
                (k[i].index_select(1, positions).clone(), v[i].index_select(1, positions).clone())
                for k, v in layers
            ]
            entry = CachedPrompt(np.asarray(row, dtype=np.int64), kept)
            for key, old in list(self.entries.items()):
                if len(old.ids) <= len(entry.ids) and common_prefix(old.ids, entry.ids) == len(
                    old.ids
                ):
                    self.nbytes -= old.nbytes
                    del self.entries[key]
            self.entries[self._next_key] = entry
            self._next_key += 1
            self.nbytes += entry.nbytes
        while self.nbytes > self.max_bytes and len(self.entries) > 1:
            _, old = self.entries.popitem(last=False)
            self.nbytes -= old.nbytes
