"""Code identity for lazy penalties: two programs are "the same" if they differ only in
comments and trailing whitespace (ThetaEvolve's rule, docs/references.md#thetaevolve-code-identity).

The scan is string-aware (quotes, escapes and triple quotes) so that a ``#`` inside a
string is kept, and it works on code that does not parse, which LLM output often is.
"""

from __future__ import annotations

import hashlib


def strip_comment(line: str, state: str | None) -> tuple[str, str | None]:
    """Remove a trailing ``#`` comment from one line.

    ``state`` is the open triple-quote delimiter carried over from the previous line (or
    None). Returns the line without its comment and the state for the next line.
    """
    i = 0
    n = len(line)
    quote = state
    while i < n:
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch == "#":
            return line[:i], None
        if ch in "\"'":
            triple = line[i : i + 3]
            quote = triple if triple in ('"""', "'''") else ch
            i += len(quote)
            continue
        i += 1
    # A single-quoted string cannot continue past the end of its line.
    if quote is not None and len(quote) == 1:
        quote = None
    return line, quote


def normalize_code(code: str) -> str:
    """Drop comments and full-line comment lines, strip trailing spaces; keep a shebang."""
    out: list[str] = []
    state: str | None = None
    for index, line in enumerate(code.split("\n")):
        if index == 0 and line.startswith("#!"):
            out.append(line.rstrip())
            continue
        was_in_string = state is not None
        stripped, state = strip_comment(line, state)
        if not was_in_string and line.lstrip().startswith("#"):
            continue  # a full-line comment disappears with its newline
        out.append(stripped.rstrip(" \t\r"))
    return "\n".join(out).rstrip("\n")


def code_hash(code: str) -> str:
    """SHA-256 of the normalised code: the key for both lazy-penalty levels."""
    return hashlib.sha256(normalize_code(code).encode("utf-8")).hexdigest()
