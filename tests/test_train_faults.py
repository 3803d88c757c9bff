"""utils.train on the paths CI has no hardware for, and when things go wrong (issue 11).

CUDA on a T4, old torch, devices without autocast and failing compilers are simulated with
monkeypatch; everything else trains for real, on the CPU, on scikit-learn's moons.
"""

import warnings

import pytest
import torch
from torch import nn

import utils.train
from utils.data import TensorBatches, make_moons
from utils.train import CheckpointError, Trainer, autocast_dtype, best_weights_path

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def moons():
    return make_moons(n=320, noise=0.2, seed=0)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


def sgd_trainer(model, **options):
    return Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), device=CPU,
                   progress=options.pop("progress", False), **options)


# --- 1. the AMP dtype on a T4 -------------------------------------------------------------------

@pytest.mark.parametrize(("capability", "expected"), [((7, 5), torch.float16), ((8, 0), torch.bfloat16),
                                                     ((9, 0), torch.bfloat16)])
def test_bf16_only_where_the_gpu_computes_in_it(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)  # a T4 says so too
    assert autocast_dtype("auto", torch.device("cuda")) == expected
    assert autocast_dtype(True, torch.device("cuda")) == expected


# --- 2. the oldest torch: tests/test_torch_floor.py ----------------------------------------------

# --- 3. no autocast when AMP is off -------------------------------------------------------------

def test_amp_off_never_builds_an_autocast(moons, monkeypatch):
    def no_autocast(*args, **kwargs):
        raise RuntimeError("this device has no autocast in this torch")

    monkeypatch.setattr(torch, "autocast", no_autocast)
    model = mlp()
    history = sgd_trainer(model).fit(TensorBatches(*moons, 64, seed=0), TensorBatches(*moons, 320), epochs=2)
    assert len(history) == 2


# --- 4. torch.compile falls back to the plain model ---------------------------------------------

def test_a_failing_compile_falls_back_to_the_plain_model_with_one_warning(moons, monkeypatch, capsys):
    def broken_compile(model, **kwargs):
        def compiled(x):
            raise RuntimeError("InductorError: no working C++ compiler found")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    compiled = sgd_trainer(mlp(), compile=True, progress=True)
    expected = "torch.compile failed.*C\\+\\+ compiler.*without compiling"
    with pytest.warns(UserWarning, match=expected) as caught:
        compiled.fit(TensorBatches(*moons, 64, seed=0), epochs=2)
    assert len([w for w in caught if "torch.compile" in str(w.message)]) == 1
    assert "the first epoch includes compiling" in capsys.readouterr().out
    plain = sgd_trainer(mlp())
    plain.fit(TensorBatches(*moons, 64, seed=0), epochs=2)
    assert all(torch.equal(a, b) for a, b in zip(weights(compiled.model), weights(plain.model)))


def test_errors_of_the_model_itself_are_not_hidden(moons):
    trainer = sgd_trainer(nn.Sequential(nn.Linear(3, 2)))  # the moons have 2 features, not 3
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        trainer.fit(TensorBatches(*moons, 64, seed=0), epochs=1)


# --- 5. non-finite values never reach a checkpoint ----------------------------------------------

def nan_gradient_at(model, call):
    """Make the first layer's weight gradient NaN at the ``call``-th backward pass (the loss stays finite)."""
    calls = 0

    def hook(grad):
        nonlocal calls
        calls += 1
        return grad * float("nan") if calls == call else grad

    model[0].weight.register_hook(hook)


def test_non_finite_gradients_stop_training_before_the_checkpoint(moons, tmp_path):
    model = mlp()
    nan_gradient_at(model, call=10)  # the last of epoch 2's 5 batches: no later loss shows it
    trainer = sgd_trainer(model, checkpoint_path=tmp_path / "run.pt")
    val = TensorBatches(*moons, 320, shuffle=False)
    with pytest.raises(FloatingPointError, match=r"no longer finite after epoch 2 \(optimizer step 10\)"):
        trainer.fit(TensorBatches(*moons, 64, seed=0), val, epochs=3)
    assert trainer.history["epoch"] == [1]  # nothing recorded for epoch 2, no val_loss = nan
    saved = torch.load(tmp_path / "run.pt", weights_only=True)
    assert saved["epoch"] == 1 and all(torch.isfinite(w).all() for w in saved["model"].values())
    best = torch.load(best_weights_path(tmp_path / "run.pt"), weights_only=True)
    assert all(torch.isfinite(w).all() for w in best.values())


