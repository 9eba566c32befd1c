"""ThetaEvolve's stand-in for the ``openevolve`` package, visible only inside the sandbox.

Only what problem folders import is provided: ``openevolve.evaluation_result``.
"""
