"""The one user-facing error type.

Anything the user can fix (a bad problem file, an unusable run directory, a missing optional
extra, a refused setting) is raised as a ``UserError`` (or a subclass) with a message that names
the bad input and what to do. The CLI prints it as one line, ``thetaevolve: error: ...``, and
exits 2; no traceback reaches the user.
"""

from __future__ import annotations


class UserError(Exception):
    """A user-facing error: printed as one line by the CLI, exit code 2."""


__all__ = ["UserError"]
