"""Argument checks shared by the package: a bad value raises a ``ValueError`` that names the
argument, the value it got and what is allowed, before any computation starts."""

from __future__ import annotations

import math
import numbers

from torch import Tensor


def _is_real(value: object) -> bool:
    # numpy numbers count as numbers; bools do not (True is an int in Python)
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def check_number(name: str, value: object, low: float | None = None, high: float | None = None,
                 high_inclusive: bool = True) -> float:
    """``value`` as a float, or a ValueError unless it is a number in ``[low, high]`` (``[low,
    high)`` with ``high_inclusive=False``; either bound may be ``None``)."""
    ok = _is_real(value)
    if ok and low is not None and value < low:  # type: ignore[operator]
        ok = False
    if ok and high is not None and (value > high or (value == high and not high_inclusive)):  # type: ignore[operator]
        ok = False
    if not ok:
        if low is not None and high is not None:
            allowed = f"in [{low:g}, {high:g}{']' if high_inclusive else ')'}"
        elif low is not None:
            allowed = f">= {low:g}"
        elif high is not None:
            allowed = f"<= {high:g}"
        else:
            allowed = "that is not NaN"
        raise ValueError(f"{name} must be a number {allowed}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_threshold(threshold: object, name: str = "threshold") -> float:
    """A confidence threshold: a number in [0, 1] (0 keeps every prediction, 1 only certain ones)."""
    return check_number(name, threshold, 0.0, 1.0)


def check_positive(name: str, value: object) -> float:
    """``value`` as a float, or a ValueError unless it is a finite number > 0 (a temperature,
    a Beta parameter)."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:  # type: ignore[arg-type,operator]
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_int(name: str, value: object, least: int = 0) -> int:
    """``value`` itself, or a ValueError unless it is an int >= ``least`` (a count of steps)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return int(value)


def check_logits(name: str, logits: object) -> None:
    """A ValueError unless ``logits`` is a float tensor of shape ``[N, K]``."""
    if not isinstance(logits, Tensor) or logits.dim() != 2 or not logits.dtype.is_floating_point:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a float tensor of shape [N, K] (logits), got {shape}")


def check_temperature(name: str, value: object) -> float:
    """``value`` as a float, or a ValueError unless it is a finite number > 0."""
    return check_positive(name, value)


def check_fraction(name: str, value: object) -> float:
    """``value`` as a float, or a ValueError unless it is a number in [0, 1]."""
    return check_number(name, value, 0.0, 1.0)


def check_matrix(name: str, x: object, rows: int | None = None, cols: int | None = None) -> Tensor:
    """``x`` itself, or a ValueError unless it is a float tensor of shape ``[N, K]`` (with ``N ==
    rows`` and ``K == cols`` when given): a batch of predictions, similarities or embeddings."""
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.dtype.is_floating_point:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor of shape [N, K], got {shape}")
    if (rows is not None and x.shape[0] != rows) or (cols is not None and x.shape[1] != cols):
        raise ValueError(f"{name} must have shape [{rows if rows is not None else 'N'}, "
                         f"{cols if cols is not None else 'K'}], got {tuple(x.shape)}")
    return x
