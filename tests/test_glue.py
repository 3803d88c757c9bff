"""utils.glue: the book build stores values with MyST-NB; without it, values are printed."""

import importlib
import sys

import numpy as np
import torch

import utils.glue


def test_glue_prints_the_value_when_myst_nb_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    fallback = importlib.reload(utils.glue)
    try:
        fallback.glue("accuracy", 0.925)
        assert capsys.readouterr().out == "accuracy = 0.925\n"
    finally:
        monkeypatch.delitem(sys.modules, "myst_nb")
        importlib.reload(utils.glue)


def test_glue_hands_the_value_to_myst_nb_in_the_build(monkeypatch):
    seen = []
    monkeypatch.setattr(utils.glue, "_myst_glue",
                        lambda name, value, display: seen.append((name, value, display)))
    utils.glue.glue("loss", 1.5)
    assert seen == [("loss", 1.5, False)]


def test_numpy_and_torch_scalars_are_stored_as_python_numbers(monkeypatch):
    seen = []
    monkeypatch.setattr(utils.glue, "_myst_glue", lambda name, value, display: seen.append(value))
    for value in (np.float64(0.25), np.int64(3), torch.tensor(1.5), torch.tensor(7)):
        utils.glue.glue("x", value)
    assert seen == [0.25, 3, 1.5, 7] and [type(v) for v in seen] == [float, int, float, int]
