"""What a chapter page needs beyond training: quoting its measured numbers in the prose.

The website's prose quotes numbers through myst-nb's ``glue`` (a text role of the page names a glued value), so that
every number on a page comes from the code that ran. On Colab or in a plain Jupyter, myst-nb is
not installed and the prose is not rendered from the notebook anyway: :func:`glue` then does
nothing (or just displays the value when asked to), so a chapter runs there unchanged.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = True) -> None:  # noqa: ANN401 - any value a page quotes
    """myst-nb's ``glue(name, value, display)`` where myst-nb is installed; elsewhere the value is
    only displayed (when ``display``), since no page is built from the notebook there. A NumPy
    or PyTorch scalar is quoted as the Python number it holds (myst-nb formats only those)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)


def glue_all(prefix: str, values: dict[str, Any], display: bool = False) -> None:
    """:func:`glue` every value of ``values`` as ``<prefix>_<name>``: one call per table of
    numbers a page quotes, instead of a line per number."""
    for name, value in values.items():
        glue(f"{prefix}_{name}" if prefix else name, value, display=display)


def comparison_numbers(comparison: Any, ceiling_accs: list[float] | None = None) -> dict[str, Any]:  # noqa: ANN401
    """What a page quotes of an :class:`ssl_teach.experiments.Comparison`: the method's mean and
    standard deviation, the paired difference to the floor with its 95 % interval and p value,
    the share of the gap with its bootstrap interval, the floor's and ceiling's means, the seeds,
    and the mean seconds of a run (percentages in points, seconds as floats)."""
    h = comparison.headline
    ceiling_accs = ceiling_accs or h.ceiling_accs  # the headline pairs the ceiling with the method by seed
    difference = h.difference
    share = h.share_interval(ceiling_accs) if len(ceiling_accs) == len(h.accs) else None
    return {
        "mean": h.mean, "std": h.std, "gain": h.gain, "gain_std": h.gain_std,
        "gain_low": difference.low, "gain_high": difference.high, "p": difference.p,
        "share": h.share, "share_low": share.low if share else float("nan"),
        "share_high": share.high if share else float("nan"), "tie": "a tie" if h.tie else "beyond the tie rule",
        "floor_mean": sum(h.floor_accs) / len(h.floor_accs), "ceiling_mean": h.ceiling, "n_seeds": len(h.accs),
        "seconds": sum(r["seconds"] for r in comparison.method) / len(comparison.method),
    }
