"""Keep sphinx-thebe's scripts out of the pages: the book has no live-code (Thebe) button.

Jupyter Book 1.x always loads sphinx-thebe 0.3, whose configuration script ends up twice on
every page and throws "Identifier 'THEBE_JS_URL' has already been declared" in every reader's
browser console. The book launches notebooks on Colab instead, so this extension removes the
handler that adds those scripts.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _drop_thebe_scripts(app: Sphinx) -> None:
    for listeners in app.events.listeners.values():
        listeners[:] = [
            listener for listener in listeners
            if getattr(listener.handler, "__module__", "") != "sphinx_thebe"
            or listener.handler.__name__ != "init_thebe_core"
        ]


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _drop_thebe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
