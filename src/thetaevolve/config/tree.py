"""``RunConfig``: the whole tree, and the rule by which ``train`` reads it.

``run`` and ``train`` share one tree. The trainer's batch shape and sampling live in
``rl`` (their published defaults differ from ``run``'s: 32 prompts x 16 samples), and in
``train`` the gym and the proposer use those same values. ``for_training`` makes that
explicit: it copies rl's values into the gym and llm sections and refuses a value set
there that says otherwise, so that no setting is silently ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from thetaevolve.config.error import ConfigError
from thetaevolve.config.rl import RLConfig
from thetaevolve.config.sections import (
    DatabaseConfig,
    GymConfig,
    LLMConfig,
    PromptConfig,
    SandboxConfig,
    Section,
)

# The settings that ``train`` takes from rl: (section, its field, the rl field).
TRAINING_SHARED: tuple[tuple[str, str, str], ...] = (
    ("gym", "batch_size", "batch_size"),
    ("gym", "samples_per_prompt", "samples_per_prompt"),
    ("llm", "temperature", "temperature"),
    ("llm", "max_tokens", "max_new_tokens"),
)


class RunConfig(Section):
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
    rl: RLConfig = Field(default_factory=RLConfig)  # test-time RL (thetaevolve train)

    def for_training(self) -> RunConfig:
        """This config as ``train`` runs it: the gym's batch shape and the proposer's
        temperature and token limit are rl's (see ``TRAINING_SHARED``).

        A value given for the gym or llm side (in a file or ``--set``) must equal rl's;
        otherwise this raises a ``ConfigError`` naming both fields, since ``train`` would
        ignore it. Values left at their defaults simply follow rl.
        """
        conflicts: list[str] = []
        updates: dict[str, dict[str, Any]] = {}
        for section_name, field, rl_field in TRAINING_SHARED:
            section: Section = getattr(self, section_name)
            given, wanted = getattr(section, field), getattr(self.rl, rl_field)
            if field in section.model_fields_set and given != wanted:
                conflicts.append(
                    f"{section_name}.{field}={given} differs from rl.{rl_field}={wanted}"
                )
            updates.setdefault(section_name, {})[field] = wanted
        if conflicts:
            raise ConfigError(
                "train takes the batch shape, temperature and token limit from the rl "
                f"section: {'; '.join(conflicts)}. Set the rl key instead, or both to the same "
                "value (train's --batch-size, --samples-per-prompt and --max-new-tokens set "
                "both)."
            )
        return self.model_copy(update={
            name: getattr(self, name).model_copy(update=fields)
            for name, fields in updates.items()
        })
