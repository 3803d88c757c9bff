"""utils.glue: the book build stores values with MyST-NB; without it, values are printed."""

import importlib
import sys

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
