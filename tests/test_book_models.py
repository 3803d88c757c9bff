"""Book models: every shipped model loads checked and still scores what its manifest says.

What these tests hold the shipped files to:
- every recipe has weights in models/ and a manifest entry; together they stay small;
- loading verifies the SHA-256 and the recipe hash; the test re-measures the recorded metric
  on the test split (within the recipe's TOLERANCE) and, for the classifier, the Fréchet floor;
- a few steps of each recipe give the same losses twice, and the ones the manifest recorded;
- an edited recipe, or a missing, truncated or altered file, fails with the command to retrain.
"""

import dataclasses
import shutil

import numpy as np
import pytest
import scipy.linalg
import torch
from safetensors import safe_open

from tools.train_models import train_and_record
from utils.frechet import frechet_distance, frechet_floor
from utils.models import (
    RECIPES,
    CorruptModelError,
    MissingModelError,
    StaleModelError,
    char_gpt,
    char_lstm,
    get_recipe,
    load_book_model,
    manifest_entry,
    recipe_hash,
)
from utils.models.store import MODELS_DIR, read_manifest

SHIPPED_BYTES_LIMIT = 25 * 2**20  # all book models together, as the book's spec says
SHORT_RUN_STEPS = 3
NAMES = list(RECIPES)


@pytest.fixture(scope="module")
def manifest():
    return read_manifest()["models"]


@pytest.fixture
def models_copy(tmp_path):
    """A copy of models/ to damage freely."""
    shutil.copytree(MODELS_DIR, tmp_path / "models")
    return tmp_path / "models"


def test_every_recipe_is_shipped_and_the_files_are_small(manifest):
    assert sorted(manifest) == sorted(RECIPES), "each recipe needs shipped weights, and only recipes"
    sizes = [(MODELS_DIR / entry["file"]).stat().st_size for entry in manifest.values()]
    assert sizes == [entry["bytes"] for entry in manifest.values()]
    assert sum(sizes) <= SHIPPED_BYTES_LIMIT


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_reproduces_its_recorded_metric(name, manifest):
    recipe, entry = get_recipe(name), manifest[name]
    model = load_book_model(name, device="cpu")
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == entry["parameters"]
    measured = recipe.evaluate(model)[recipe.metric]
    assert measured == pytest.approx(entry["metrics"][recipe.metric], abs=recipe.tolerance)
    assert manifest_entry(name) == entry


@pytest.mark.parametrize("name", NAMES)
def test_weights_are_float16_only_where_that_costs_nothing_measurable(name, manifest):
    recipe, entry = get_recipe(name), manifest[name]
    with safe_open(MODELS_DIR / entry["file"], framework="pt") as weights:
        dtypes = {weights.get_slice(key).get_dtype() for key in weights.keys()}
    floats = dtypes - {"I64"}  # batch norm's step counter stays an integer
    assert floats == ({"F16"} if entry["dtype"] == "float16" else {"F32"})
    change = abs(entry["metrics_float16"][recipe.metric] - entry["metrics_float32"][recipe.metric])
    assert (change <= recipe.tolerance / 4) == (entry["dtype"] == "float16")


def test_classifier_is_good_enough_and_its_frechet_floor_reproduces(manifest):
    recipe, entry = get_recipe("fashion_classifier"), manifest["fashion_classifier"]
    assert entry["metrics"]["test_accuracy"] >= 0.93
    remeasured = recipe.extra_measurements(load_book_model("fashion_classifier", device="cpu"))
    for size in ("256", "1000", "2048"):
        recorded, now = entry["frechet_floor"][size], remeasured["frechet_floor"][size]
        assert now["draws"] == recorded["draws"] >= 4
        assert now["mean"] == pytest.approx(recorded["mean"], rel=1e-3)
        assert now["std"] == pytest.approx(recorded["std"], rel=1e-2)
    means = [entry["frechet_floor"][size]["mean"] for size in ("256", "1000", "2048")]
    assert means[0] > means[1] > means[2] > 0, "the floor must shrink as the samples grow"


