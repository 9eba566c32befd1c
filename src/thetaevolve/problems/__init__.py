"""Problems from outside the package: native ``problem.py`` files, installed problem packages
(entry points ``thetaevolve.problems``), and OpenEvolve / ShinkaEvolve folders.

``registry.resolve_problem(spec)`` turns a name or a path into the same ``Task`` seam the
built-in tasks use; ``native`` loads and checks native problem files; ``verifier_process``
runs a problem's own ``verify`` in killable warm workers; ``provenance`` keeps a copy of a
problem's files in its run directory; ``scaffold`` writes the problem ``thetaevolve init``
creates; ``check`` is ``thetaevolve check``. See docs/problems.md.
"""