def test_a_nan_gradient_mid_epoch_is_named_at_the_next_batch(moons):
    model = mlp()
    nan_gradient_at(model, call=3)
    trainer = sgd_trainer(model)
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1, batch 4 \(optimizer step 4\)"):
        trainer.fit(TensorBatches(*moons, 64, seed=0), epochs=2)


def test_non_finite_validation_values_stop_training(moons, tmp_path):
    X, y = moons
    bad = X.clone()
    bad[5] = float("nan")
    trainer = sgd_trainer(mlp(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(FloatingPointError, match=r"Validation after epoch 1 \(optimizer step 5\)"):
        trainer.fit(TensorBatches(X, y, 64, seed=0), TensorBatches(bad, y, 320), epochs=2)
    assert len(trainer.history) == 0 and not (tmp_path / "run.pt").exists()


# --- 6. atomic saves ----------------------------------------------------------------------------

@pytest.mark.parametrize("failing", ["run.pt.part", "run.best.pt.part"])
def test_a_failed_save_keeps_the_previous_files_whole_and_leaves_no_part_file(moons, tmp_path, monkeypatch,
                                                                            failing):
    X, y = moons
    trainer = sgd_trainer(mlp(), checkpoint_path=tmp_path / "run.pt")
    train, val = TensorBatches(X, y, 64, seed=0), TensorBatches(X, y, 320)
    trainer.fit(train, val, epochs=1)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    real_save = torch.save

    def save_that_dies_halfway(obj, path, *args, **kwargs):
        if pathlib_name(path) == failing:
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 half a file")
            raise OSError(28, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_that_dies_halfway)
    with pytest.raises(OSError, match="No space left"):
        trainer.fit(train, val, epochs=2)  # validation loss improves: both files are written
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert set(after) == {"run.pt", "run.best.pt"}  # no .part file left behind
    assert after["run.best.pt"] == before["run.best.pt"]  # the best weights are whole (old or new)
    torch.load(tmp_path / "run.pt", weights_only=True)  # and so is the checkpoint


def pathlib_name(path):
    return str(path).rsplit("/", 1)[-1]


# --- 7. clear load errors -----------------------------------------------------------------------

@pytest.fixture
def checkpoint(moons, tmp_path):
    trainer = sgd_trainer(mlp(), checkpoint_path=tmp_path / "sgd.pt")
    trainer.fit(TensorBatches(*moons, 64, seed=0), epochs=1)
    return tmp_path / "sgd.pt"


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_an_empty_or_truncated_checkpoint_is_named(checkpoint, tmp_path, keep):
    data = checkpoint.read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[:int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(CheckpointError, match=r"broken\.pt cannot be read.*empty or truncated"):
        sgd_trainer(mlp()).load(broken)


def test_a_checkpoint_of_another_optimizer_is_refused_by_name(checkpoint):
    model = mlp()
    adam = Trainer(model, torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), device=CPU,
                   progress=False)
    expected = r"sgd\.pt was saved by a trainer with optimizer SGD.*this one has optimizer Adam"
    with pytest.raises(CheckpointError, match=expected):
        adam.load(checkpoint)


def test_a_checkpoint_without_scheduler_state_is_refused_by_a_trainer_with_one(checkpoint):
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, progress=False,
                      scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1))
    expected = "no scheduler, but this one has optimizer SGD and scheduler StepLR"
    with pytest.raises(CheckpointError, match=expected):
        trainer.load(checkpoint)


def test_weights_of_another_model_and_a_best_weights_file_are_refused(checkpoint, tmp_path):
    wide = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2))
    with pytest.raises(CheckpointError, match=r"(?s)sgd\.pt does not fit this trainer.*size mismatch"):
        sgd_trainer(wide).load(checkpoint)
    torch.save(mlp().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match="not a Trainer checkpoint.*load_state_dict"):
        sgd_trainer(mlp()).load(tmp_path / "weights.pt")


# --- 8. steps skipped by the GradScaler ---------------------------------------------------------

def test_a_step_skipped_on_fp16_overflow_is_not_counted_nor_scheduled(moons):
    model = mlp()
    calls = 0

    def overflow_once(grad):
        nonlocal calls
        calls += 1
        return grad * float("inf") if calls == 3 else grad

    model[0].weight.register_hook(overflow_once)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, amp=torch.float16,
                      scheduler=scheduler, progress=False)
    assert trainer.scaler.is_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        history = trainer.fit(TensorBatches(*moons, 64, seed=0), epochs=1)  # 5 batches, 1 skipped
    assert trainer.step == 4 and scheduler.last_epoch == 4
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)
    assert all(torch.isfinite(p).all() for p in model.parameters()) and len(history) == 1