@pytest.mark.parametrize("name", NAMES)
def test_short_run_of_recipe_is_deterministic_and_matches_the_manifest(name, manifest):
    recipe = get_recipe(name)
    _, first, _ = recipe.train(max_steps=SHORT_RUN_STEPS, progress=False)
    _, second, _ = recipe.train(max_steps=SHORT_RUN_STEPS, progress=False)
    assert len(first) == SHORT_RUN_STEPS
    assert first == second  # same seed, same process: bit for bit
    # The shipped run began with the same steps; other thread counts may move the last bits.
    recorded = manifest[name]["first_losses"][:SHORT_RUN_STEPS]
    np.testing.assert_allclose(first, recorded, rtol=1e-4)
    assert first[0] != pytest.approx(first[-1]), "the weights did not change"


@pytest.mark.parametrize("name", NAMES)
def test_changed_settings_without_retraining_fail_with_the_command_to_run(name, monkeypatch):
    recipe = get_recipe(name)
    changed = {**recipe.settings, "seed": recipe.settings["seed"] + 1}
    monkeypatch.setitem(RECIPES, name, dataclasses.replace(recipe, settings=changed))
    with pytest.raises(StaleModelError, match=rf"make models MODELS={name}"):
        load_book_model(name, device="cpu")


@pytest.mark.parametrize("name", NAMES)
def test_edited_recipe_source_without_retraining_fails(name, monkeypatch, tmp_path):
    recipe = get_recipe(name)
    edited = tmp_path / "edited_recipe.py"
    edited.write_text(open(recipe.module.__file__).read() + "\n# one more comment is already a change\n")
    monkeypatch.setattr(recipe.module, "__file__", str(edited))
    with pytest.raises(StaleModelError, match=rf"python -m tools.train_models {name}"):
        load_book_model(name, device="cpu")


def test_recipe_hash_ignores_windows_line_endings_only(monkeypatch, tmp_path):
    recipe = get_recipe("fashion_classifier")
    original = recipe_hash(recipe)
    crlf = tmp_path / "crlf_recipe.py"
    crlf.write_bytes(open(recipe.module.__file__, "rb").read().replace(b"\n", b"\r\n"))
    monkeypatch.setattr(recipe.module, "__file__", str(crlf))
    assert recipe_hash(recipe) == original
    crlf.write_bytes(crlf.read_bytes().replace(b"0.2", b"0.3", 1))
    assert recipe_hash(recipe) != original


def test_missing_weights_file_says_how_to_retrain(models_copy):
    (models_copy / "fashion_classifier.safetensors").unlink()
    with pytest.raises(MissingModelError, match="make models MODELS=fashion_classifier"):
        load_book_model("fashion_classifier", device="cpu", models_dir=models_copy)


def test_model_absent_from_the_manifest_says_how_to_train_it(tmp_path):
    with pytest.raises(MissingModelError, match="never been trained.*make models MODELS=fashion_classifier"):
        load_book_model("fashion_classifier", device="cpu", models_dir=tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_damaged_weights_file_is_refused(models_copy, damage):
    path = models_copy / "fashion_classifier.safetensors"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2:]
    else:
        data[-1] ^= 0x01  # one bit of one weight: it would load without the checksum
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptModelError, match="SHA-256.*make models MODELS=fashion_classifier"):
        load_book_model("fashion_classifier", device="cpu", models_dir=models_copy)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="fashion_classifier"):
        load_book_model("no_such_model")


def test_char_gpt_learns_in_a_few_steps_and_generates_text():
    settings = {**char_gpt.LIVE, "steps": 30}
    model, first, _ = char_gpt.train(settings, max_steps=30, progress=False)
    _, second, _ = char_gpt.train(settings, max_steps=5, progress=False)
    assert first[:5] == second
    assert first[0] == pytest.approx(np.log(256), abs=0.1)  # small initial weights: uniform guesses
    assert char_gpt.evaluate(model)["test_loss"] < first[0] - 0.5
    text = char_gpt.generate(model, "def ", 20, generator=torch.Generator().manual_seed(0))
    assert text.startswith("def ") and len(text) > len("def ")  # 20 bytes, a few may decode together


