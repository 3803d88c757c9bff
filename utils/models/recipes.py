"""The book models' recipes, by name, and the hash that says whether a recipe changed.

A recipe module holds one kind of model and how to train it: ``build_model(settings)``,
``train(settings, max_steps=None, progress=True)`` returning ``(model, losses)`` (the
training loss of every step) or ``(model, losses, measured)`` (``measured``: a dict of what
only the run itself can measure, e.g. a held-out learning curve, for the manifest),
``evaluate(model)`` returning the metrics on the test split, ``METRIC`` (the one CI
re-measures), ``TOLERANCE`` (how far it may move) and, optionally,
``extra_measurements(model)`` for more numbers in the manifest. Its settings dicts say the
sizes: ``BOOK`` is the shipped model (a module may ship several, e.g. ``BOOK_2D``) and
``LIVE`` what a chapter trains itself in its time budget.
"""

import dataclasses
import hashlib
import json
import pathlib
from types import ModuleType

from utils.models import char_gpt, char_lstm, dcgan, ddpm, fashion_base, fashion_classifier, vae


@dataclasses.dataclass(frozen=True)
class BookRecipe:
    """One book model: its name, the module that builds and trains it, and its settings."""

    name: str
    module: ModuleType
    settings: dict

    @property
    def metric(self):
        return self.module.METRIC

    @property
    def tolerance(self):
        return self.module.TOLERANCE

    def build_model(self):
        return self.module.build_model(self.settings)

    def train(self, max_steps=None, progress=True):
        """``(model, losses, measured)``; ``measured`` is ``{}`` for a recipe that measures nothing."""
        model, losses, *measured = self.module.train(self.settings, max_steps=max_steps, progress=progress)
        return model, losses, (measured[0] if measured else {})

    def evaluate(self, model):
        return self.module.evaluate(model)

    def extra_measurements(self, model):
        measure = getattr(self.module, "extra_measurements", None)
        return measure(model) if measure is not None else {}


RECIPES = {recipe.name: recipe for recipe in (
    BookRecipe("fashion_classifier", fashion_classifier, fashion_classifier.BOOK),
    BookRecipe("vae_2d", vae, vae.BOOK_2D),
    BookRecipe("vae_16d", vae, vae.BOOK_16D),
    BookRecipe("char_gpt", char_gpt, char_gpt.BOOK),
    BookRecipe("char_lstm", char_lstm, char_lstm.BOOK),
    BookRecipe("ddpm", ddpm, ddpm.BOOK),
    BookRecipe("fashion_base", fashion_base, fashion_base.BOOK),
    BookRecipe("dcgan", dcgan, dcgan.BOOK),
)}


def get_recipe(name):
    """The ``BookRecipe`` called ``name``; a clear error lists the known names."""
    if name not in RECIPES:
        raise KeyError(f"no book model called {name!r}; the book models are: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_hash(recipe):
    """SHA-256 of the recipe module's source file and the model's settings.

    Any edit to the file (architecture, training loop, settings, even a comment) changes
    it, so shipped weights can never silently come from other code than the recipe's.
    Helpers the recipe imports (the Trainer, the data loaders) are not hashed: CI's
    re-measured metric is what catches a change there that matters.
    """
    source = pathlib.Path(recipe.module.__file__).read_bytes()
    digest = hashlib.sha256(source.replace(b"\r\n", b"\n"))  # a Windows checkout has the same hash
    digest.update(json.dumps(recipe.settings, sort_keys=True).encode())
    return digest.hexdigest()
