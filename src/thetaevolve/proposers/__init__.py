"""Proposers: prompts in, responses out (see ``base.Proposer``).

``make_proposer(config)`` picks one from ``llm.kind``:
- ``offline``: the offline mutator (no model; the default);
- ``openai``: any OpenAI-compatible endpoint (``openai_client.OpenAIProposer``);
- ``vllm``: an in-process vLLM engine (the ``vllm`` extra; ``vllm_local.VLLMProposer``);
- ``transformers``: an in-process Transformers model on the CPU or a GPU
  (``transformers_local.TransformersProposer``).
Imports are deferred so that choosing one never loads another's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thetaevolve.proposers.base import Prompt, Proposer, Response
from thetaevolve.proposers.calls import CallStats

if TYPE_CHECKING:
    from thetaevolve.config import RunConfig

__all__ = ["CallStats", "Prompt", "Proposer", "Response", "make_proposer"]


def make_proposer(config: "RunConfig") -> Proposer:
    """The proposer that ``config.llm.kind`` names."""
    kind = config.llm.kind
    if kind == "offline":
        from thetaevolve.proposers.offline import OfflineMutator

        return OfflineMutator(config.llm, seed=config.seed)
    if kind == "openai":
        from thetaevolve.proposers.openai_client import OpenAIProposer

        return OpenAIProposer(config.llm)
    if kind == "vllm":
        from thetaevolve.proposers.vllm_local import VLLMProposer

        return VLLMProposer(config.llm, seed=config.seed)
    if kind == "transformers":
        from thetaevolve.proposers.transformers_local import TransformersProposer

        return TransformersProposer(config.llm, seed=config.seed)
    raise ValueError(f"llm.kind must be offline, openai, vllm or transformers, got {kind!r}")
