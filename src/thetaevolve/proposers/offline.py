"""The offline mutator: a real evolutionary operator that needs no model.

It is the default proposer, so that ``thetaevolve run`` works on a fresh machine with no
GPU and no endpoint. It answers exactly like an LLM would, in SEARCH/REPLACE text, so a
run with it exercises the same edit → sandbox → verifier path as a run with a model.

Operators, applied only inside the parent's EVOLVE-BLOCK regions:
- *numeric perturbation*: pick one to three numeric literals and nudge them (floats by a
  relative Gaussian step whose size is drawn log-uniformly around ``mutation_scale``,
  integers above 1 by ±1);
- *crossover*: replace one function of the parent by the same-named function of an
  inspiration program, when the two differ.
Every random choice comes from ``Random(f"{seed}:{prompt.key}:{sample}")``, so a run is
reproducible for a seed, and different prompts of a batch get different mutations.
"""

from __future__ import annotations

import ast
import io
import math
import random
import tokenize
from dataclasses import dataclass

from thetaevolve.config import LLMConfig
from thetaevolve.edits import evolve_regions, format_search_replace
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.calls import CallStats

@dataclass(frozen=True)
class _Literal:
    line: int  # 0-based line in the program
    start: int  # column range of the literal on that line
    end: int
    text: str


def evolve_block_lines(code: str) -> list[range]:
    """0-based line ranges strictly between EVOLVE-BLOCK markers (the whole file if none)."""
    lines = code.split("\n")
    regions = evolve_regions(lines)
    if regions is None:
        return [range(0, len(lines))]
    return [range(start + 1, end) for start, end in regions]


def numeric_literals(code: str) -> list[_Literal]:
    """Numeric literals inside the EVOLVE-BLOCK regions (tokenized, so strings are skipped)."""
    allowed = {i for region in evolve_block_lines(code) for i in region}
    found: list[_Literal] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return found
    for token in tokens:
        if token.type != tokenize.NUMBER or token.start[0] != token.end[0]:
            continue
        line = token.start[0] - 1
        text = token.string
        if line not in allowed or text.lower().endswith("j"):
            continue
        found.append(_Literal(line, token.start[1], token.end[1], text))
    return found


def perturb_literal(text: str, rng: random.Random, scale: float) -> str | None:
    """A nudged version of one literal, or None when it is better left alone."""
    plain = text.replace("_", "")
    is_float = any(c in plain.lower() for c in ".e") and not plain.lower().startswith("0x")
    if not is_float:
        try:
            whole = int(plain, 0)
        except ValueError:
            return None
        if abs(whole) <= 1:  # 0 and 1 are structural far more often than tunable
            return None
        return str(max(2, whole + rng.choice((-1, 1))))
    value = float(plain)
    if not math.isfinite(value):
        return None
    if value == 0.0:
        new = rng.gauss(0.0, scale * 0.1)
    else:
        new = value * (1.0 + rng.gauss(0.0, scale))
        if (new > 0) != (value > 0):  # keep the sign: it is usually meaningful
            new = value * 0.5
    formatted = f"{new:.10g}"
    if not any(c in formatted for c in ".e"):
        formatted += ".0"
    return None if formatted == text else formatted


def _unique_window(lines: list[str], first: int, last: int) -> tuple[int, int]:
    """Grow [first, last] until its text occurs exactly once in the program."""
    code = "\n".join(lines)
    while True:
        window = "\n".join(lines[first : last + 1])
        if window.strip() and code.count(window) == 1:
            return first, last
        if first == 0 and last == len(lines) - 1:
            return first, last
        first = max(0, first - 1)
        last = min(len(lines) - 1, last + 1)


def mutate_numbers(code: str, rng: random.Random, scale: float) -> str | None:
    """SEARCH/REPLACE text nudging one to three literals; None if nothing can change."""
    literals = numeric_literals(code)
    if not literals:
        return None
    rng.shuffle(literals)
    wanted = rng.choice((1, 1, 2, 3))
    # Step sizes spread over three decades: large steps explore, small ones fine-tune a
    # parent that is already near a local optimum.
    scale = scale * 10.0 ** rng.uniform(-2.0, 0.5)
    changes: dict[int, list[tuple[_Literal, str]]] = {}
    for literal in literals:
        new = perturb_literal(literal.text, rng, scale)
        if new is None:
            continue
        changes.setdefault(literal.line, []).append((literal, new))
        if sum(len(v) for v in changes.values()) >= wanted:
            break
    if not changes:
        return None
    lines = code.split("\n")
    new_lines = list(lines)
    for line_no, edits in changes.items():
        text = lines[line_no]
        for literal, new in sorted(edits, key=lambda e: -e[0].start):
            text = text[: literal.start] + new + text[literal.end :]
        new_lines[line_no] = text
    blocks = []
    taken: set[int] = set()
    for line_no in sorted(changes):
        if line_no in taken:
            continue
        first, last = _unique_window(lines, line_no, line_no)
        taken.update(range(first, last + 1))
        blocks.append(
            format_search_replace(
                "\n".join(lines[first : last + 1]), "\n".join(new_lines[first : last + 1])
            )
        )
    return "\n\n".join(blocks)


def _functions(code: str) -> dict[str, tuple[int, int]]:
    """Top-level function name → its 0-based inclusive line span, inside EVOLVE-BLOCKs."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    allowed = {i for region in evolve_block_lines(code) for i in region}
    spans = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
            first = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            last = node.end_lineno - 1
            if first in allowed and last in allowed:
                spans[node.name] = (first, last)
    return spans


def crossover(code: str, donor: str, rng: random.Random) -> str | None:
    """SEARCH/REPLACE text swapping in one differing same-named function from ``donor``."""
    mine, theirs = _functions(code), _functions(donor)
    lines, donor_lines = code.split("\n"), donor.split("\n")
    candidates = []
    for name in sorted(mine.keys() & theirs.keys()):
        a, b = mine[name], theirs[name]
        old = "\n".join(lines[a[0] : a[1] + 1])
        new = "\n".join(donor_lines[b[0] : b[1] + 1])
        if old != new and code.count(old) == 1:
            candidates.append((old, new))
    if not candidates:
        return None
    old, new = rng.choice(candidates)
    return format_search_replace(old, new)


class OfflineMutator:
    """A Proposer that mutates code directly; deterministic for a seed."""

    def __init__(self, config: LLMConfig, seed: int = 0) -> None:
        self.config = config.offline
        self.seed = seed
        # Crossover needs donor programs even when prompts show none to a model.
        self.inspirations_needed = self.config.crossover_donors

    def respond(self, prompt: Prompt, sample_index: int) -> Response:
        rng = random.Random(f"{self.seed}:{prompt.key}:{sample_index}")
        parent = prompt.sample.parent.code
        donors = [p.code for p in prompt.sample.inspirations if p.code and p.code != parent]
        text = None
        if donors and rng.random() < self.config.crossover_rate:
            text = crossover(parent, rng.choice(donors), rng)
        if text is None:
            text = mutate_numbers(parent, rng, self.config.mutation_scale)
        if text is None:
            text = "No numeric literal or function left to change."
        # No model was asked: no call to count, one model-free proposal in the summary.
        return Response(text=text, stats=CallStats(calls=0, model_free=True))

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        return [[self.respond(prompt, j) for j in range(n)] for prompt in prompts]

    async def aclose(self) -> None:
        return None
