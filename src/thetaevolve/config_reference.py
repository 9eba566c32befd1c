"""The configuration reference: every key's meaning, unit, default and allowed range.

One source for two outputs: ``thetaevolve config [TASK]`` (commented YAML that ``--config``
accepts back unchanged) and ``docs/config.md`` (a test keeps the file equal to
``markdown_reference()``; regenerate it with ``thetaevolve config --markdown > docs/config.md``).

Defaults, types and ranges are read from the pydantic models of ``thetaevolve.config``
(``config/sections.py`` and ``config/rl.py``), so they cannot drift; only the meaning and unit are written here
(or in a field's own ``description=``, which wins). A test fails when a key has neither.
"""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from thetaevolve.config import RunConfig

# key -> (meaning, unit). Keep entries short: they are YAML comments.
MEANINGS: dict[str, tuple[str, str]] = {
    "task": ("the task to evolve (see `thetaevolve tasks`); the TASK argument of `run` wins", ""),
    "seed": ("fixes every random choice (offline mutator + 1 worker: exactly reproducible)", ""),
    "budget": ("candidate programs to evaluate in total, failures included", "candidates"),
    "run_dir": ("the run directory; null: runs/TASK-YYYYmmdd-HHMMSS", "path"),
    # llm
    "llm.kind": ("where proposals come from: offline mutator, OpenAI-compatible HTTP, in-process vLLM or Transformers", ""),
    "llm.base_url": ("OpenAI-compatible endpoint(s), comma-separated replicas (e.g. http://localhost:8000/v1)", "URL"),
    "llm.model": ("model name the endpoint serves (or a path/hub id for vllm)", ""),
    "llm.api_key_env": ("NAME of the environment variable holding the API key (the key is never stored)", ""),
    "llm.temperature": ("sampling temperature; train takes rl.temperature", ""),
    "llm.top_p": ("nucleus sampling mass", ""),
    "llm.max_tokens": ("completion length cap per response; train takes rl.max_new_tokens", "tokens"),
    "llm.timeout_s": ("hard deadline for one call, retries and backoff included", "s"),
    "llm.max_retries": ("retries of a transient failure (429, 5xx, connection, timeout, malformed)", "retries"),
    "llm.max_consecutive_failures": ("calls in a row failing with a connection error, HTTP 401/403 or 404 that stop the run (exit 1); 0: never", "calls"),
    "llm.max_concurrency": ("HTTP requests in flight at once", "requests"),
    "llm.price_per_mtok_in": ("price of prompt tokens, for the cost in the summary; null: not shown", "USD / 10^6 tokens"),
    "llm.price_per_mtok_out": ("price of completion tokens; null: not shown", "USD / 10^6 tokens"),
    "llm.edit_search_scope": ("where edit blocks are looked for: whole response, or after </think>", ""),
    "llm.edit_mode": ("diff: SEARCH/REPLACE edits; rewrite: the model returns a whole program", ""),
    "llm.retry_backoff_s": ("wait before the first retry; doubles per retry (jittered)", "s"),
    "llm.retry_backoff_max_s": ("cap on one backoff wait", "s"),
    "llm.extra_body": ("engine-specific request fields sent with every call", "mapping"),
    "llm.vllm_options": ("keyword arguments for vllm.LLM(...) (llm.kind=vllm)", "mapping"),
    "llm.device": ("llm.kind=transformers: where the model runs; auto: cuda when torch sees one, else cpu", ""),
    "llm.dtype": ("llm.kind=transformers: weight dtype; auto picks per device", ""),
    "llm.max_batch_sequences": ("llm.kind=transformers: most sequences (prompts x samples) in one generate call", "sequences"),
    "llm.offline.mutation_scale": ("offline mutator: relative size of a numeric perturbation", "fraction"),
    "llm.offline.crossover_rate": ("offline mutator: share of proposals that cross over with a donor", "fraction"),
    "llm.offline.crossover_donors": ("offline mutator: programs drawn per parent as crossover donors (not prompt.num_inspirations, which a prompt shows)", "programs"),
    # gym
    "gym.batch_size": ("parents per batch, all drawn from one database state; train takes rl.batch_size", "prompts"),
    "gym.samples_per_prompt": ("responses per prompt (n); train takes rl.samples_per_prompt", "responses"),
    "gym.lazy_penalty_level": ("0 off; 1 penalise a child equal to its parent; 2 also one equal to any stored program", ""),
    "gym.max_code_length": ("longest child program accepted", "characters"),
    "gym.reward": ("reward shaping: raw score, task-normalised, improvement over the parent, or random (control)", ""),
    "gym.penalty_no_diff": ("reward of a response without an edit block", "reward"),
    "gym.penalty_no_change": ("reward of a lazy child (equal to parent or stored program)", "reward"),
    "gym.penalty_execution": ("reward of a child that crashed, timed out or gave no output", "reward"),
    "gym.penalty_invalid": ("reward of a child whose solution the verifier rejected", "reward"),
    "gym.penalty_llm_error": ("reward of a failed model call", "reward"),
    "gym.shaping_range_min": ("rl_normalized: score mapped to reward 0; null: the task's", "score"),
    "gym.shaping_range_max": ("rl_normalized: score mapped to reward 1; null: the task's", "score"),
    "gym.shaping_alpha": ("rl_normalized: exponent on the normalised score; null: the task's", ""),
    "gym.shaping_multiplier": ("rl_normalized: factor on the shaped reward; null: the task's", ""),
    # database
    "database.num_islands": ("independent sub-populations", "islands"),
    "database.archive_size": ("elite archive size per island", "programs"),
    "database.population_size": ("per-island cap on stored, sampleable programs", "programs"),
    "database.migration_interval": ("generations between migrations of the best to the next island; 0: off", "generations"),
    "database.migration_fraction": ("share of an island's elites that migrate", "fraction"),
    "database.exploration_ratio": ("parents drawn uniformly within the island", "fraction"),
    "database.exploitation_ratio": ("parents drawn from the island's archive; the rest uniformly over all", "fraction"),
    "database.feature_dimensions": ("MAP-Elites cell coordinates: metric names (score, code_length, ...)", ""),
    "database.feature_bins": ("bins per feature dimension", "bins"),
    "database.reinit_every": ("store commits (one per gym batch) between periodic re-initialisations; 0: off", "commits"),
    "database.reinit_keep_best": ("programs kept by a re-initialisation", "programs"),
    "database.reinit_ratio": ("stagnation rule: re-initialise when |best - 2nd lowest| / |best| is below this; 0: off", ""),
    "database.reinit_min_batches": ("stagnation rule: store commits at least between re-initialisations", "commits"),
    "database.reinit_max_batches": ("stagnation rule: forced re-initialisation after this many store commits; 0: never", "commits"),
    "database.record_cache_size": ("stored records kept in memory (parents are read again and again)", "records"),
    "database.sampler": ("parent selection: islands (ThetaEvolve's database), puct (TTT-Discover's reuse), initial (best-of-N from the initial program)", ""),
    "database.puct_c": ("PUCT's exploration constant c", ""),
    # sandbox
    "sandbox.workers": ("candidate programs run at once (default: the number of CPU cores)", "processes"),
    "sandbox.timeout_s": ("deadline for one candidate; null: the task's own", "s"),
    "sandbox.memory_mb": ("address-space limit of one candidate", "MiB"),
    "sandbox.max_output_bytes": ("cap on a candidate's stdout and on its stderr, each", "bytes"),
    "sandbox.max_solution_bytes": ("cap on the solution data a candidate hands back", "bytes"),
    "sandbox.max_file_bytes": ("cap on one file a candidate writes", "bytes"),
    "sandbox.max_processes": ("processes a candidate may start", "processes"),
    "sandbox.max_open_files": ("open files of a candidate", "files"),
    "sandbox.threads": ("BLAS/OpenMP threads inside a candidate", "threads"),
    "sandbox.use_bwrap": ("bubblewrap isolation: auto (when it works), always (refuse without), never", ""),
    "sandbox.warm_pool": ("keep pre-imported worker processes that fork each candidate", ""),
    "sandbox.uid_base": ("run as root: first uid given to candidates", "uid"),
    "sandbox.uid_count": ("run as root: how many uids candidates may use", "uids"),
    "sandbox.backend": ("where candidates run: this machine's warm pool, or one on every node of a Ray cluster (docs/scale-out.md)", ""),
    "sandbox.ray_address": ("Ray cluster to join: auto (`ray start` here), local (private, in-process), HOST:PORT or ray://HOST:PORT", ""),
    # prompt
    "prompt.num_top_programs": ("best programs shown in each prompt", "programs"),
    "prompt.num_inspirations": ("other programs shown in each prompt", "programs"),
    "prompt.include_parent_errors": ("show the parent's errors (tail of its output) in the prompt", ""),
    "prompt.include_history": ("show the parent's ancestors in the prompt", ""),
    "prompt.template_dir": ("folder whose *.txt files override the built-in templates; null: built-in", "path"),
    "prompt.system_messages": ("system messages to draw from; empty: the built-in one", "list"),
    "prompt.system_message_weights": ("one weight per system message; empty: equal", "list"),
    # rl (thetaevolve train; see docs/rl.md)
    "rl.model": ("model to train: local path, Hugging Face id, or random:tiny|small|0.5b (no download)", ""),
    "rl.steps": ("optimizer steps in total, one gym batch each", "steps"),
    "rl.batch_size": ("prompts (parents) per step; also the gym's batch size in train", "prompts"),
    "rl.samples_per_prompt": ("GRPO group size n; also the gym's samples per prompt in train", "responses"),
    "rl.micro_batch_size": ("sequences per forward/backward on one device", "sequences"),
    "rl.temperature": ("sampling temperature while training (also llm.temperature in train)", ""),
    "rl.top_p": ("nucleus sampling mass while training", ""),
    "rl.max_new_tokens": ("completion length cap (also llm.max_tokens in train)", "tokens"),
    "rl.generation": ("who generates: the trainer's model, vLLM on the same GPU, or a `trl vllm-serve` server", ""),
    "rl.vllm_server_url": ("address of `trl vllm-serve` (generation=vllm_server)", "URL"),
    "rl.vllm_gpu_memory_utilization": ("GPU memory share for colocated vLLM", "fraction"),
    "rl.importance_sampling": ("truncated importance sampling for vLLM/trainer mismatch (--use-tis)", ""),
    "rl.importance_sampling_mode": ("per token or per sequence, truncate or mask", ""),
    "rl.importance_sampling_clip": ("cap on the importance ratio", ""),
    "rl.epsilon_low": ("PPO clip below 1", ""),
    "rl.epsilon_high": ("PPO clip above 1", ""),
    "rl.kl_coef": ("KL coefficient (beta); 0: no reference model", ""),
    "rl.entropy_coef": ("entropy bonus (a control; 0 in the paper)", ""),
    "rl.loss_type": ("loss aggregation over tokens and sequences", ""),
    "rl.scale_rewards": ("advantage normalisation: per group, per batch, or none", ""),
    "rl.learning_rate": ("Adam learning rate", ""),
    "rl.lr_schedule": ("learning-rate schedule", ""),
    "rl.weight_decay": ("decoupled weight decay", ""),
    "rl.adam_beta1": ("Adam beta1", ""),
    "rl.adam_beta2": ("Adam beta2", ""),
    "rl.adam_epsilon": ("Adam epsilon", ""),
    "rl.max_grad_norm": ("gradient clipping norm", ""),
    "rl.precision": ("auto: bf16 autocast where supported, fp32 on the CPU", ""),
    "rl.gradient_checkpointing": ("recompute activations to save memory", ""),
    "rl.checkpoint_every": ("steps between checkpoints; 0: only at the end", "steps"),
    "rl.keep_checkpoints": ("checkpoints kept; null: all", "checkpoints"),
    "rl.log_every": ("steps between training-metric lines", "steps"),
    "rl.advantage": ("advantage estimator: ThetaEvolve's GRPO, or TTT-Discover's entropic objective with a fixed or an adaptive beta (docs/rl.md)", ""),
    "rl.entropic_beta": ("the entropic objective's fixed beta", "1 / reward units"),
    "rl.update": ("false: no weight update (the inference-only baseline through the same pipeline)", ""),
    "rl.tasks": ("multi-task training: the tasks trained together (train --tasks A,B)", ""),
    "rl.task_weights": ("multi-task training: each task's share of the prompts (empty: equal)", ""),
    "rl.task_reward_normalization": ("multi-task training: rewards z-scored per task, or left as they are", ""),
}

# Defaults that depend on the machine are described, not printed, in the reference.
_MACHINE_DEFAULTS = {"sandbox.workers": "number of CPU cores"}


def _sections(model: type[BaseModel], prefix: str = "") -> list[tuple[str, FieldInfo, bool]]:
    """(dotted key, field, is_section) in declaration order."""
    out: list[tuple[str, FieldInfo, bool]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.append((key, info, True))
            out.extend(_sections(annotation, key + "."))
        else:
            out.append((key, info, False))
    return out


def leaf_keys() -> list[str]:
    return [key for key, _, section in _sections(RunConfig) if not section]


def meaning(key: str, info: FieldInfo) -> tuple[str, str]:
    if info.description:
        return info.description, ""
    return MEANINGS.get(key, ("", ""))


def allowed(info: FieldInfo) -> str:
    """The allowed values: a Literal's choices, or the numeric bounds."""
    annotation = info.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    if args and all(typing.get_origin(a) is typing.Literal for a in args):
        return "one of " + ", ".join(str(v) for a in args for v in typing.get_args(a))
    bounds = []
    for item in info.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None and isinstance(item, (annotated_types.Ge, annotated_types.Gt,
                                                       annotated_types.Le, annotated_types.Lt)):
                bounds.append(f"{symbol} {value}")
    kind = _type_name(annotation)
    text = f"{kind} {' and '.join(bounds)}" if bounds else kind
    if type(None) in typing.get_args(annotation):
        text += " or null"
    return text


def _type_name(annotation: Any) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if len(args) == 1 and typing.get_origin(annotation) is not list else annotation
    origin = typing.get_origin(base)
    if origin is list:
        return "list"
    if origin is dict:
        return "mapping"
    return getattr(base, "__name__", str(base))


def _default_text(key: str, info: FieldInfo) -> str:
    if key in _MACHINE_DEFAULTS:
        return _MACHINE_DEFAULTS[key]
    value = info.get_default(call_default_factory=True)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _comment(key: str, info: FieldInfo) -> str:
    text, unit = meaning(key, info)
    parts = [text or "(undocumented)"]
    if unit:
        parts.append(f"unit: {unit}")
    parts.append(f"default: {_default_text(key, info)}")
    parts.append(f"allowed: {allowed(info)}")
    return "; ".join(parts)


def commented_yaml(task: str | None = None) -> str:
    """The full resolved default configuration, each key with a comment above it."""
    config = RunConfig() if task is None else RunConfig(task=task)
    values = config.model_dump(mode="json")
    lines = [
        "# ThetaEvolve configuration: every setting with its default.",
        "# Use it with `thetaevolve run TASK --config FILE`; delete what you do not change.",
    ]
    for key, info, section in _sections(RunConfig):
        depth = key.count(".")
        indent = "  " * depth
        name = key.rsplit(".", 1)[-1]
        if section:
            doc = (info.annotation.__doc__ or "").strip().split("\n")[0]
            lines.append("")
            lines.append(f"{indent}# {doc}" if doc else f"{indent}#")
            lines.append(f"{indent}{name}:")
            continue
        value: Any = values
        for part in key.split("."):
            value = value[part]
        dumped = yaml.safe_dump({name: value}, default_flow_style=True, sort_keys=False, width=10_000)
        lines.append(f"{indent}# {_comment(key, info)}")
        lines.append(f"{indent}{dumped.strip().removeprefix('{').removesuffix('}')}")
    return "\n".join(lines) + "\n"


def markdown_reference() -> str:
    """docs/config.md: one table per section."""
    out = [
        "# Configuration reference",
        "",
        "Generated by `thetaevolve config --markdown` from the configuration models; do not edit",
        "by hand (a test checks that this file is current). `thetaevolve config [TASK]` prints the",
        "same settings as commented YAML that `--config` accepts. Give a setting with",
        "`--set KEY=VALUE` (the value is read as YAML), in a `--config` file, or with a flag of",
        "`thetaevolve run` (flags > `--set` > `--config` > defaults). `thetaevolve resume --set`",
        "accepts only the settings that may change mid-run: the budget, the LLM endpoint and",
        "timeouts.",
    ]
    current = None
    for key, info, section in _sections(RunConfig):
        if section:
            continue
        head = key.split(".")[0] if "." in key else ""
        if head != current:
            current = head
            title = f"`{head}`" if head else "top level"
            doc = ""
            if head:
                annotation = RunConfig.model_fields[head].annotation
                doc = (getattr(annotation, "__doc__", "") or "").strip().split("\n")[0]
            out += ["", f"## {title}", ""]
            if doc:
                out += [doc, ""]
            out += ["| key | meaning | unit | default | allowed |", "|---|---|---|---|---|"]
        text, unit = meaning(key, info)
        cells = [f"`{key}`", text or "(undocumented)", unit, f"`{_default_text(key, info)}`",
                 allowed(info)]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"