# --- 9. an interrupted fit ----------------------------------------------------------------------

class InterruptAt:
    def __init__(self, call):
        self.call, self.calls = call, 0

    def __call__(self, outputs, y):
        self.calls += 1
        if self.calls == self.call:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(outputs, y)


def one_cycle_trainer(loss_fn, **options):
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=3 * 5)
    return Trainer(model, optimizer, loss_fn, device=CPU, scheduler=scheduler, progress=False, **options)


def test_fit_after_ctrl_c_goes_on_from_the_checkpoint_exactly(moons, tmp_path):
    torch.manual_seed(0)
    reference = one_cycle_trainer(nn.CrossEntropyLoss(), checkpoint_path=tmp_path / "ref.pt")
    reference.fit(TensorBatches(*moons, 64, seed=0), epochs=3)
    torch.manual_seed(0)
    trainer = one_cycle_trainer(InterruptAt(5 + 3), checkpoint_path=tmp_path / "run.pt")
    batches = TensorBatches(*moons, 64, seed=0)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(batches, epochs=3)  # in epoch 2, after 2 of its 5 steps
    assert trainer.history["epoch"] == [1]  # the finished epochs stay available
    trainer.fit(batches, epochs=3)  # before the fix: "Tried to step 17 times ... total steps is 15"
    assert trainer.step == reference.step == 15
    assert all(torch.equal(a, b) for a, b in zip(weights(trainer.model), weights(reference.model)))


def test_fit_after_ctrl_c_without_checkpoint_says_what_to_do(moons):
    trainer = one_cycle_trainer(InterruptAt(5 + 3))
    batches = TensorBatches(*moons, 64, seed=0)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(batches, epochs=3)
    expected = r"Epoch 2 stopped partway.*epochs 1 to 1.*new Trainer.*checkpoint_path"
    with pytest.raises(RuntimeError, match=expected):
        trainer.fit(batches, epochs=3)
    assert trainer.history["epoch"] == [1]


# --- 10. no host-device synchronisation per step ------------------------------------------------

def test_training_reads_values_from_the_device_once_per_epoch_not_per_batch(moons, monkeypatch):
    reads = []
    def counted(name, original):
        def read(self, *args, **kwargs):
            reads.append(name)
            return original(self, *args, **kwargs)
        return read

    for name in ("item", "tolist", "cpu", "__float__", "__int__", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, counted(name, getattr(torch.Tensor, name)))

    def reads_per_epoch(batch_size):
        model = mlp()
        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                          device=CPU, metrics={"acc": utils.train.accuracy}, progress=False)
        reads.clear()
        trainer.fit(TensorBatches(*moons, batch_size, seed=0), epochs=2)
        return len(reads)

    assert reads_per_epoch(batch_size=160) == reads_per_epoch(batch_size=16)  # 2 batches or 20 per epoch


# --- 11. the last accumulation group; the MPS random state --------------------------------------

def test_the_last_smaller_accumulation_group_is_averaged_over_its_own_batches(moons):
    X, y = moons  # 320 examples: batches of 64, groups of 4 -> one group of 4 batches, then one of 1
    accumulated = sgd_trainer(mlp(), accumulate=4)
    accumulated.fit(TensorBatches(X, y, 64, shuffle=False), epochs=1)
    big_batches = sgd_trainer(mlp())  # the same two steps: the mean over 256 examples, then over 64
    big_batches.fit(TensorBatches(X, y, 256, shuffle=False), epochs=1)
    assert accumulated.step == big_batches.step == 2
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(weights(accumulated.model),
                                                                weights(big_batches.model)))


def test_the_mps_random_state_is_saved_and_restored(moons, tmp_path, monkeypatch):
    mps_state, restored = torch.arange(8, dtype=torch.uint8), []
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda *args: mps_state.clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, *args: restored.append(state))
    trainer = sgd_trainer(mlp(), checkpoint_path=tmp_path / "run.pt")
    trainer.fit(TensorBatches(*moons, 64, seed=0), epochs=1)
    sgd_trainer(mlp()).load(tmp_path / "run.pt")
    assert len(restored) == 1 and torch.equal(restored[0], mps_state)