def test_char_lstm_learns_in_a_few_steps_on_the_gpts_windows():
    model, losses, _ = char_lstm.train({**char_lstm.LIVE, "steps": 30}, progress=False)
    assert model.context == char_gpt.BOOK["context"]  # scored on the same held-out windows
    assert char_lstm.evaluate(model)["test_loss"] < losses[0] - 0.5


def test_held_out_curve_is_measured_after_the_chosen_steps_without_changing_the_run():
    settings = {**char_lstm.LIVE, "steps": 12}
    model, plain, measured = char_lstm.train(settings, progress=False)
    assert measured["held_out_curve"]["steps"] == []
    _, with_curve, measured = char_lstm.train({**settings, "curve_points": 3}, progress=False)
    curve = measured["held_out_curve"]
    assert curve["steps"] == char_gpt.curve_steps(12, 3) == [0, 2, 12]
    assert with_curve == plain  # the evaluations use no random numbers and leave the weights alone
    assert curve["test_loss"][-1] == pytest.approx(char_lstm.evaluate(model)["test_loss"])
    assert curve["cpu_s"] == sorted(curve["cpu_s"])


# The Fréchet distance helper, against its definition.

def _frechet_by_definition(a, b):
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)), with SciPy's general matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_frechet_distance_matches_the_definition_on_correlated_features():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.5
    expected = _frechet_by_definition(a, b)
    assert frechet_distance(torch.tensor(a, dtype=torch.float32), b) == pytest.approx(expected, rel=1e-5)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-5)  # symmetric


def test_frechet_distance_of_a_shift_is_its_squared_length():
    x = torch.randn(400, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 3.0], dtype=torch.float64)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(x, x + shift) == pytest.approx(float(shift.square().sum()), rel=1e-9)


def test_frechet_distance_rejects_mismatched_or_too_few_features():
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(torch.randn(10, 3), torch.randn(10, 4))
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(torch.randn(1, 3), torch.randn(10, 3))


def test_frechet_floor_uses_disjoint_draws_and_shrinks_with_more_samples():
    generator = torch.Generator().manual_seed(2)
    a, b = torch.randn(4000, 4, generator=generator), torch.randn(4000, 4, generator=generator)
    floor = frechet_floor(a, b, sizes=(100, 1000), draws=8)
    assert floor[100][2] == 8 and floor[1000][2] == 4  # 4,000 features hold only 4 disjoint 1,000s
    assert floor[100][0] > floor[1000][0] > 0
    with pytest.raises(ValueError, match="fewer than 2 disjoint draws"):
        frechet_floor(a, b, sizes=(3000,), draws=8)


def test_training_tool_writes_weights_and_a_manifest_entry_that_load(tmp_path, monkeypatch):
    """The whole path of `make models`, for a VAE small enough to train in seconds."""
    tiny = dataclasses.replace(get_recipe("vae_2d"), name="tiny_vae",
                               settings={**get_recipe("vae_2d").settings, "hidden": [32], "epochs": 1})
    monkeypatch.setitem(RECIPES, "tiny_vae", tiny)
    entry = train_and_record("tiny_vae", models_dir=tmp_path, note="test")
    assert read_manifest(tmp_path)["models"] == {"tiny_vae": entry}
    assert entry["optimizer_steps"] == 469 and entry["settings"]["hidden"] == [32]
    assert entry["training"]["wall_time_s"] > 0 and entry["torch"] == torch.__version__
    model = load_book_model("tiny_vae", device="cpu", models_dir=tmp_path)
    assert tiny.evaluate(model) == pytest.approx(entry["metrics"])
    assert entry["metrics"]["test_negative_elbo"] < entry["first_losses"][0]  # it learned
