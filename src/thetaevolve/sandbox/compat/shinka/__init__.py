"""ThetaEvolve's stand-in for the ``shinka`` package, visible only inside the sandbox.

Unlike the real package it loads no ``.env`` file: a candidate runs in the evaluator's process
and must not find API keys there. Only ``shinka.core.run_shinka_eval`` is provided.
"""
