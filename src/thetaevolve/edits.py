"""Turning an LLM response into a child program (SEARCH/REPLACE blocks or a full rewrite).

Seam used by the gym:
    apply_response(parent_code, response, mode="diff", scope="whole") -> EditResult
EditResult.code is the child program (None on failure); EditResult.outcome is None on
success or one of Outcome.NO_DIFF, EDIT_NO_MATCH, EDIT_AMBIGUOUS, EDIT_OUTSIDE_BLOCK.

Differences from ThetaEvolve/OpenEvolve (docs/references.md#thetaevolve-diffs), on purpose:
- A block whose SEARCH matches nowhere, or in several places, fails the whole response
  instead of being skipped silently; the failure kind is reported so that reward shaping
  and run summaries can tell "the model cannot copy code" from "the model has no idea".
- Matching is exact first, then whitespace-tolerant (trailing spaces, blank lines around
  the SEARCH text, a uniform indentation shift), because small models often re-indent.
- Where the parent has ``# EVOLVE-BLOCK-START`` / ``# EVOLVE-BLOCK-END`` regions, an
  edit that changes a line outside them fails with EDIT_OUTSIDE_BLOCK: the harness
  around the block is what hands data to the trusted verifier, so it is never evolved.
- A failed response never yields a partly edited program: ``code`` is None.
- A block repeated later in the same response is applied once (reasoning models draft
  their edit in ``<think>`` and repeat it; with ThetaEvolve's whole-response scope the
  repeat would otherwise no longer match).

Matching is line-based: a SEARCH text is a run of whole lines of the program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from thetaevolve.types import Outcome

EditMode = Literal["diff", "rewrite"]
EditScope = Literal["whole", "after_think"]

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER_MARK = "======="
REPLACE_MARK = ">>>>>>> REPLACE"
BLOCK_START = "EVOLVE-BLOCK-START"
BLOCK_END = "EVOLVE-BLOCK-END"

# Models vary the marker length a little (6-9 characters); the keyword must be there.
_SEARCH_RE = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*$", re.MULTILINE)
_THINK_CLOSE = "</think>"
_THINK_OPEN = "<think>"


@dataclass(frozen=True)
class EditResult:
    """The child program, or why there is none."""

    code: str | None
    outcome: Outcome | None  # None: success
    detail: str = ""
    blocks: int = 0  # edit blocks found (1 for a rewrite that found a program)

    @property
    def ok(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class EditBlock:
    search: tuple[str, ...]
    replace: tuple[str, ...]


class _EditFailure(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def format_search_replace(search: str, replace: str) -> str:
    """Render one SEARCH/REPLACE block (ends with a newline).

    Each part is read as lines that each end with a newline, the last one optionally
    without: ``"x = 1\\n"`` and ``"x = 1"`` are the single line ``x = 1``, ``"\\n"`` is one
    empty line and ``""`` is no line at all (an empty ``replace`` deletes).
    """
    return f"{SEARCH_MARK}\n{_as_lines(search)}{DIVIDER_MARK}\n{_as_lines(replace)}{REPLACE_MARK}\n"


def _as_lines(text: str) -> str:
    if not text:
        return ""
    return text if text.endswith("\n") else text + "\n"


def edit_scope_text(response: str, scope: EditScope) -> str:
    """The part of a response where edits are looked for.

    ``whole`` is ThetaEvolve's behaviour (blocks inside the reasoning count too).
    ``after_think`` keeps what follows the last ``</think>``; a reasoning part that never
    closes (a response cut at the token limit) leaves nothing.
    """
    if scope == "whole":
        return response
    if scope != "after_think":
        raise ValueError(f"edit scope must be 'whole' or 'after_think', got {scope!r}")
    close = response.rfind(_THINK_CLOSE)
    if close >= 0:
        return response[close + len(_THINK_CLOSE) :]
    if _THINK_OPEN in response:
        return ""
    return response


def parse_blocks(text: str) -> tuple[list[EditBlock], int]:
    """SEARCH/REPLACE blocks in order, and the number of blocks left unterminated.

    Code fences around or between blocks are ignored: only the marker lines count.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[EditBlock] = []
    unterminated = 0
    i = 0
    while i < len(lines):
        if not _SEARCH_RE.match(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not _DIVIDER_RE.match(lines[j]):
            if _SEARCH_RE.match(lines[j]):
                break
            j += 1
        if j >= len(lines) or not _DIVIDER_RE.match(lines[j]):
            unterminated += 1
            i = j
            continue
        k = j + 1
        while k < len(lines) and not _REPLACE_RE.match(lines[k]):
            if _SEARCH_RE.match(lines[k]):
                break
            k += 1
        if k >= len(lines) or not _REPLACE_RE.match(lines[k]):
            unterminated += 1
            i = k
            continue
        blocks.append(EditBlock(tuple(lines[i + 1 : j]), tuple(lines[j + 1 : k])))
        i = k + 1
    return blocks, unterminated


def evolve_regions(lines: list[str]) -> list[tuple[int, int]] | None:
    """(start marker index, end marker index) pairs; None when the code has no markers.

    A START without an END runs to the end of the program; a stray END is ignored.
    """
    regions: list[tuple[int, int]] = []
    open_at: int | None = None
    seen = False
    for index, line in enumerate(lines):
        if BLOCK_START in line:
            seen = True
            if open_at is None:
                open_at = index
        elif BLOCK_END in line:
            seen = True
            if open_at is not None:
                regions.append((open_at, index))
                open_at = None
    if open_at is not None:
        regions.append((open_at, len(lines)))
    return regions if seen else None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _trim_blank(lines: tuple[str, ...]) -> tuple[str, ...]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _exact_matches(code: list[str], search: tuple[str, ...]) -> list[int]:
    size = len(search)
    first = search[0]
    return [
        i
        for i in range(len(code) - size + 1)
        if code[i] == first and tuple(code[i : i + size]) == search
    ]


def _shift_at(code: list[str], at: int, search: tuple[str, ...]) -> int | None:
    """The uniform indentation shift (in characters) that makes ``search`` match at
    ``at`` when trailing whitespace is ignored, or None when it does not match."""
    shift: int | None = None
    for offset, wanted in enumerate(search):
        have = code[at + offset]
        if not wanted.strip():
            if have.strip():
                return None
            continue
        if have.strip() != wanted.strip():
            return None
        delta = len(_indent(have)) - len(_indent(wanted))
        if shift is None:
            shift = delta
        elif delta != shift:
            return None
    return shift if shift is not None else 0


def _reindent(lines: tuple[str, ...], shift: int, pad: str) -> list[str]:
    if shift == 0:
        return list(lines)
    out: list[str] = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif shift > 0:
            out.append(pad + line)
        else:
            cut = min(-shift, len(_indent(line)))
            out.append(line[cut:])
    return out


def _locate(
    code: list[str], block: EditBlock, number: int
) -> tuple[int, int, list[str], bool]:
    """Where a block applies: (start, end, new lines, tolerant?). Raises _EditFailure."""
    search = block.search
    if not any(line.strip() for line in search):
        raise _EditFailure(Outcome.EDIT_NO_MATCH, f"block {number}: the SEARCH part is empty")
    hits = _exact_matches(code, search)
    if len(hits) == 1:
        return hits[0], hits[0] + len(search), list(block.replace), False
    if len(hits) > 1:
        raise _EditFailure(
            Outcome.EDIT_AMBIGUOUS,
            f"block {number}: SEARCH matches {len(hits)} places "
            f"(lines {', '.join(str(h + 1) for h in hits[:5])}); add surrounding lines",
        )
    trimmed = _trim_blank(search)
    tolerant: list[tuple[int, int]] = []
    for at in range(len(code) - len(trimmed) + 1):
        shift = _shift_at(code, at, trimmed)
        if shift is not None:
            tolerant.append((at, shift))
    if not tolerant:
        first = next(line for line in search if line.strip()).strip()
        raise _EditFailure(
            Outcome.EDIT_NO_MATCH,
            f"block {number}: SEARCH matches nowhere (first line: {first[:80]!r})",
        )
    if len(tolerant) > 1:
        raise _EditFailure(
            Outcome.EDIT_AMBIGUOUS,
            f"block {number}: SEARCH matches {len(tolerant)} places when whitespace is "
            f"ignored (lines {', '.join(str(at + 1) for at, _ in tolerant[:5])})",
        )
    at, shift = tolerant[0]
    anchor = next(code[at + k] for k, line in enumerate(trimmed) if line.strip())
    pad = _indent(anchor)[:shift] if shift > 0 else ""
    replace = _trim_blank(block.replace) if trimmed != search else block.replace
    return at, at + len(trimmed), _reindent(replace, shift, pad), True


def _check_inside(
    code: list[str], start: int, end: int, new: list[str], number: int
) -> None:
    """Fail unless every changed line lies strictly inside an EVOLVE-BLOCK region."""
    regions = evolve_regions(code)
    if regions is None:
        return
    old = code[start:end]
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    lo, hi = start + prefix, end - suffix  # the replaced lines of the program
    added = new[prefix : len(new) - suffix]
    if lo == hi and not added:
        return  # the block changes nothing
    if any(BLOCK_START in line or BLOCK_END in line for line in added):
        raise _EditFailure(
            Outcome.EDIT_OUTSIDE_BLOCK, f"block {number}: adds an EVOLVE-BLOCK marker"
        )
    for first, last in regions:
        if lo == hi and first < lo <= last:
            return  # a pure insertion between the markers
        if lo != hi and first < lo and hi <= last:
            return
    raise _EditFailure(
        Outcome.EDIT_OUTSIDE_BLOCK,
        f"block {number}: changes lines {lo + 1}-{max(lo + 1, hi)} outside the "
        "EVOLVE-BLOCK regions",
    )


def _already_applied(code: list[str], block: EditBlock) -> bool:
    """True when the block's REPLACE text is already in the program (whitespace-tolerant)."""
    replace = _trim_blank(block.replace)
    if not replace:
        return False
    return any(_shift_at(code, at, replace) is not None for at in range(len(code) - len(replace) + 1))


def apply_blocks(parent_code: str, blocks: list[EditBlock]) -> EditResult:
    """Apply blocks in order, each to the result of the ones before; all or nothing.

    A block repeated later in the response (a reasoning model drafts its edit inside
    ``<think>`` and writes it again in the answer) is applied once: an exact repeat is
    skipped, and so is a block whose SEARCH no longer matches because its REPLACE text is
    already in place after the earlier blocks.
    """
    code = parent_code.split("\n")
    applied: set[EditBlock] = set()
    tolerant_count = repeats = 0
    for number, block in enumerate(blocks, start=1):
        if block in applied:
            repeats += 1
            continue
        try:
            start, end, new, tolerant = _locate(code, block, number)
            _check_inside(code, start, end, new, number)
        except _EditFailure as failure:
            if failure.outcome is Outcome.EDIT_NO_MATCH and applied and _already_applied(code, block):
                repeats += 1
                continue
            return EditResult(None, failure.outcome, failure.detail, len(blocks))
        code[start:end] = new
        tolerant_count += tolerant
        applied.add(block)
    detail = f"{len(applied)} block(s) applied"
    if tolerant_count:
        detail += f", {tolerant_count} with whitespace-tolerant matching"
    if repeats:
        detail += f", {repeats} repeated block(s) skipped"
    return EditResult("\n".join(code), None, detail, len(blocks))


def last_fenced_program(text: str) -> str | None:
    """The body of the last closed code fence (```python preferred over other languages)."""
    fences: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE_RE.match(lines[i])
        if not opening:
            i += 1
            continue
        marker, lang = opening.group(1), opening.group(2).lower()
        j = i + 1
        while j < len(lines) and lines[j].strip() != marker[0] * len(marker):
            j += 1
        if j >= len(lines):
            break  # an unclosed fence (e.g. a cut response) is not a program
        fences.append((lang, "\n".join(lines[i + 1 : j])))
        i = j + 1
    python = [body for lang, body in fences if lang in ("python", "py", "python3")]
    if python:
        return python[-1]
    plain = [body for lang, body in fences if not lang]
    return plain[-1] if plain else None


def _region_bodies(lines: list[str], regions: list[tuple[int, int]]) -> list[list[str]]:
    return [lines[first + 1 : last] for first, last in regions]


def apply_rewrite(parent_code: str, text: str) -> EditResult:
    """Full-rewrite mode: the last fenced program replaces the EVOLVE-BLOCK bodies.

    The code outside the parent's regions is kept as it was. A rewrite with the same
    number of regions gives its region bodies; a rewrite without markers is the new body
    of a parent that has exactly one region.
    """
    program = last_fenced_program(text)
    if program is None:
        return EditResult(None, Outcome.NO_DIFF, "no fenced python program in the response")
    parent = parent_code.split("\n")
    regions = evolve_regions(parent)
    if regions is None:
        return EditResult(program, None, "whole program rewritten", 1)
    new_lines = program.split("\n")
    new_regions = evolve_regions(new_lines)
    if new_regions is not None and len(new_regions) == len(regions):
        bodies = _region_bodies(new_lines, new_regions)
    elif new_regions is None and len(regions) == 1:
        bodies = [new_lines]
    else:
        found = 0 if new_regions is None else len(new_regions)
        return EditResult(
            None,
            Outcome.EDIT_OUTSIDE_BLOCK,
            f"the rewrite has {found} EVOLVE-BLOCK region(s), the parent has {len(regions)}",
            1,
        )
    if any(BLOCK_START in line or BLOCK_END in line for body in bodies for line in body):
        return EditResult(None, Outcome.EDIT_OUTSIDE_BLOCK, "the rewrite nests markers", 1)
    out: list[str] = []
    cursor = 0
    for (first, last), body in zip(regions, bodies):
        out.extend(parent[cursor : first + 1])
        out.extend(body)
        cursor = last
    out.extend(parent[cursor:])
    return EditResult("\n".join(out), None, f"{len(regions)} EVOLVE-BLOCK region(s) rewritten", 1)


def apply_response(
    parent_code: str,
    response: str,
    mode: EditMode = "diff",
    scope: EditScope = "whole",
) -> EditResult:
    """Build the child program from a response (see the module docstring)."""
    text = edit_scope_text(response, scope)
    if mode == "rewrite":
        return apply_rewrite(parent_code, text)
    if mode != "diff":
        raise ValueError(f"edit mode must be 'diff' or 'rewrite', got {mode!r}")
    blocks, unterminated = parse_blocks(text)
    if not blocks:
        detail = "no SEARCH/REPLACE block in the response"
        if unterminated:
            detail += f" ({unterminated} unterminated)"
        if scope == "after_think" and text != response:
            detail += " after the reasoning"
        return EditResult(None, Outcome.NO_DIFF, detail, 0)
    return apply_blocks(parent_code, blocks)
