"""The sections of the configuration tree, one pydantic model each (``RunConfig`` holds them).

Every section forbids unknown keys, so a typo is an error that names the field instead of
a flag that silently does nothing, and is frozen: a resolved config is never edited in
place; a changed one is a new object (``model_copy(update=...)``).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thetaevolve.urls import is_http_url, split_urls


class Section(BaseModel):
    """The base of every section: unknown keys are errors, values never change in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OfflineConfig(Section):
    """The offline mutator's settings (llm.kind=offline; see proposers/offline.py)."""

    mutation_scale: float = Field(0.1, gt=0.0)  # relative size of a numeric perturbation
    crossover_rate: float = Field(0.2, ge=0.0, le=1.0)
    # Programs drawn per parent as crossover donors. Not prompt.num_inspirations, which is
    # how many other programs a prompt shows to a model.
    crossover_donors: int = Field(2, ge=0)


class LLMConfig(Section):
    """Where proposals come from."""

    kind: Literal["offline", "openai", "vllm", "transformers"] = "offline"
    base_url: str | None = None  # one URL, or several separated by commas (replicas)
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the *name* of the variable; the key is never stored
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(16384, ge=1)
    timeout_s: float = Field(600.0, gt=0.0)  # hard deadline for one call, retries included
    max_retries: int = Field(3, ge=0)
    # Calls in a row that failed for good with a connection error, HTTP 401/403 or 404
    # (a dead, unauthorised or wrongly addressed endpoint) that stop the run; 0: never.
    max_consecutive_failures: int = Field(8, ge=0)
    max_concurrency: int = Field(64, ge=1)
    price_per_mtok_in: float | None = Field(None, ge=0.0)
    price_per_mtok_out: float | None = Field(None, ge=0.0)
    edit_search_scope: Literal["whole", "after_think"] = "whole"
    edit_mode: Literal["diff", "rewrite"] = "diff"
    retry_backoff_s: float = Field(1.0, ge=0.0)  # first retry's wait; doubles per retry
    retry_backoff_max_s: float = Field(30.0, ge=0.0)
    extra_body: dict[str, Any] = Field(default_factory=dict)  # engine-specific request fields
    vllm_options: dict[str, Any] = Field(default_factory=dict)  # kwargs for vllm.LLM(...)
    # In-process Transformers (kind=transformers): where the model runs, and how many
    # sequences (prompts x samples) one generate call holds at most.
    device: str = "auto"  # auto: cuda when torch sees one, else cpu
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_batch_sequences: int = Field(64, ge=1)
    # The offline mutator (kind=offline) in a section of its own: no other proposer reads it.
    offline: OfflineConfig = Field(default_factory=OfflineConfig)

    @model_validator(mode="after")
    def _needs_endpoint(self) -> "LLMConfig":
        if self.kind == "openai" and (not self.base_url or not self.model):
            raise ValueError(
                "llm.kind=openai needs llm.base_url and llm.model "
                "(e.g. --base-url http://localhost:8000/v1 --model Qwen/Qwen3-8B)"
            )
        if self.kind in ("vllm", "transformers") and not self.model:
            raise ValueError(
                f"llm.kind={self.kind} needs llm.model (a local path, a Hugging Face id, "
                "or smollm2-135m)"
            )
        return self

    @model_validator(mode="after")
    def _base_urls_are_http(self) -> "LLMConfig":
        # Checked at load time so that a mistyped URL stops the run before any work.
        if self.kind == "openai" and self.base_url:
            urls = split_urls(self.base_url)
            bad = [u for u in urls if not is_http_url(u)]
            if not urls or bad:
                raise ValueError(
                    f"llm.base_url: {', '.join(bad) or repr(self.base_url)} is not an http(s) URL "
                    "(e.g. http://localhost:8000/v1; several replicas are separated by commas)"
                )
        return self


class GymConfig(Section):
    """Batch sampling, lazy penalties and reward shaping (ThetaEvolve's gym)."""

    batch_size: int = Field(8, ge=1)  # B parents per batch, drawn from one database state
    samples_per_prompt: int = Field(4, ge=1)  # n responses per prompt
    lazy_penalty_level: int = Field(2, ge=0, le=2)  # 0 off, 1 child==parent, 2 child==any stored
    max_code_length: int = Field(50_000, ge=100)
    reward: Literal["original", "rl_normalized", "improve", "random"] = "original"
    # ThetaEvolve's error codes, one per failure family (docs/references.md#thetaevolve-error-codes).
    penalty_no_diff: float = -0.4
    penalty_no_change: float = -0.3
    penalty_execution: float = -0.2
    penalty_invalid: float = -0.1
    penalty_llm_error: float = -1.0
    # Overrides of the task's rl_normalized shaping (None keeps the task's default).
    shaping_range_min: float | None = None
    shaping_range_max: float | None = None
    shaping_alpha: float | None = Field(None, gt=0.0)
    shaping_multiplier: float | None = None


