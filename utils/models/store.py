"""Book model weights on disk: safetensors files checked against ``models/manifest.json``.

The weights are stored as safetensors, which hold tensors and nothing else: loading
one cannot run code, unlike a pickled checkpoint. The manifest records for every file
its SHA-256 and the hash of the recipe that trained it, so ``load_book_model`` refuses
a file that is missing, damaged, or older than its recipe, and says how to retrain it.
"""

import hashlib
import json
import pathlib

import torch
from safetensors.torch import load_file, save_file

from utils.env import pick_device
from utils.models.recipes import get_recipe, recipe_hash

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"
MANIFEST_NAME = "manifest.json"


class BookModelError(RuntimeError):
    """A book model cannot be loaded as shipped; the message says how to retrain it."""


class MissingModelError(BookModelError):
    """The model was never trained, or its weights file is not there."""


class CorruptModelError(BookModelError):
    """The weights file differs from the one the manifest describes (truncated, edited...)."""


class StaleModelError(BookModelError):
    """The recipe changed after the weights were trained."""


def retrain_hint(name):
    return f"Retrain it with `make models MODELS={name}` (the same as `python -m tools.train_models {name}`)."


def read_manifest(models_dir=MODELS_DIR):
    """The manifest as a dict ``{"models": {name: entry}}``; empty if there is none yet."""
    path = pathlib.Path(models_dir) / MANIFEST_NAME
    if not path.is_file():
        return {"models": {}}
    return json.loads(path.read_text())


def manifest_entry(name, models_dir=MODELS_DIR):
    """What the manifest records about the book model ``name``: metrics, training time, machine...

    A chapter quotes it, e.g. ``manifest_entry("vae_2d")["training"]["cpu_time_s"]``.
    """
    get_recipe(name)  # an unknown name gets the error that lists the known ones
    entry = read_manifest(models_dir)["models"].get(name)
    if entry is None:
        raise MissingModelError(f"The book model {name!r} has never been trained: the manifest "
                                f"{pathlib.Path(models_dir) / MANIFEST_NAME} has no entry for it. "
                                + retrain_hint(name))
    return entry


def write_manifest_entry(name, entry, models_dir=MODELS_DIR):
    """Put ``entry`` under ``name`` in the manifest, keeping the other models' entries."""
    manifest = read_manifest(models_dir)
    manifest["models"][name] = entry
    manifest["models"] = dict(sorted(manifest["models"].items()))
    _write_atomically(pathlib.Path(models_dir) / MANIFEST_NAME,
                      (json.dumps(manifest, indent=2) + "\n").encode())


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_as(model, dtype):
    """The model's state dict with its floating-point tensors cast to ``dtype``, ready to save."""
    return {key: (value.to(dtype) if value.is_floating_point() else value).detach().cpu().contiguous()
            for key, value in model.state_dict().items()}


def save_weights(weights, path):
    """Write a state dict as safetensors, atomically; return the file's SHA-256."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        save_file(weights, str(partial))
        partial.replace(path)  # an interrupted save never leaves a half-written file
    finally:
        partial.unlink(missing_ok=True)
    return sha256_of(path)


def load_book_model(name, device=None, models_dir=MODELS_DIR):
    """The shipped book model ``name``, in eval mode on ``device`` (default: ``pick_device()``).

    Checks, in order, and raises with the retraining command when one fails: the manifest
    has an entry (``MissingModelError``), the recipe's code and settings are the ones that
    trained it (``StaleModelError``), the file is there (``MissingModelError``) and its
    SHA-256 is the recorded one (``CorruptModelError``).
    """
    recipe, entry = get_recipe(name), manifest_entry(name, models_dir)
    current = recipe_hash(recipe)
    if entry["recipe_hash"] != current:
        raise StaleModelError(f"The recipe of {name!r} ({recipe.module.__file__}) changed after its weights "
                              f"were trained (manifest: {entry['recipe_hash'][:12]}, code now: "
                              f"{current[:12]}), so they may no longer match it. " + retrain_hint(name))
    path = pathlib.Path(models_dir) / entry["file"]
    if not path.is_file():
        raise MissingModelError(f"The weights of {name!r} are missing: {path} does not exist. "
                                + retrain_hint(name))
    if (actual := sha256_of(path)) != entry["sha256"]:
        raise CorruptModelError(f"{path} is damaged or was replaced: its SHA-256 is {actual[:12]}..., "
                                f"the manifest says {entry['sha256'][:12]}.... Restore it from git "
                                f"(`git checkout -- models/{path.name}`) or retrain. " + retrain_hint(name))
    model = recipe.build_model()
    weights = {key: value.float() if value.is_floating_point() else value
               for key, value in load_file(str(path)).items()}
    model.load_state_dict(weights)  # strict: a missing or extra tensor is an error
    return model.to(torch.device(device) if device is not None else pick_device()).eval()


def _write_atomically(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
