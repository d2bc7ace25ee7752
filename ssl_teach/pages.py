"""What a chapter page needs beyond training: quoting its measured numbers in the prose.

The website's prose quotes numbers through myst-nb's ``glue`` (``{glue:text}`name```), so that
every number on a page comes from the code that ran. On Colab or in a plain Jupyter, myst-nb is
not installed and the prose is not rendered from the notebook anyway: :func:`glue` then does
nothing (or just displays the value when asked to), so a chapter runs there unchanged.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = True) -> None:  # noqa: ANN401 - any value a page quotes
    """myst-nb's ``glue(name, value, display)`` where myst-nb is installed; elsewhere the value is
    only displayed (when ``display``), since no page is built from the notebook there."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
