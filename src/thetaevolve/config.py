"""One typed configuration tree (pydantic v2), loaded from YAML, overridable from the CLI.

Every section forbids unknown keys, so a typo is an error that names the field instead of
a flag that silently does nothing. ``load_config`` turns every validation problem into one
``ConfigError`` whose message lists the bad fields by their dotted path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thetaevolve.rl.settings import RLConfig


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field and what to do."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMConfig(_Section):
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
    # Offline mutator knobs.
    mutation_scale: float = Field(0.1, gt=0.0)  # relative size of a numeric perturbation
    crossover_rate: float = Field(0.2, ge=0.0, le=1.0)

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
            urls = [u.strip() for u in self.base_url.split(",") if u.strip()]
            bad = [u for u in urls if urlparse(u).scheme not in ("http", "https") or not urlparse(u).hostname]
            if not urls or bad:
                raise ValueError(
                    f"llm.base_url: {', '.join(bad) or repr(self.base_url)} is not an http(s) URL "
                    "(e.g. http://localhost:8000/v1; several replicas are separated by commas)"
                )
        return self


class GymConfig(_Section):
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


class DatabaseConfig(_Section):
    """The program database: islands, MAP-Elites cells, archive, sampling ratios."""

    num_islands: int = Field(4, ge=1)
    archive_size: int = Field(100, ge=1)
    population_size: int = Field(10_000, ge=10)  # per-island cap on stored, sampleable programs
    migration_interval: int = Field(10, ge=0)  # in generations; 0 disables migration
    migration_fraction: float = Field(0.1, ge=0.0, le=1.0)
    exploration_ratio: float = Field(0.2, ge=0.0, le=1.0)  # uniform within the island
    exploitation_ratio: float = Field(0.6, ge=0.0, le=1.0)  # from the island's archive members
    # the remaining 1 - exploration - exploitation is uniform over everything
    # Crossover donors drawn per parent for the offline mutator (prompts show
    # prompt.num_inspirations of them to a model).
    num_inspirations: int = Field(2, ge=0)
    feature_dimensions: list[str] = Field(default_factory=lambda: ["score", "code_length"])
    feature_bins: int = Field(10, ge=1)
    reinit_every: int = Field(0, ge=0)  # batches between re-initialisations; 0 disables
    reinit_keep_best: int = Field(0, ge=0)
    # ThetaEvolve's stagnation rule (docs/references.md#thetaevolve-reinit): re-initialise when the population
    # has converged, |best - second lowest| / |best| < reinit_ratio (on fitness), at least
    # reinit_min_batches after the last one; forced after reinit_max_batches (0: never).
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


class SandboxConfig(_Section):
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


class PromptConfig(_Section):
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


class RunConfig(_Section):
    """The whole tree. ``task`` is a task name from ``thetaevolve tasks``."""

    task: str = "circle_packing_26"
    seed: int = 0
    budget: int = Field(1000, ge=0)  # candidate programs to evaluate, failures included
    run_dir: str | None = None
    llm: LLMConfig = Field(default_factory=LLMConfig)
    gym: GymConfig = Field(default_factory=GymConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    rl: RLConfig = Field(default_factory=RLConfig)  # test-time RL (thetaevolve.rl.settings)


def _format_validation_error(err: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for item in err.errors():
        path = ".".join(str(p) for p in item["loc"]) or "<root>"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; see `thetaevolve run --help`)"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (so 4 is an int, [a, b] a list)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. database.num_islands=4), got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: the value {raw!r} is not valid YAML ({exc})") from exc
    return key.split("."), value


def flag_overrides(pairs: list[tuple[str, Any]]) -> list[str]:
    """``key=value`` overrides for the CLI flags that were given (None means not given).

    Strings are JSON-quoted so that YAML reads them back as strings (a model named
    ``1e-3`` or ``null`` stays a string).
    """
    return [
        f"{key}={json.dumps(value) if isinstance(value, str) else value}"
        for key, value in pairs
        if value is not None
    ]


def _apply_override(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(path)}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """Build a RunConfig from an optional YAML file, a base dict and ``k=v`` overrides.

    Precedence, lowest first: defaults, ``base``, the YAML file, the overrides.
    """
    tree: dict[str, Any] = {}
    origin = "defaults"
    for key, value in (base or {}).items():
        _apply_override(tree, key.split("."), value)
    if path is not None:
        path = preset_or_path(path)
        origin = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(
                f"cannot read config file {path}: {exc.strerror} (a file path, or one of the "
                f"presets: {', '.join(preset_names())})"
            ) from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        for key, value in _flatten(loaded):
            _apply_override(tree, key, value)
    for text in overrides or []:
        key, value = parse_override(text)
        _apply_override(tree, key, value)
        origin = f"{origin} + --set" if "--set" not in origin else origin
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, origin)) from None


PRESET_DIR = Path(__file__).parent / "configs"


def preset_names() -> list[str]:
    """The configuration presets shipped with the package (``--config NAME``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_or_path(path: str | Path) -> Path:
    """``--config`` takes a file, or the name of a shipped preset (e.g. ``qwen3-8b``);
    an existing file of that name wins."""
    candidate = Path(path)
    preset = PRESET_DIR / f"{path}.yaml"
    if not candidate.exists() and candidate.name == str(path) and preset.is_file():
        return preset
    return candidate


def _flatten(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[list[str], Any]]:
    """Leaf paths of a nested mapping, so a YAML section merges key by key over the base."""
    out: list[tuple[list[str], Any]] = []
    for key, value in tree.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value and path[0] != "rl":
            out.extend(_flatten(value, path))
        else:
            out.append((list(path), value))
    return out


def dump_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (it holds no secrets: keys live in the environment).

    Written to a side file and renamed, so a crash leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    os.replace(tmp, path)
