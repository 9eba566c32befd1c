"""A randomly initialised model and an in-memory tokenizer: ``random:<size>``, no download.

A Qwen2-shaped model with random weights and a byte-level BPE tokenizer trained in memory
on a small built-in text, so smoke tests, CI and the GPU check run a real Transformers model
on a machine that can download none. The same seed gives the same weights and the same
tokenizer. Used by in-process generation (``models.loading``) and by training
(``rl.models``); this module imports torch and transformers, so import it only when a
random model is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast, Qwen2Config

PAD, EOS = "<|pad|>", "<|endoftext|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")

# A minimal chat template: role marker, content, end marker. Enough for TRL to render
# conversational prompts; a real model brings its own template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|endoftext|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class RandomShape:
    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int


# "tiny" is the CPU test model (~0.1M parameters, fast enough for a GRPO step in a unit
# test); "0.5b" has roughly the size of Qwen2.5-0.5B for the GPU check.
SHAPES: dict[str, RandomShape] = {
    "tiny": RandomShape(vocab_size=400, hidden_size=64, layers=2, heads=4, kv_heads=2,
                        intermediate_size=128),
    "small": RandomShape(vocab_size=1000, hidden_size=256, layers=4, heads=4, kv_heads=2,
                         intermediate_size=768),
    "0.5b": RandomShape(vocab_size=4000, hidden_size=1024, layers=24, heads=16, kv_heads=2,
                        intermediate_size=5632),
    # Qwen2.5-1.5B's body (28 layers, 1536 wide, GQA 12/2), for the GPU check.
    "1.5b": RandomShape(vocab_size=4000, hidden_size=1536, layers=28, heads=12, kv_heads=2,
                        intermediate_size=8960),
}

# Text the in-memory tokenizer learns its merges from: prose, Python, and the edit
# markers the gym parses, so that the vocabulary holds the pieces a policy would need.
_CORPUS = [
    "def solve():\n    import numpy as np\n    return {'circles': circles.tolist()}\n",
    "<<<<<<< SEARCH\n    x = 1\n=======\n    x = 2\n>>>>>>> REPLACE\n",
    "# EVOLVE-BLOCK-START\nfor i in range(n):\n    total += radius[i]\n# EVOLVE-BLOCK-END\n",
    "Improve the program so that the sum of the radii of the circles grows. "
    "Each circle must lie inside the unit square and no two circles may overlap.",
    "The quick brown fox jumps over the lazy dog. 0123456789 + - * / = < > ( ) [ ] { } : ,",
    "while True:\n    if score > best:\n        best = score\n    else:\n        break\n",
]


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained in memory (deterministic for a given size)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, eos_token=EOS, padding_side="left",
        model_max_length=1 << 20,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_random(size: str, seed: int = 0) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A randomly initialised Qwen2-shaped model and its in-memory tokenizer."""
    if size not in SHAPES:
        raise ValueError(f"unknown random model size {size!r}; known: {', '.join(SHAPES)}")
    shape = SHAPES[size]
    tokenizer = build_tokenizer(shape.vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    # fork_rng keeps the caller's random state untouched: building a model is not a draw.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer
