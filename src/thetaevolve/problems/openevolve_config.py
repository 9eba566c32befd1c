"""An OpenEvolve ``config.yaml``: the settings ThetaEvolve uses, checked, with OpenEvolve's
defaults (``openevolve/config.py``), and the list of those it does not use.

OpenEvolve loads its config non-strictly (unknown keys are ignored silently); here every key
present but unused is named once in a warning, with ThetaEvolve's counterpart where there is
one, and a key we use with a wrong type is one error naming the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from thetaevolve.errors import UserError

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)
DEFAULT_ARTIFACT_BYTES = 20 * 1024
DEFAULT_FEATURES = ("complexity", "diversity")  # MAP-Elites dimensions, left out of fitness
# Settings of an OpenEvolve config.yaml that mean something here; every other key present
# is reported once as unused (OpenEvolve itself ignores unknown keys silently).
USED_KEYS = frozenset({
    "max_iterations",
    "prompt.system_message",
    "prompt.include_artifacts",
    "prompt.max_artifact_bytes",
    "evaluator.timeout",
    "evaluator.cascade_evaluation",
    "evaluator.cascade_thresholds",
    "evaluator.enable_artifacts",
    "database.feature_dimensions",
    "file_suffix",
})
# Where an unused OpenEvolve setting has a ThetaEvolve counterpart, the warning names it.
COUNTERPARTS = {
    "random_seed": "seed",
    "diff_based_evolution": "llm.edit_mode (diff or rewrite)",
    "max_code_length": "gym.max_code_length",
    "llm.api_base": "--base-url",
    "llm.models": "--model",
    "llm.primary_model": "--model",
    "llm.temperature": "llm.temperature",
    "llm.max_tokens": "llm.max_tokens",
    "database.num_islands": "database.num_islands",
    "prompt.num_top_programs": "prompt.num_top_programs",
    "evaluator.parallel_evaluations": "sandbox.workers",
}


def _flat_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names one section deep (``llm.models``), as the warning lists them."""
    keys = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and prefix == "":
            keys += _flat_keys(value, name + ".")
        else:
            keys.append(name)
    return keys


def read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the OpenEvolve config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({exc}); fix it or pass another file "
                        "with --openevolve-config") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(f"{path} must hold a mapping of settings at the top level")
    return loaded


class _Settings:
    """The config keys we use, type-checked, with OpenEvolve's defaults."""

    def __init__(self, tree: dict[str, Any], path: Path | None) -> None:
        self.tree = tree
        self.path = path

    def get(self, dotted: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        node: Any = self.tree
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        if node is None:
            return default
        if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
            raise UserError(
                f"{self.path}: {dotted} must be {what}, got {node!r}; fix it in the config "
                "(or pass another one with --openevolve-config)"
            )
        return node



@dataclass(frozen=True)
class OpenEvolveSettings:
    """What a config says, as ThetaEvolve uses it (see the module docstring)."""

    statement: str
    budget: int | None
    stage_timeout_s: float
    cascade: bool
    thresholds: tuple[float, ...]
    artifact_bytes: int  # 0: artifacts switched off
    feedback_cap_bytes: int
    suffix: str
    feature_dimensions: tuple[str, ...]
    warnings: tuple[str, ...]


def read_settings(config_path: Path | None, initial_suffix: str) -> OpenEvolveSettings:
    """The settings of ``config_path`` (None: OpenEvolve's defaults)."""
    tree = read_config(config_path) if config_path is not None else {}
    settings = _Settings(tree, config_path)
    number = (int, float)
    warnings: list[str] = []
    statement = settings.get("prompt.system_message", "", (str,), "a text")
    if statement and " " not in statement.strip():
        warnings.append(
            f"{config_path}: prompt.system_message {statement!r} names an OpenEvolve template, "
            "which ThetaEvolve does not have; the statement is a generic one"
        )
        statement = ""
    budget = settings.get("max_iterations", None, (int,), "a whole number")
    if budget is not None and budget < 0:
        raise UserError(f"{config_path}: max_iterations must be >= 0, got {budget}")
    stage_timeout = float(settings.get("evaluator.timeout", DEFAULT_TIMEOUT_S, number,
                                       "a number of seconds"))
    if stage_timeout <= 0:
        raise UserError(f"{config_path}: evaluator.timeout must be positive, got {stage_timeout}")
    cascade = settings.get("evaluator.cascade_evaluation", True, (bool,), "true or false")
    thresholds = settings.get("evaluator.cascade_thresholds", list(DEFAULT_THRESHOLDS),
                              (list,), "a list of numbers")
    if not all(isinstance(t, number) and not isinstance(t, bool) for t in thresholds):
        raise UserError(f"{config_path}: evaluator.cascade_thresholds must be a list of "
                        f"numbers, got {thresholds!r}")
    include = settings.get("prompt.include_artifacts", True, (bool,), "true or false")
    enabled = settings.get("evaluator.enable_artifacts", True, (bool,), "true or false")
    if os.environ.get("ENABLE_ARTIFACTS", "true").strip().lower() in ("false", "0", "no"):
        enabled = False
    artifact_bytes = settings.get("prompt.max_artifact_bytes", DEFAULT_ARTIFACT_BYTES, (int,),
                                  "a whole number of bytes")
    suffix = settings.get("file_suffix", initial_suffix or ".py", (str,), "a suffix like .py")
    if not suffix.startswith(".") or "/" in suffix:
        raise UserError(f"{config_path}: file_suffix must look like .py, got {suffix!r}")
    features = settings.get("database.feature_dimensions", list(DEFAULT_FEATURES), (list,),
                            "a list of names")
    unused = sorted(k for k in _flat_keys(tree) if k not in USED_KEYS)
    if unused:
        hints = [f"{key} -> {COUNTERPARTS[key]}" for key in unused if key in COUNTERPARTS]
        warnings.append(
            f"{config_path}: OpenEvolve settings not used by ThetaEvolve: {', '.join(unused)} "
            "(LLM, database and run settings come from ThetaEvolve's own configuration, "
            "--config/--set" + (f"; counterparts: {', '.join(hints)}" if hints else "") + ")"
        )
    return OpenEvolveSettings(
        statement=statement,
        budget=budget,
        stage_timeout_s=stage_timeout,
        cascade=bool(cascade),
        thresholds=tuple(float(t) for t in thresholds),
        artifact_bytes=int(artifact_bytes) if include and enabled else 0,
        feedback_cap_bytes=max(1, int(artifact_bytes)),
        suffix=suffix,
        feature_dimensions=tuple(str(f) for f in features),
        warnings=tuple(warnings),
    )
