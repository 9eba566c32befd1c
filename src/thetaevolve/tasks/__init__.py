"""The task registry: every built-in problem, looked up by name."""

from __future__ import annotations

from typing import Callable

from thetaevolve.tasks.base import ENTRY_POINT, DataError, KnownBound, RewardShaping, Task

_REGISTRY: dict[str, Callable[[], Task]] = {}


def register(factory: Callable[[], Task]) -> None:
    """Add a built-in task under its own ``name``, so that key and name cannot drift apart.

    ``factory`` is a task class whose ``name`` is a class attribute (keyed without building
    it), or a zero-argument callable for a sized task such as
    ``lambda: CirclePackingSquare(26)``, built once here to read the name its constructor
    gives it (constructors only set attributes, so this is cheap).
    """
    name = getattr(factory, "name", None)
    if not isinstance(name, str):
        name = factory().name
    _REGISTRY[name] = factory


def _load_builtins() -> None:
    # Imported lazily so that `import thetaevolve.tasks` stays cheap.
    from thetaevolve.tasks import circle_packing  # noqa: F401
    from thetaevolve.tasks import autocorrelation, circles_rectangle, hadamard  # noqa: F401
    from thetaevolve.tasks import erdos_overlap, heilbronn, kissing, min_max_distance, sums_differences  # noqa: F401
    from thetaevolve.tasks import uncertainty  # noqa: F401


def task_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """The task called ``name``: a built-in, or a sized family member such as
    ``circle_packing:n=30`` (see ``tasks.families``). This is the one place that parses
    built-in task names. An unknown name is a ``KeyError`` (``TaskNameError``) that lists
    the known ones."""
    from thetaevolve.tasks.families import TaskNameError, family_usage, parse_family

    _load_builtins()
    if ":" in name:
        return parse_family(name, frozenset(_REGISTRY))
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise TaskNameError(f"unknown task {name!r}; known tasks: {known}; sized families: {family_usage()}") from None
    return factory()


__all__ = ["ENTRY_POINT", "DataError", "KnownBound", "RewardShaping", "Task", "get_task", "register", "task_names"]