class DatabaseConfig(Section):
    """The program database: islands, MAP-Elites cells, archive, sampling ratios."""

    num_islands: int = Field(4, ge=1)
    archive_size: int = Field(100, ge=1)
    population_size: int = Field(10_000, ge=10)  # per-island cap on stored, sampleable programs
    migration_interval: int = Field(10, ge=0)  # in generations; 0 disables migration
    migration_fraction: float = Field(0.1, ge=0.0, le=1.0)
    exploration_ratio: float = Field(0.2, ge=0.0, le=1.0)  # uniform within the island
    exploitation_ratio: float = Field(0.6, ge=0.0, le=1.0)  # from the island's archive members
    # the remaining 1 - exploration - exploitation is uniform over everything
    feature_dimensions: list[str] = Field(default_factory=lambda: ["score", "code_length"])
    feature_bins: int = Field(10, ge=1)
    # Re-initialisation counts commits to the store (ProgramDatabase.commit calls; the gym
    # makes one per batch), not the gym's batches: it fires on every reinit_every-th commit.
    reinit_every: int = Field(0, ge=0)  # commits between re-initialisations; 0 disables
    reinit_keep_best: int = Field(0, ge=0)
    # ThetaEvolve's stagnation rule (docs/references.md#thetaevolve-reinit): re-initialise
    # when the population has converged, |best - second lowest| / |best| < reinit_ratio (on
    # fitness), at least
    # reinit_min_batches commits after the last one; forced after reinit_max_batches
    # commits (0: never). The names keep "batches" for existing configs.
    reinit_ratio: float = Field(0.0, ge=0.0)  # 0 disables the rule
    reinit_min_batches: int = Field(0, ge=0)
    reinit_max_batches: int = Field(0, ge=0)
    # How parents are chosen: "islands" (the island/archive rule above, ThetaEvolve's),
    # "puct" (TTT-Discover's reuse rule over the archive, see database/puct.py) or
    # "initial" (every parent is the initial program and prompts show no other program:
    # the best-of-N baseline, no database feedback).
    sampler: Literal["islands", "puct", "initial"] = "islands"
    puct_c: float = Field(1.0, ge=0.0)  # PUCT's exploration constant c
    # Stored records are immutable, so the most recently read ones are kept in memory:
    # parents come mostly from the archive and cell elites, which are read again and again.
    record_cache_size: int = Field(4096, ge=0)

    @model_validator(mode="after")
    def _ratios(self) -> "DatabaseConfig":
        if self.exploration_ratio + self.exploitation_ratio > 1.0 + 1e-9:
            raise ValueError(
                "database.exploration_ratio + database.exploitation_ratio must be at most 1 "
                f"(got {self.exploration_ratio} + {self.exploitation_ratio})"
            )
        return self


class SandboxConfig(Section):
    """Limits for running untrusted candidate programs."""

    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    timeout_s: float | None = Field(None, gt=0.0)  # None: the task's own limit
    memory_mb: int = Field(4096, ge=64)
    max_output_bytes: int = Field(1 << 20, ge=1024)  # stdout/stderr cap each
    max_solution_bytes: int = Field(64 << 20, ge=1024)
    max_file_bytes: int = Field(64 << 20, ge=0)
    max_processes: int = Field(64, ge=1)
    max_open_files: int = Field(256, ge=16)
    threads: int = Field(1, ge=1)  # BLAS/OpenMP threads inside a candidate
    use_bwrap: Literal["auto", "always", "never"] = "auto"
    warm_pool: bool = True
    # Started as root, each worker runs its candidates as its own uid from this range
    # (root is exempt from the process cap); uids in use are leased with a file lock.
    uid_base: int = Field(60100, ge=1, le=(1 << 31) - 2)
    uid_count: int = Field(1000, ge=1)
    # Where candidates run: this machine's warm pool, or a warm pool on every node of a Ray
    # cluster (thetaevolve.sandbox.ray_backend; docs/scale-out.md). ``ray_address``: "auto"
    # joins the cluster started with `ray start` on this machine, "local" starts a private
    # one in-process, HOST:PORT or ray://HOST:PORT names a head.
    backend: Literal["local", "ray"] = "local"
    ray_address: str = "auto"

    @model_validator(mode="after")
    def _ray_address_is_an_address(self) -> "SandboxConfig":
        if not _is_ray_address(self.ray_address):
            raise ValueError(
                f"sandbox.ray_address: {self.ray_address!r} is not a Ray address; use auto, "
                "local, HOST:PORT (the head's GCS port, 6379 by default) or ray://HOST:PORT"
            )
        return self


def _is_ray_address(text: str) -> bool:
    if text in ("auto", "local"):
        return True
    host, sep, port = text.removeprefix("ray://").rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536
                and all(c.isalnum() or c in ".-_[]:" for c in host))


class PromptConfig(Section):
    """What goes into each prompt."""

    num_top_programs: int = Field(0, ge=0)
    num_inspirations: int = Field(0, ge=0)
    include_parent_errors: bool = True
    include_history: bool = False
    template_dir: str | None = None  # a folder whose *.txt files override the built-in templates
    system_messages: list[str] = Field(default_factory=list)  # empty: the built-in one
    system_message_weights: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights(self) -> "PromptConfig":
        if self.system_message_weights and len(self.system_message_weights) != len(
            self.system_messages
        ):
            raise ValueError(
                "prompt.system_message_weights needs one weight per entry of prompt.system_messages"
            )
        return self
