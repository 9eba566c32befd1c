"""The policy and its tokenizer: loaded from a path or a hub id, or built at random.

``random:<size>`` builds a Qwen2-shaped model with random weights and a byte-level BPE
tokenizer trained in memory on a small built-in text (``thetaevolve.models.random_model``),
so smoke tests and CI need no download. The same seed gives the same weights and the same
tokenizer.

Only ``thetaevolve train`` imports this module (it imports torch and transformers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from thetaevolve.rl.settings import RANDOM_MODEL_SIZES, RANDOM_PREFIX

# The random model is built by the core (``llm.kind=transformers`` takes ``random:tiny``
# too); training adds loading from a folder or the hub, and the parameter count.
from thetaevolve.models.random_model import CHAT_TEMPLATE, SHAPES, build_random

assert set(SHAPES) == set(RANDOM_MODEL_SIZES)


def is_random_spec(spec: str) -> bool:
    return spec.startswith(RANDOM_PREFIX)


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
