"""``from shinka.core import run_shinka_eval`` inside the sandbox (see wrap_eval.py)."""

from shinka.core.wrap_eval import run_shinka_eval

__all__ = ["run_shinka_eval"]
