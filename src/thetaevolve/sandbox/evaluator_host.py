"""Running a user's whole evaluator inside the sandbox, in the warm pool.

An OpenEvolve or ShinkaEvolve problem scores a candidate with the user's own evaluator,
which runs the candidate itself (imports it, or unpickles what it wrote). So the evaluator
must run where the candidate runs: in the sandbox's forked child, under the candidate's
limits and deadline. An ``EvaluatorHost`` tells the sandbox how:

- ``import_paths``: directories put first on the worker's ``sys.path`` (the problem folder,
  so sibling modules import, and our shim folder ``compat/`` with ``openevolve`` and
  ``shinka`` stand-ins); under bubblewrap they are bound read-only at the same path;
- ``preload``: Python run once per worker before any fork (imports the evaluator module),
  so each candidate costs a fork and not a fresh interpreter;
- ``wrap(code)``: the program the child really runs: a ``solve()`` that hands the
  candidate's source to the harness (``compat/_thetaevolve_evalhost.py``), which writes it to
  a file, calls the evaluator and returns plain metrics and artifacts as the "solution".

The trusted side then scores that data (``thetaevolve.problems.evaluator_task``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPAT_DIR = Path(__file__).resolve().parent / "compat"
HOST_MODULE = "_thetaevolve_evalhost"


@dataclass(frozen=True)
class EvaluatorHost:
    """How the sandbox runs one problem's evaluator (see the module docstring)."""

    kind: str  # "openevolve" or "shinka"
    evaluator: Path  # evaluator.py / evaluate.py, absolute
    suffix: str  # the file suffix candidates are written with (".py", ".rs", ...)
    options: dict[str, Any] = field(default_factory=dict)  # cascade, thresholds, caps, ...
    # An evaluator whose import hangs must not keep the worker from starting (the runner
    # gives a worker START_TIMEOUT_S, 120 s): past this, each candidate imports it itself.
    preload_timeout_s: float = 60.0

    @property
    def import_paths(self) -> tuple[str, ...]:
        return (str(self.evaluator.parent), str(COMPAT_DIR))

    @property
    def preload(self) -> str:
        return (
            f"import {HOST_MODULE}\n"
            f"{HOST_MODULE}.preload_{self.kind}({str(self.evaluator)!r})\n"
        )

    def wrap(self, code: str) -> str:
        """The program the sandbox runs for candidate ``code``."""
        options = {
            **self.options,
            "kind": self.kind,
            "evaluator": str(self.evaluator),
            "suffix": self.suffix,
        }
        return (
            f"import {HOST_MODULE} as _host\n\n"
            f"_OPTIONS = {json.dumps(options)!r}\n"
            f"_CODE = {code!r}\n\n\n"
            "def solve():\n"
            "    import json\n"
            "    return _host.run(json.loads(_OPTIONS), _CODE)\n"
        )
