"""``make_sandbox``: the backend that ``sandbox.backend`` names, behind one seam.

It lives apart from both backends so that ``runner`` (the local pool) never imports
``ray_backend``, which imports ``runner`` to hold a local pool on every node.
"""

from __future__ import annotations

from thetaevolve.config import SandboxConfig
from thetaevolve.errors import UserError
from thetaevolve.sandbox.base import Sandbox
from thetaevolve.sandbox.runner import LocalSandbox
from thetaevolve.tasks.base import Task


def make_sandbox(task: Task, config: SandboxConfig) -> Sandbox:
    """The sandbox for ``task`` under ``config`` (see thetaevolve.sandbox): this machine's
    pool, or with ``backend=ray`` one pool per node of a Ray cluster (Ray imported only then)."""
    if config.backend == "ray":
        try:
            from thetaevolve.sandbox.ray_backend import RaySandbox
        except ImportError as exc:
            raise UserError(
                f"sandbox.backend=ray needs Ray ({exc}); install the extra with "
                "`pip install 'thetaevolve[ray]'`, or use sandbox.backend=local"
            ) from None
        return RaySandbox(task, config)
    return LocalSandbox(task, config)
