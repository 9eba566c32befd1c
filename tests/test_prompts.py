"""The prompt builder: sections, variables, weighted system messages, template overrides."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from thetaevolve.config import PromptConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.edits import apply_response
from thetaevolve.prompts import (
    TEMPLATE_NAMES,
    PromptBuilder,
    PromptTemplateError,
    clean_output,
    fill,
    load_templates,
    metrics_line,
)
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Solution, Verdict

CODE = '# EVOLVE-BLOCK-START\ndef solve():\n    return {"circles": []}\n# EVOLVE-BLOCK-END\n'


class ToyTask(Task):
    name = "toy"
    direction = "max"
    statement = "Pack {n_circles} circles in a unit square; bounds: {bounds} {bounds.best}."
    solution_format = "{circles: [[x, y, r]]}"

    def template_variables(self) -> dict[str, object]:
        return {"n_circles": 26, "bounds": {"best": 2.635}}

    @property
    def initial_program(self) -> str:
        return CODE

    def judge(self, solution: Solution, tol: float) -> Verdict:
        return Verdict(valid=True, score=0.0)


def record(id: int = 1, code: str = CODE, score: float | None = 1.23456789, **kw: object) -> ProgramRecord:
    fields: dict[str, object] = dict(
        id=id, parent_id=None, island=0, generation=0, iteration=0, code=code, code_hash="h",
        outcome=Outcome.OK, score=score, fitness=score, reward=0.0,
        metrics={"validity": 1.0, "runtime_s": 0.5, "nested": {"a": 1}}, prompt="", response="",
        detail="", created_at=0.0,
    )
    fields.update(kw)
    return ProgramRecord(**fields)  # type: ignore[arg-type]


def test_default_prompt_has_statement_program_metrics_and_rules() -> None:
    prompt = PromptBuilder(ToyTask(), PromptConfig()).build(ParentSample(record()), random.Random(0))
    system, user = prompt.messages
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert "Pack 26 circles" in text
    assert "{bounds}" in text and "2.635" in text  # a dict without a key stays verbatim
    assert "score: 1.23457; validity: 1; runtime_s: 0.5" in text
    assert "nested" not in text
    assert '```python\n# EVOLVE-BLOCK-START\ndef solve():\n    return {"circles": []}' in text
    assert "<<<<<<< SEARCH" in text and ">>>>>>> REPLACE" in text
    assert "Top programs" not in text and "Evolution history" not in text
    assert prompt.sample.parent.id == 1


def test_the_rules_example_is_itself_a_valid_block() -> None:
    # The example in the instructions must parse as an edit, or models learn a bad format.
    text = load_templates()["diff_instructions"]
    code = "def f(x):\n    for step in range(iterations):\n        x = x - 0.1 * grad(x)\n"
    example = text[text.index("Example") :]
    result = apply_response(code, example)
    assert result.outcome is None and "lr = 0.1" in result.code


def test_parent_errors_are_included_cleaned_and_can_be_switched_off() -> None:
    detail = "\x1b[31mTraceback\x1b[0m\nKeyError: sk-abcdefghijklmnopqrstuvwxyz\n"
    sample = ParentSample(record(detail=detail))
    text = PromptBuilder(ToyTask(), PromptConfig()).build(sample, random.Random(0)).messages[1]["content"]
    assert "Traceback\nKeyError: sk-<redacted>" in text and "\x1b" not in text
    off = PromptBuilder(ToyTask(), PromptConfig(include_parent_errors=False))
    assert "Traceback" not in off.build(sample, random.Random(0)).messages[1]["content"]


def test_clean_output_keeps_the_tail() -> None:
    out = clean_output("x" * 10 + "END", limit=5)
    assert out.endswith("x xEND".replace(" ", "")[-5:]) and "cut" in out


def test_top_programs_inspirations_and_history() -> None:
    top = (record(2, code="TOP_CODE", score=9.0), record(3, code="TOP_TWO", score=8.0))
    insp = (record(4, code="INSPIRED", score=0.5),)
    ancestors = [record(7, generation=2, score=1.1), record(5, generation=0, score=0.3)]
    parent = record(9, generation=3)
    config = PromptConfig(num_top_programs=1, num_inspirations=1, include_history=True)
    builder = PromptBuilder(ToyTask(), config, lineage=lambda pid: ancestors + [parent])
    text = builder.build(ParentSample(parent, insp, top), random.Random(0)).messages[1]["content"]
    assert "TOP_CODE" in text and "TOP_TWO" not in text  # capped by num_top_programs
    assert "INSPIRED" in text
    assert text.index("generation 0: score: 0.3") < text.index("generation 2: score: 1.1")
    assert text.index("TOP_CODE") < text.index("Current Program")


def test_failed_record_metrics_line_names_the_outcome() -> None:
    line = metrics_line(record(outcome=Outcome.TIMEOUT, score=None, metrics={}))
    assert line == "outcome: timeout"


def test_system_messages_sampled_by_weight_and_filled() -> None:
    config = PromptConfig(
        system_messages=["A for {n_circles}", "B", "C"], system_message_weights=[0.7, 0.3, 0.0]
    )
    builder = PromptBuilder(ToyTask(), config)
    rng = random.Random(1)
    counts = Counter(
        builder.build(ParentSample(record()), rng).messages[0]["content"] for _ in range(400)
    )
    assert set(counts) == {"A for 26", "B"}
    assert counts["A for 26"] > counts["B"] > 0


def test_same_seed_same_prompts() -> None:
    config = PromptConfig(system_messages=["A", "B"])
    builder = PromptBuilder(ToyTask(), config)
    first = [builder.build(ParentSample(record()), r).messages for r in [random.Random(5)] * 20]
    second = [builder.build(ParentSample(record()), r).messages for r in [random.Random(5)] * 20]
    assert first == second


def test_bad_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="system_message_weights"):
        PromptBuilder(ToyTask(), PromptConfig(system_messages=["A"], system_message_weights=[0.0]))


def test_template_dir_overrides_and_rejects_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "system.txt").write_text("Custom system for {n_circles}.")
    (tmp_path / "user.txt").write_text("S={task_statement}\nP={current_program}\n{edit_instructions}")
    builder = PromptBuilder(ToyTask(), PromptConfig(template_dir=str(tmp_path)))
    system, user = builder.build(ParentSample(record()), random.Random(0)).messages
    assert system["content"] == "Custom system for 26."
    assert user["content"].startswith("S=Pack 26 circles")
    (tmp_path / "sytem.txt").write_text("typo")
    with pytest.raises(PromptTemplateError, match="sytem.txt"):
        PromptBuilder(ToyTask(), PromptConfig(template_dir=str(tmp_path)))
    with pytest.raises(PromptTemplateError, match="not a directory"):
        PromptBuilder(ToyTask(), PromptConfig(template_dir=str(tmp_path / "missing")))


def test_rewrite_mode_asks_for_a_whole_program() -> None:
    builder = PromptBuilder(ToyTask(), PromptConfig(), edit_mode="rewrite")
    text = builder.build(ParentSample(record()), random.Random(0)).messages[1]["content"]
    assert "complete new program" in text and "<<<<<<< SEARCH" not in text
    with pytest.raises(ValueError, match="edit_mode"):
        PromptBuilder(ToyTask(), PromptConfig(), edit_mode="patch")


def test_fill_is_one_pass_and_leaves_unknown_names() -> None:
    assert fill("{a} {b} {c.d} {c}", {"a": "{b}", "c": {"d": 1}}) == "{b} {b} 1 {c}"


def test_all_builtin_templates_ship() -> None:
    templates = load_templates()
    assert set(templates) == set(TEMPLATE_NAMES) and all(templates.values())


def test_program_code_is_shown_verbatim() -> None:
    # The model copies SEARCH text from the prompt, so blank lines and braces must survive.
    code = "import numpy\n\n\n# EVOLVE-BLOCK-START\ndef solve():\n\n\n    return {'{n_circles}': 1}\n# EVOLVE-BLOCK-END\n"
    builder = PromptBuilder(ToyTask(), PromptConfig())
    text = builder.build(ParentSample(record(code=code)), random.Random(0)).messages[1]["content"]
    assert "```python\n" + code + "```" in text
    assert "\n\n\n" not in text.replace(code, "")


@pytest.mark.parametrize("mode", ["diff", "rewrite"])
def test_a_program_without_markers_gets_no_marker_rule(mode: str) -> None:
    builder = PromptBuilder(ToyTask(), PromptConfig(), edit_mode=mode)
    marked = builder.build(ParentSample(record()), random.Random(0)).messages[1]["content"]
    assert "`# EVOLVE-BLOCK-START`" in marked
    bare = record(code="def solve():\n    return {'circles': []}\n")
    text = builder.build(ParentSample(bare), random.Random(0)).messages[1]["content"]
    assert "EVOLVE-BLOCK" not in text  # the whole program is open to edits
    assert "Keep the program runnable" in text  # the other rules stay
