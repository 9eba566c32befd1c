"""Load a causal LM and its tokenizer for generation: a bundled name, a folder or a hub id.

Imports torch and transformers when called, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thetaevolve.errors import UserError
from thetaevolve.models.bundled import describe, resolve_model
from thetaevolve.models.chat import prepare_for_generation

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = ("auto", "float32", "bfloat16", "float16")
INSTALL_HINT = "pip install 'thetaevolve[rl]' (torch and transformers)"


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"llm.device={device!r}, but torch sees no CUDA device; use cpu or auto")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        # CPUs without bf16 units run float32 fastest; GPUs run bf16 where they can.
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in DTYPES:
        raise UserError(f"llm.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return getattr(torch, dtype)


def load_for_generation(
    spec: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any, str]:
    """(model in eval mode on its device, tokenizer ready for batched chat, device)."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise UserError(f"llm.kind=transformers needs {INSTALL_HINT} ({exc})") from None
    device = pick_device(device)
    if spec.startswith("random:"):
        model, tokenizer = _build_random(spec)
        # transformers wraps Module.to in a decorator that mypy cannot call as a method.
        model.to(device=device, dtype=pick_dtype(dtype, device))  # type: ignore[call-arg]
    else:
        model, tokenizer = _load_saved(spec, pick_dtype(dtype, device), trust_remote_code)
        model.to(device)  # type: ignore[arg-type]  # the same decorator as above
    model.eval()
    prepare_for_generation(tokenizer, model)
    return model, tokenizer, device


def _build_random(spec: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A randomly initialised model with an in-memory tokenizer (smoke tests, the GPU
    check): built, not loaded, so nothing is downloaded."""
    from thetaevolve.models.random_model import build_random

    try:
        return build_random(spec[len("random:"):])
    except ValueError as exc:
        raise UserError(f"--model {spec}: {exc}") from None


def _load_saved(spec: str, dtype: Any, trust_remote_code: bool
                ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A bundled name, a saved model folder, or a hub id in the local cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_model(spec)
    where = Path(source).expanduser()
    if where.exists() and not (where / "config.json").is_file():
        raise UserError(f"--model {spec}: {where} has no config.json, so it is not a saved model folder")
    name = str(where) if where.exists() else source
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype,
                                                     trust_remote_code=trust_remote_code)
    except OSError as exc:
        offline = " (HF_HUB_OFFLINE=1: only the local cache is used)" if os.environ.get(
            "HF_HUB_OFFLINE") == "1" else ""
        raise UserError(
            f"cannot load model {describe(spec)!r}{offline}: {exc}; give a model folder, a "
            "Hugging Face id that is in the local cache, or smollm2-135m"
        ) from None
    return model, tokenizer
