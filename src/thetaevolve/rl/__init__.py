"""Test-time RL: GRPO (TRL's ``GRPOTrainer``) on the evolving gym.

Importing this package costs nothing: torch, transformers and TRL are imported only by
the modules that ``thetaevolve train`` loads (``models``, ``trainer``, ``coordinator``).

- ``RLConfig`` (the ``rl`` section) lives in the core configuration tree, ``thetaevolve.config``,
  and is re-exported here.
- ``models``: load a policy from a path or a hub id, or build ``random:tiny``.
- ``coordinator``: one process (rank 0) owns the gym and the store; the other ranks get
  their prompts from it and report their completions to it.
- ``trainer``: the GRPOTrainer subclass that draws each step's prompts from the live
  database and scores completions through the gym.
- ``train``: run a training session (checkpoints, resume, metrics, summary).
- ``cli``: the ``thetaevolve train`` subcommand.
"""

from thetaevolve.config import RLConfig

__all__ = ["RLConfig"]
