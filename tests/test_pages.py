"""The page helpers: glue without myst-nb (Colab), and a comparison's numbers in one call."""

import pytest

from ssl_teach import pages
from ssl_teach.experiments import Comparison, headline


def test_glue_without_myst_nb_only_displays(monkeypatch, capsys):
    import builtins
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError("no myst_nb on Colab")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_myst)
    pages.glue("x", 1.5, display=False)  # nothing to do, no error
    pages.glue_all("mt", {"mean": 96.3, "std": 0.1})
    assert capsys.readouterr().out == ""


def test_a_comparison_gives_its_numbers_with_intervals_in_one_call(monkeypatch):
    rec = lambda seed, acc: {"seed": seed, "test_acc": acc, "seconds": 10.0 * (seed + 1)}  # noqa: E731
    method = [rec(0, 0.95), rec(1, 0.97), rec(2, 0.93)]
    floor = [rec(0, 0.90), rec(1, 0.91), rec(2, 0.89)]
    ceiling = [rec(0, 0.99), rec(1, 0.99), rec(2, 0.98)]
    numbers = pages.comparison_numbers(Comparison(method, floor, ceiling, headline(method, floor, ceiling)))
    assert numbers["gain"] == pytest.approx(5.0) and numbers["gain_low"] < 5.0 < numbers["gain_high"]
    assert numbers["share_low"] <= numbers["share"] <= numbers["share_high"]
    assert numbers["seconds"] == pytest.approx(20.0) and numbers["n_seeds"] == 3
    assert numbers["tie"] == "beyond the tie rule"
    glued = {}
    monkeypatch.setattr(pages, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    pages.glue_all("fm", numbers)
    assert glued["fm_gain"] == numbers["gain"] and len(glued) == len(numbers)


def test_numpy_and_torch_scalars_are_glued_as_python_numbers(monkeypatch):
    import sys
    import types

    import numpy as np
    import torch
    seen = {}
    fake = types.SimpleNamespace(glue=lambda name, value, display=True: seen.__setitem__(name, value))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    pages.glue("a", np.float64(3.5), display=False)
    pages.glue("b", torch.tensor(2.0), display=False)
    assert type(seen["a"]) is float and type(seen["b"]) is float and seen["a"] == 3.5
