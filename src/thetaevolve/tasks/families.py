"""Task families: one verifier, many sizes, named ``family:key=value[,key=value]``.

``circle_packing:n=30`` or ``heilbronn_triangle:n=12`` build the same task classes as the
fixed built-ins, at the size asked for; known bounds (and a bound-based reward range)
appear only where a size has published values. ``thetaevolve.tasks.get_task`` is the one
place that parses built-in names; it hands every name with a ``:`` to ``parse_family``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from thetaevolve.tasks.base import Task


class TaskNameError(KeyError):
    """An unknown task or a bad family parameter; the message says what is accepted."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


@dataclass(frozen=True)
class Parameter:
    name: str
    low: int
    high: int
    meaning: str


@dataclass(frozen=True)
class Family:
    name: str
    parameters: tuple[Parameter, ...]
    build: Callable[..., Task]
    example: str

    def usage(self) -> str:
        keys = ",".join(f"{p.name}=<{p.low}..{p.high}>" for p in self.parameters)
        return f"{self.name}:{keys}"


def _circle_packing(n: int) -> Task:
    from thetaevolve.tasks.circle_packing import CirclePackingSquare

    return CirclePackingSquare(n)


def _heilbronn_triangle(n: int) -> Task:
    from thetaevolve.tasks.heilbronn import HeilbronnTriangle

    return HeilbronnTriangle(n)


def _heilbronn_convex(n: int) -> Task:
    from thetaevolve.tasks.heilbronn import HeilbronnConvex

    return HeilbronnConvex(n)


def _min_max_distance(n: int, d: int) -> Task:
    from thetaevolve.tasks.min_max_distance import MinMaxDistanceRatio

    return MinMaxDistanceRatio(n, d)


def _kissing_number(d: int) -> Task:
    from thetaevolve.tasks.kissing import KissingNumber

    return KissingNumber(d)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("circle_packing", (Parameter("n", 1, 500, "circles"),), _circle_packing, "circle_packing:n=30"),
        Family("heilbronn_triangle", (Parameter("n", 3, 60, "points"),), _heilbronn_triangle, "heilbronn_triangle:n=12"),
        Family("heilbronn_convex", (Parameter("n", 3, 60, "points"),), _heilbronn_convex, "heilbronn_convex:n=15"),
        Family(
            "min_max_distance",
            (Parameter("n", 3, 300, "points"), Parameter("d", 1, 12, "dimension")),
            _min_max_distance,
            "min_max_distance:n=20,d=2",
        ),
        Family("kissing_number", (Parameter("d", 2, 32, "dimension"),), _kissing_number, "kissing_number:d=12"),
    )
}


def family_usage() -> str:
    return "; ".join(f.usage() for f in FAMILIES.values())


def parse_family(spec: str, builtin_names: frozenset[str] = frozenset()) -> Task:
    """The task named by ``family:key=value,...``; TaskNameError says what is wrong.

    A size that is also a fixed built-in (``circle_packing:n=26``) keeps the built-in's name;
    any other is named by its canonical spec, so that ``get_task(task.name)`` finds it again.
    """
    family_name, _, arguments = spec.partition(":")
    family = FAMILIES.get(family_name.strip())
    if family is None:
        raise TaskNameError(f"unknown task family {family_name!r} in {spec!r}; families: {family_usage()}")
    values: dict[str, int] = {}
    wanted = {p.name: p for p in family.parameters}
    for item in filter(None, (part.strip() for part in arguments.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or key not in wanted:
            raise TaskNameError(f"{spec!r}: expected {family.usage()} (e.g. {family.example}), got {item!r}")
        if key in values:
            raise TaskNameError(f"{spec!r}: {key} is given twice")
        try:
            value = int(raw.strip())
        except ValueError:
            raise TaskNameError(f"{spec!r}: {key} must be an integer, got {raw.strip()!r}") from None
        p = wanted[key]
        if not p.low <= value <= p.high:
            raise TaskNameError(f"{spec!r}: {key} ({p.meaning}) must be in {p.low}..{p.high}, got {value}")
        values[key] = value
    missing = [name for name in wanted if name not in values]
    if missing:
        raise TaskNameError(f"{spec!r}: missing {', '.join(missing)}; expected {family.usage()} (e.g. {family.example})")
    task = family.build(**values)
    if task.name not in builtin_names:
        task.name = f"{family.name}:" + ",".join(f"{p.name}={values[p.name]}" for p in family.parameters)
    return task
