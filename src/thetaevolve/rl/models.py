"""The policy and its tokenizer: loaded from a path or a hub id, or built at random.

``random:<size>`` builds a Qwen2-shaped model with random weights and a byte-level BPE
tokenizer trained in memory on a small built-in text, so smoke tests and CI need no
download. The same seed gives the same weights and the same tokenizer.

Only ``thetaevolve train`` imports this module (it imports torch and transformers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

from thetaevolve.rl.settings import RANDOM_MODEL_SIZES, RANDOM_PREFIX

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


# "tiny" is the CPU test model (~0.1M parameters, docs/references.md#tiny-model); "0.5b" has roughly
# the size of Qwen2.5-0.5B for the GPU check.
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
assert set(SHAPES) == set(RANDOM_MODEL_SIZES)

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


def is_random_spec(spec: str) -> bool:
    return spec.startswith(RANDOM_PREFIX)


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


def load_pretrained(
    spec: str, dtype: torch.dtype | None = None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a model and tokenizer from a local folder or a Hugging Face id.

    With ``HF_HUB_OFFLINE=1`` a hub id resolves from the local cache only (a clear error
    if it is missing there).
    """
    from thetaevolve.models.bundled import resolve_model

    spec = resolve_model(spec)  # a bundled name (smollm2-135m) becomes its converted folder
    where = Path(spec).expanduser()
    source = str(where) if where.exists() else spec
    if where.exists() and not (where / "config.json").exists():
        raise FileNotFoundError(f"{where} has no config.json: it is not a saved model folder")
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1: only the local cache is used)" if offline else ""
        raise FileNotFoundError(f"cannot load model {spec!r}{hint}: {exc}") from exc
    if tokenizer.pad_token is None:
        # Batched generation needs a pad token; the end token is the usual stand-in.
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHAT_TEMPLATE
    from thetaevolve.models.chat import prepare_for_generation

    # A real model's end of turn (<|im_end|>, <|eot_id|>, ...) is often not its eos token:
    # every one of them stops generation, and TRL counts a completion ending there as done.
    prepare_for_generation(tokenizer, model)
    return model, tokenizer


def load_policy(
    spec: str, seed: int = 0, dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The policy to train, from ``rl.model``."""
    if is_random_spec(spec):
        model, tokenizer = build_random(spec[len(RANDOM_PREFIX):], seed=seed)
        if dtype is not None:
            model = model.to(dtype)
        return model, tokenizer
    return load_pretrained(spec, dtype=dtype)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
