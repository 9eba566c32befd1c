"""Turning untrusted JSON-like data into checked float arrays.

Verifiers must never raise on bad data, so every helper here raises only
``DataError`` with a message naming what is wrong; the task turns it into an invalid
``Verdict``. Booleans, strings, complex numbers and ``None`` are refused rather than
coerced: numpy would happily read ``"0.5"`` or ``True`` as a number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from thetaevolve.tasks.base import DataError

_REAL_SCALARS = (int, float, np.integer, np.floating)
_REFUSED_SCALARS = (bool, np.bool_)


def _check_scalar_types(items: list[Any] | tuple[Any, ...], what: str) -> None:
    # One pass over the distinct types is much cheaper than per-element checks at 10^6.
    for kind in set(map(type, items)):
        if issubclass(kind, _REFUSED_SCALARS) or not issubclass(kind, _REAL_SCALARS):
            raise DataError(f"{what} must hold real numbers, found a {kind.__name__}")


def real_vector(value: Any, what: str, width: int = 1) -> np.ndarray:
    """A 1-D float64 array from a list/tuple/ndarray of real numbers; finite values only.

    ``width`` > 1 means the values are rows of that width laid end to end (for messages).
    """
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise DataError(f"{what} must be a flat list, got an array of shape {value.shape}")
        if value.dtype.kind not in "fiu" or value.dtype.kind == "b":
            raise DataError(f"{what} must hold real numbers, got dtype {value.dtype}")
        if value.dtype.kind == "f" and value.dtype.itemsize > 8:
            raise DataError(f"{what}: extended-precision floats are not accepted; send float64")
        items: Any = value
    elif isinstance(value, (list, tuple)):
        _check_scalar_types(value, what)
        items = value
    else:
        raise DataError(f"{what} must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(items, dtype=np.float64)
    except (OverflowError, ValueError, TypeError) as exc:
        raise DataError(f"{what} could not be read as float64 numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{what} must be a flat list of numbers")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        where = f"[{bad}]" if width == 1 else f"[{bad // width}][{bad % width}]"
        raise DataError(f"{what}{where} is not finite ({float(arr[bad])!r})")
    return arr


def real_rows(value: Any, width: int, what: str) -> np.ndarray:
    """An (n, width) float64 array from a list of rows; every row must have ``width`` numbers."""
    if isinstance(value, np.ndarray):
        if value.ndim != 2 or value.shape[1] != width:
            raise DataError(f"{what} must have shape (n, {width}), got {value.shape}")
        return real_vector(value.reshape(-1), what, width).reshape(-1, width)
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{what} must be a list of rows, got {type(value).__name__}")
    flat: list[Any] = []
    for i, row in enumerate(value):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)) or len(row) != width:
            raise DataError(f"{what}[{i}] must be a list of {width} numbers, got {_describe(row)}")
        flat.extend(row)
    return real_vector(flat, what, width).reshape(-1, width)


def real_scalar(value: Any, what: str) -> float:
    if isinstance(value, _REFUSED_SCALARS) or not isinstance(value, _REAL_SCALARS):
        raise DataError(f"{what} must be a number, got {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        raise DataError(f"{what} is too large for a float") from None
    if not math.isfinite(out):
        raise DataError(f"{what} is not finite ({out!r})")
    return out


def require_mapping(solution: Any) -> dict[str, Any]:
    if not isinstance(solution, dict):
        raise DataError(f"the solution must be a JSON object (dict), got {type(solution).__name__}")
    return solution


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a list of length {len(value)}"
    return type(value).__name__
