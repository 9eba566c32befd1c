"""Building the prompt for one parent (ThetaEvolve's prompt, docs/references.md#thetaevolve-prompt).

ThetaEvolve's released prompt holds the problem statement and the parent program with one
metrics line, plus the SEARCH/REPLACE rules. Everything else here is optional and off by
default (``PromptConfig``): top programs, inspirations, the parent's error output and
the evolution history (the parent's ancestors, when the builder is given a lineage).

Templates are the ``*.txt`` files shipped in ``thetaevolve/prompts/``; a user's
``prompt.template_dir`` may override any of them by file name. Placeholders are
``{name}``; only known names are replaced and the inserted text is never scanned again,
so braces in program code and in dict-valued task variables survive verbatim (as in
ThetaEvolve, where an unknown ``{KNOWN_BOUNDS}`` is left as it is).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

from thetaevolve.config import PromptConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.edits import evolve_regions
from thetaevolve.proposers.base import Prompt
from thetaevolve.tasks.base import Task
from thetaevolve.types import FEEDBACK_METRIC, Outcome

TEMPLATE_NAMES = (
    "system",
    "user",
    "program",
    "other_programs",
    "history",
    "errors",
    "feedback",
    "diff_instructions",
    "rewrite_instructions",
)
MAX_ERROR_CHARS = 4000  # the tail of the parent's output is where the traceback is
MAX_HISTORY = 8
MAX_FEEDBACK_CHARS = 4000

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_SECRET = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")

Lineage = Callable[[int], Sequence[ProgramRecord]]


class PromptTemplateError(ValueError):
    """A template folder or template file is unusable; the message names it."""


def fill(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` and ``{dict.key}`` placeholders whose value is known.

    Dict values are reached with dotted names; a dict used without a key, or an unknown
    name, is left verbatim. One pass: inserted text is not scanned again.
    """

    def lookup(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        value: object = values
        for part in parts:
            if not isinstance(value, Mapping) or part not in value:
                return match.group(0)
            value = value[part]
        if isinstance(value, Mapping):
            return match.group(0)
        return str(value)

    return _PLACEHOLDER.sub(lookup, template)


def fill_sections(template: str, values: Mapping[str, object]) -> str:
    """``fill`` for a page of sections: a line that holds only a placeholder whose value
    is empty disappears, and runs of blank lines in the template (not in the inserted
    text, which may be code) shrink to one."""
    kept = []
    for line in template.split("\n"):
        only = _PLACEHOLDER.fullmatch(line.strip())
        if only and only.group(1) in values and not str(values[only.group(1)]).strip():
            continue
        kept.append(line)
    skeleton = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return fill(skeleton, values) + "\n"


def load_templates(template_dir: str | Path | None = None) -> dict[str, str]:
    """The built-in templates, overridden by the ``*.txt`` files of ``template_dir``."""
    package = resources.files("thetaevolve").joinpath("prompts")
    templates = {name: package.joinpath(f"{name}.txt").read_text("utf-8") for name in TEMPLATE_NAMES}
    if template_dir is None:
        return templates
    folder = Path(template_dir).expanduser()
    if not folder.is_dir():
        raise PromptTemplateError(f"prompt.template_dir {str(folder)!r} is not a directory")
    for path in sorted(folder.glob("*.txt")):
        if path.stem not in templates:
            raise PromptTemplateError(
                f"prompt.template_dir: unknown template {path.name!r}; "
                f"known names: {', '.join(n + '.txt' for n in TEMPLATE_NAMES)}"
            )
        try:
            templates[path.stem] = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PromptTemplateError(f"prompt.template_dir: cannot read {path}: {exc}") from exc
    return templates


def format_value(value: object) -> str:
    """Numbers with six significant digits (ThetaEvolve printed three decimals, which
    hides the differences that matter near a record)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def metrics_line(record: ProgramRecord) -> str:
    """``name: value`` pairs joined by ``; ``: outcome (if failed), score, scalar metrics."""
    parts: list[str] = []
    if record.outcome is not Outcome.OK:
        parts.append(f"outcome: {record.outcome.value}")
    if record.score is not None:
        parts.append(f"score: {format_value(record.score)}")
    for name, value in record.metrics.items():
        if name in ("score", FEEDBACK_METRIC) or isinstance(value, (dict, list, tuple)):
            continue
        parts.append(f"{name}: {format_value(value)}")
    return "; ".join(parts) if parts else "no metrics"


def clean_output(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Program output fit for a prompt: no ANSI codes, no API keys, the last ``limit``
    characters (where a traceback ends)."""
    text = _SECRET.sub("sk-<redacted>", _ANSI.sub("", text)).strip()
    if len(text) > limit:
        text = "[... earlier output cut ...]\n" + text[-limit:]
    return text


def _without_marker_rules(instructions: str) -> str:
    """The edit instructions without their EVOLVE-BLOCK rule, for a program without markers."""
    return "\n".join(line for line in instructions.split("\n") if "EVOLVE-BLOCK" not in line)


class PromptBuilder:
    """Turns a ``ParentSample`` into a ``Prompt`` (system + user message)."""

    def __init__(
        self,
        task: Task,
        config: PromptConfig | None = None,
        *,
        edit_mode: str = "diff",
        lineage: Lineage | None = None,
    ) -> None:
        if edit_mode not in ("diff", "rewrite"):
            raise ValueError(f"edit_mode must be 'diff' or 'rewrite', got {edit_mode!r}")
        self.task = task
        self.config = config or PromptConfig()
        self.edit_mode = edit_mode
        self.lineage = lineage
        self.templates = load_templates(self.config.template_dir)
        self.variables: dict[str, object] = dict(task.template_variables())
        self.statement = fill(task.statement, self.variables)
        messages = list(self.config.system_messages) or [self.templates["system"]]
        self.system_messages = [fill(m, self.variables).strip() for m in messages]
        weights = list(self.config.system_message_weights) or [1.0] * len(messages)
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            raise ValueError(
                "prompt.system_message_weights must be finite, non-negative and not all zero"
            )
        self.weights = weights

    def build(self, sample: ParentSample, rng: random.Random) -> Prompt:
        system = self.system_messages[0]
        if len(self.system_messages) > 1:
            system = rng.choices(self.system_messages, weights=self.weights, k=1)[0]
        user = self.user_message(sample)
        messages = ({"role": "system", "content": system}, {"role": "user", "content": user})
        return Prompt(messages=messages, sample=sample)

    # ---- sections ---------------------------------------------------------------------

    def user_message(self, sample: ParentSample) -> str:
        slots: dict[str, object] = dict(self.variables)
        slots.update(
            task_statement=self.statement.strip(),
            evolution_history=self._history(sample),
            current_program=self._program(sample.parent, "Current Program"),
            parent_errors=self._errors(sample.parent),
            parent_feedback=self._feedback(sample.parent),
            edit_instructions=fill(
                self.templates[f"{self.edit_mode}_instructions"], self.variables
            ).strip(),
        )
        if evolve_regions(sample.parent.code.split("\n")) is None:
            # No markers (an OpenEvolve seed may have none): the whole program is open.
            slots["edit_instructions"] = _without_marker_rules(str(slots["edit_instructions"]))
        return fill_sections(self.templates["user"], slots)

    def _program(self, record: ProgramRecord, title: str) -> str:
        return fill(
            self.templates["program"],
            {"title": title, "metrics": metrics_line(record), "code": record.code.rstrip("\n")},
        ).rstrip("\n")

    def _others(self, title: str, records: Sequence[ProgramRecord], label: str) -> str:
        if not records:
            return ""
        shown = "\n\n".join(
            self._program(r, f"{label} {i}") for i, r in enumerate(records, start=1)
        )
        return fill(self.templates["other_programs"], {"title": title, "programs": shown}).strip()

    def _history(self, sample: ParentSample) -> str:
        parts = [
            self._others(
                "Top programs", sample.top_programs[: self.config.num_top_programs], "Top program"
            ),
            self._others(
                "Inspiration programs",
                sample.inspirations[: self.config.num_inspirations],
                "Inspiration",
            ),
        ]
        if self.config.include_history and self.lineage is not None:
            ancestors = sorted(
                (r for r in self.lineage(sample.parent.id) if r.id != sample.parent.id),
                key=lambda r: r.generation,
            )
            if ancestors:
                lines = [
                    f"- generation {r.generation}: {metrics_line(r)}"
                    for r in ancestors[-MAX_HISTORY:]
                ]
                parts.append(fill(self.templates["history"], {"history": "\n".join(lines)}).strip())
        return "\n\n".join(p for p in parts if p)

    def _feedback(self, record: ProgramRecord) -> str:
        text = record.metrics.get(FEEDBACK_METRIC)
        if not isinstance(text, str) or not text.strip():
            return ""
        shown = clean_output(text, MAX_FEEDBACK_CHARS)
        return fill(self.templates["feedback"], {"feedback": shown}).strip()

    def _errors(self, record: ProgramRecord) -> str:
        if not self.config.include_parent_errors or not record.detail.strip():
            return ""
        return fill(self.templates["errors"], {"errors": clean_output(record.detail)}).strip()
