"""One typed configuration tree (pydantic v2), loaded from YAML, overridable from the CLI.

Every section forbids unknown keys, so a typo is an error that names the field instead of
a flag that silently does nothing, and every section is frozen. ``load_config`` turns
every validation problem into one ``ConfigError`` whose message lists the bad fields by
their dotted path. The meaning of each key is in ``thetaevolve.config_reference`` and
docs/config.md.

- ``sections``: one model per section (llm with llm.offline, gym, database, sandbox, prompt);
- ``rl``: the ``rl`` section (``thetaevolve train``); it imports no torch and nothing of
  ``thetaevolve.rl``, which reads its settings from here;
- ``tree``: ``RunConfig``, the whole tree, and ``for_training``, the rule by which ``train``
  shares rl's batch shape and sampling with the gym and the proposer;
- ``loading``: YAML files, shipped presets, ``--set`` overrides, ``dump_config``.
"""

from __future__ import annotations

from thetaevolve.config.error import ConfigError
from thetaevolve.config.loading import (
    MOVED_KEYS,
    PRESET_DIR,
    dump_config,
    flag_overrides,
    load_config,
    load_run_config,
    merge_into,
    parse_override,
    preset_names,
    preset_or_path,
)
from thetaevolve.config.rl import RANDOM_MODEL_SIZES, RANDOM_PREFIX, RLConfig
from thetaevolve.config.sections import (
    DatabaseConfig,
    GymConfig,
    LLMConfig,
    OfflineConfig,
    PromptConfig,
    SandboxConfig,
    Section,
)
from thetaevolve.config.tree import TRAINING_SHARED, RunConfig

__all__ = [
    "MOVED_KEYS",
    "PRESET_DIR",
    "RANDOM_MODEL_SIZES",
    "RANDOM_PREFIX",
    "TRAINING_SHARED",
    "ConfigError",
    "DatabaseConfig",
    "GymConfig",
    "LLMConfig",
    "OfflineConfig",
    "PromptConfig",
    "RLConfig",
    "RunConfig",
    "SandboxConfig",
    "Section",
    "dump_config",
    "flag_overrides",
    "load_config",
    "load_run_config",
    "merge_into",
    "parse_override",
    "preset_names",
    "preset_or_path",
]
