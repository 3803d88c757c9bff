"""Book models: trained once by a recipe in this package, shipped in ``models/``, loaded checked.

``load_book_model("fashion_classifier")`` returns the shipped model; the recipe module
(``utils.models.fashion_classifier``) holds the code that trained it, which a chapter also
uses to train its own smaller version live. ``make models`` retrains them all.
"""

from utils.models.recipes import RECIPES, get_recipe, recipe_hash
from utils.models.store import (
    BookModelError,
    CorruptModelError,
    MissingModelError,
    StaleModelError,
    load_book_model,
    manifest_entry,
)

__all__ = ["RECIPES", "BookModelError", "CorruptModelError", "MissingModelError", "StaleModelError",
           "get_recipe", "load_book_model", "manifest_entry", "recipe_hash"]
