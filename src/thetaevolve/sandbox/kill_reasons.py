"""The words the worker side and the trusted side share about how a child ended.

Two vocabularies cross the boundary as plain strings: why the worker killed a child (the
``killed`` field of its reply header, worker.py) and what kind of error the harness wrote
in the child's result record (``{"error": KIND, "message": ...}``, child.py). results.py
turns both into a ``RunResult``. They are defined once here, so that no side can misspell
one alone.

Standard library only, and importable by path as well as from the package, like the
worker's other helpers (see worker.py).
"""

from __future__ import annotations

# Why the worker killed a child; NOT_KILLED when it ended by itself.
NOT_KILLED = ""
TIMEOUT = "timeout"  # the wall-clock deadline passed
MEMORY = "memory"  # its process tree together exceeded the memory limit
STDOUT_CAP = "stdout_cap"  # stdout flooded far past its cap
STDERR_CAP = "stderr_cap"  # stderr flooded far past its cap
RESULT_CAP = "result_cap"  # the result record exceeded the solution cap

# The kill reason for a flood on each of the child's three pipes.
FLOOD_OF_PIPE = {"stdout": STDOUT_CAP, "stderr": STDERR_CAP, "result": RESULT_CAP}

# The kinds of error record the harness writes instead of a solution.
ERROR_NO_ENTRY = "no_entry"  # the program defines no entry point
ERROR_NONE = "none"  # solve() returned None
ERROR_MALFORMED = "malformed"  # the return value is not a dict of plain data within the cap
ERROR_MEMORY = "memory"  # MemoryError
ERROR_EXCEPTION = "exception"  # anything else the candidate raised
