"""utils.train: real training on Fashion-MNIST, exact resume, accumulation, NaN, early stopping.

Every test trains for real on the CPU, on real data (Fashion-MNIST, scikit-learn's moons);
tiny models keep the file at a few seconds of training per test.
"""

import math

import matplotlib
import pytest
import torch
from torch import nn

from utils.data import DataNotFoundError, TensorBatches, load_fashion_mnist, make_moons
from utils.train import History, Trainer, accuracy, autocast_dtype, best_weights_path

matplotlib.use("Agg")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def fashion():
    try:
        return load_fashion_mnist(download=False)
    except DataNotFoundError as exc:
        pytest.skip(f"no Fashion-MNIST on this machine: {exc}")


@pytest.fixture(scope="module")
def moons():
    """Train and validation halves of 640 noisy moons."""
    X, y = make_moons(n=640, noise=0.2, seed=0)
    return X[:320], y[:320], X[320:], y[320:]


def mlp(inputs=2, hidden=32, outputs=2, dropout=0.0):
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, outputs))


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


def without_times(history):
    return [{key: value for key, value in record.items() if key != "time"} for record in history.records]


# --- accuracy and History -----------------------------------------------------------------------

def test_accuracy_counts_argmax_hits_and_single_logits():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.1, 0.2]])
    assert float(accuracy(logits, torch.tensor([0, 1, 1, 1]))) == 0.75
    assert float(accuracy(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1, 1, 0]))) == pytest.approx(1 / 3)
    assert float(accuracy(torch.tensor([[2.0], [-1.0]]), torch.tensor([[1.0], [0.0]]))) == 1.0


def test_history_columns_and_learning_curve_plot(moons):
    X, y, X_val, y_val = moons
    torch.manual_seed(0)
    model = mlp()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), 1e-2), nn.CrossEntropyLoss(), device=CPU,
                      metrics={"acc": accuracy}, progress=False)
    history = trainer.fit(TensorBatches(X, y, 64, seed=0), TensorBatches(X_val, y_val, 320, shuffle=False), 3)
    assert history["epoch"] == [1, 2, 3]
    assert set(history.records[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                                       "time"}
    assert history["train_loss"][2] < history["train_loss"][0]
    loss_axes, acc_axes = history.plot()
    assert [line.get_label() for line in loss_axes.lines] == ["train", "val"]
    assert list(acc_axes.lines[1].get_ydata()) == history["val_acc"]
    assert acc_axes.get_ylabel() == "acc"


# --- learning for real --------------------------------------------------------------------------

def test_an_mlp_learns_fashion_mnist(fashion):
    # 784-128-10, two epochs with one-cycle: 86.6% measured (about 5 s on 2 CPU cores). A linear
    # classifier gets about 84% on Fashion-MNIST, so reaching 85% needs the hidden layer; the
    # 1.6-point margin covers numerical differences between CPUs.
    torch.manual_seed(0)
    model = mlp(784, 128, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3)
    train = TensorBatches(fashion.train_x, fashion.train_y, batch_size=100, seed=0)
    test = TensorBatches(fashion.test_x, fashion.test_y, batch_size=1000, shuffle=False)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=4e-3, total_steps=2 * len(train))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, scheduler=scheduler,
                      metrics={"acc": accuracy}, progress=False)
    history = trainer.fit(train, test, epochs=2)
    assert history["val_acc"][-1] >= 0.85
    assert trainer.evaluate(test)["acc"] == pytest.approx(history["val_acc"][-1])
    assert history["train_loss"][1] < history["train_loss"][0]


# --- exact resume -------------------------------------------------------------------------------

class InterruptAt:
    """A cross-entropy loss that raises KeyboardInterrupt on its ``call``-th use in training."""

    def __init__(self, model, call):
        self.model, self.call, self.calls = model, call, 0

    def __call__(self, outputs, y):
        if self.model.training:
            self.calls += 1
            if self.calls == self.call:
                raise KeyboardInterrupt
        return nn.functional.cross_entropy(outputs, y)


def _run(fashion, seed, batches_kind):
    """A model, its optimizer, scheduler and shuffled, augmented batches, all from ``seed``."""
    torch.manual_seed(seed)
    model = mlp(784, 64, 10, dropout=0.2)  # dropout draws from torch's global RNG
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, y = fashion.train_x[:2048], fashion.train_y[:2048]
    if batches_kind == "TensorBatches":
        batches = TensorBatches(x, y, batch_size=128, augment=True, seed=seed)
    else:
        dataset = torch.utils.data.TensorDataset(x, y)
        batches = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True,
                                              generator=torch.Generator().manual_seed(seed))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=3 * len(batches))
    return model, optimizer, scheduler, batches


@pytest.mark.parametrize("batches_kind", ["TensorBatches", "DataLoader"])
def test_an_interrupted_run_resumes_exactly(fashion, tmp_path, batches_kind):
    val = TensorBatches(fashion.test_x[:512], fashion.test_y[:512], 256, shuffle=False)

    def trainer(model, optimizer, scheduler, loss_fn, name):
        return Trainer(model, optimizer, loss_fn, device=CPU, scheduler=scheduler, metrics={"acc": accuracy},
                       checkpoint_path=tmp_path / name, progress=False)

    model, optimizer, scheduler, batches = _run(fashion, 0, batches_kind)
    reference = trainer(model, optimizer, scheduler, nn.CrossEntropyLoss(), "reference.pt")
    reference.fit(batches, val, epochs=3)

    model, optimizer, scheduler, batches = _run(fashion, 0, batches_kind)
    crashing = trainer(model, optimizer, scheduler, InterruptAt(model, call=16 + 5), "run.pt")
    with pytest.raises(KeyboardInterrupt):  # in epoch 2 (16 batches per epoch), after 4 updates
        crashing.fit(batches, val, epochs=3)

    torch.manual_seed(123)  # a fresh process: other weights, other RNG states, other shuffling
    model, optimizer, scheduler, batches = _run(fashion, 1, batches_kind)
    resumed = trainer(model, optimizer, scheduler, nn.CrossEntropyLoss(), "run.pt").load(tmp_path / "run.pt")
    assert resumed.epoch == 1 and len(resumed.history) == 1
    resumed.fit(batches, val, epochs=3)

    assert all(torch.equal(a, b) for a, b in zip(weights(resumed.model), weights(reference.model)))
    assert without_times(resumed.history) == without_times(reference.history)
    assert (resumed.step, resumed.best["epoch"]) == (reference.step, reference.best["epoch"])
    assert resumed.optimizer.param_groups[0]["lr"] == reference.optimizer.param_groups[0]["lr"]


def test_fit_counts_epochs_from_the_start(moons):
    X, y, _, _ = moons
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), 0.1), nn.CrossEntropyLoss(), device=CPU,
                      progress=False)
    batches = TensorBatches(X, y, 64, seed=0)
    trainer.fit(batches, epochs=2)
    trainer.fit(batches, epochs=2)
    assert len(trainer.history) == 2 and trainer.step == 10
    trainer.fit(batches, epochs=3)
    assert trainer.history["epoch"] == [1, 2, 3]


# --- gradients: accumulation and clipping -------------------------------------------------------

def _one_epoch(x, y, batch_size, accumulate):
    torch.manual_seed(0)
    model = mlp(784, 32, 10)  # no batch norm: a batch's gradient is the mean of its examples'
    # Plain SGD: its step is proportional to the gradient, so a wrongly scaled gradient shows
    # (Adam would normalise the scale away).
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.5), nn.CrossEntropyLoss(), device=CPU,
                      accumulate=accumulate, progress=False)
    trainer.fit(TensorBatches(x, y, batch_size, shuffle=False), epochs=1)
    return weights(model), trainer.step


def test_accumulating_four_batches_of_64_equals_one_batch_of_256(fashion):
    x, y = fashion.train_x[:256], fashion.train_y[:256]
    torch.manual_seed(0)
    initial = weights(mlp(784, 32, 10))
    big, big_steps = _one_epoch(x, y, 256, accumulate=1)
    accumulated, accumulated_steps = _one_epoch(x, y, 64, accumulate=4)
    separate, separate_steps = _one_epoch(x, y, 64, accumulate=1)
    assert (big_steps, accumulated_steps, separate_steps) == (1, 1, 4)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(accumulated, big))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(big, initial))
    assert not all(torch.allclose(a, b, atol=1e-4) for a, b in zip(separate, big))


def test_the_batches_left_at_the_end_of_an_epoch_still_make_a_step(fashion):
    _, steps = _one_epoch(fashion.train_x[:320], fashion.train_y[:320], 64, accumulate=4)
    assert steps == 2  # 5 batches: one step after 4, one for the last


def test_gradient_clipping_limits_the_update(moons):
    X, y, _, _ = moons

    def step_size(grad_clip):
        torch.manual_seed(0)
        model = mlp()
        before = torch.cat([p.detach().flatten() for p in model.parameters()])
        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=1.0), nn.CrossEntropyLoss(),
                          device=CPU, grad_clip=grad_clip, progress=False)
        trainer.fit(TensorBatches(X, y, 320, shuffle=False), epochs=1)
        return (torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm().item()

    assert step_size(None) > 0.05
    assert step_size(0.01) == pytest.approx(0.01, rel=1e-3)  # SGD with lr 1: the step is the clipped gradient


# --- failure, stopping, schedules ---------------------------------------------------------------

def test_a_nan_loss_stops_training_naming_the_step(moons, tmp_path):
    X, y, _, _ = moons
    torch.manual_seed(0)
    model = mlp()
    calls = 0

    def loss_fn(outputs, y):
        nonlocal calls
        calls += 1
        loss = nn.functional.cross_entropy(outputs, y)
        return loss * float("nan") if calls == 7 else loss

    trainer = Trainer(model, torch.optim.SGD(model.parameters(), 0.1), loss_fn, device=CPU, progress=False,
                      checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(FloatingPointError) as error:
        trainer.fit(TensorBatches(X, y, 64, seed=0), epochs=3)  # 5 batches per epoch
    message = str(error.value)
    assert "nan at epoch 2, batch 2 (optimizer step 7)" in message
    assert "learning rate" in message and "grad_clip" in message and "still holds epoch 1" in message
    assert len(trainer.history) == 1 and trainer.epoch == 1  # the failed epoch was not recorded
    saved = torch.load(tmp_path / "run.pt", weights_only=True)
    assert saved["epoch"] == 1 and all(torch.isfinite(w).all() for w in saved["model"].values())


def test_a_diverging_run_is_stopped_and_no_non_finite_value_is_recorded(moons):
    X, y, _, _ = moons
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=1e3), nn.CrossEntropyLoss(), device=CPU,
                      progress=False)
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        trainer.fit(TensorBatches(X, y, 64, seed=0), epochs=20)
    assert len(trainer.history) < 20  # stopped within the epoch the loss went NaN in
    assert all(map(math.isfinite, trainer.history["train_loss"]))  # no non-finite value was recorded


def _overfitting_run(moons, **trainer_args):
    """Validation labels are flipped, so validation loss rises as training succeeds."""
    X, y, _, _ = moons
    torch.manual_seed(0)
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, progress=False, **trainer_args)
    val = TensorBatches(X, 1 - y, 320, shuffle=False)
    return trainer, trainer.fit(TensorBatches(X, y, 32, seed=0), val, epochs=30), val


def test_early_stopping_stops_and_restores_the_best_weights(moons, tmp_path):
    checkpoint = tmp_path / "run.pt"
    trainer, history, val = _overfitting_run(moons, early_stopping=2, checkpoint_path=checkpoint)
    best_epoch = trainer.best["epoch"]
    assert len(history) == best_epoch + 2 < 30
    assert history["val_loss"][best_epoch - 1] == min(history["val_loss"])
    assert trainer.evaluate(val)["loss"] == pytest.approx(history["val_loss"][best_epoch - 1])
    assert trainer.evaluate(val)["loss"] != pytest.approx(history["val_loss"][-1])
    saved = torch.load(best_weights_path(checkpoint), weights_only=True)
    assert all(torch.equal(saved[name], tensor) for name, tensor in trainer.model.state_dict().items())


def test_early_stopping_needs_the_monitored_value(moons):
    X, y, _, _ = moons
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), 0.1), nn.CrossEntropyLoss(), device=CPU,
                      early_stopping=2, progress=False)
    with pytest.raises(KeyError, match="val_batches"):
        trainer.fit(TensorBatches(X, y, 64, seed=0), epochs=2)


def test_plateau_scheduler_reacts_to_the_validation_loss(moons):
    # Training loss falls every epoch; only the (rising) validation loss can trigger the cut.
    def scheduler_for(optimizer):
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)

    X, y, _, _ = moons
    torch.manual_seed(0)
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, scheduler=scheduler_for(optimizer),
                      progress=False)
    history = trainer.fit(TensorBatches(X, y, 32, seed=0), TensorBatches(X, 1 - y, 320, shuffle=False), 4)
    assert history["lr"][0] == 1e-2 and history["lr"][-1] < 1e-2
    assert history["train_loss"] == sorted(history["train_loss"], reverse=True)


@pytest.mark.parametrize(("scheduler_step", "expected_lr"), [("batch", 0.1 * 0.5**5), ("epoch", 0.1 * 0.5)])
def test_schedulers_step_per_batch_or_per_epoch(moons, scheduler_step, expected_lr):
    X, y, _, _ = moons
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=CPU, scheduler=scheduler,
                      scheduler_step=scheduler_step, progress=False)
    trainer.fit(TensorBatches(X, y, 64, seed=0), epochs=1)  # 5 batches
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected_lr)


# --- precision, memory format, progress ---------------------------------------------------------

def test_autocast_dtype_follows_the_documented_rules():
    assert autocast_dtype(False, CPU) is None
    assert autocast_dtype("auto", CPU) is None  # off on the CPU unless asked
    assert autocast_dtype(True, CPU) == torch.bfloat16
    assert autocast_dtype(torch.float16, CPU) == torch.float16
    with pytest.raises(ValueError, match="amp must be"):
        autocast_dtype("fast", CPU)


def test_bf16_autocast_on_the_cpu_when_asked(moons):
    X, y, _, _ = moons
    torch.manual_seed(0)
    model = mlp()
    seen = []
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), 1e-2), nn.CrossEntropyLoss(), device=CPU,
                      amp=True, metrics={"dtype": lambda outputs, y: seen.append(outputs.dtype) or 0},
                      progress=False)
    history = trainer.fit(TensorBatches(X, y, 64, seed=0), epochs=3)
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_channels_last_feeds_the_model_channels_last_images(fashion):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 10))
    layouts = []
    model[0].register_forward_pre_hook(
        lambda module, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    trainer = Trainer(model, torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), device=CPU,
                      channels_last=True, progress=False)
    trainer.fit(TensorBatches(fashion.train_x[:64], fashion.train_y[:64], 32, seed=0), epochs=1)
    assert layouts == [True, True]
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_the_progress_bar_shows_live_metrics(moons, capsys):
    X, y, X_val, y_val = moons
    model = mlp()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), 1e-2), nn.CrossEntropyLoss(), device=CPU,
                      metrics={"acc": accuracy})
    trainer.fit(TensorBatches(X, y, 64, seed=0), TensorBatches(X_val, y_val, 320, shuffle=False), epochs=2)
    shown = capsys.readouterr()
    # one bar for the whole run (2 epochs x 5 batches), with the running loss and metrics ...
    assert "epoch 2/2" in shown.err and "10/10" in shown.err and "acc=" in shown.err
    # ... and one printed line per finished epoch, with the validation results
    lines = [line for line in shown.out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2:") and "val_acc" in lines[1]


def test_history_can_be_rebuilt_from_saved_records():
    history = History([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}])
    assert len(history) == 2 and history["train_loss"] == [1.0, 0.5]


def test_metrics_may_return_floats_or_tensors_but_one_number_per_batch(moons):
    X, y, _, _ = moons

    def fit_with(metric):
        batches = TensorBatches(X, y, 64, seed=0)
        torch.manual_seed(0)
        model = mlp()
        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                          device=CPU, metrics={"m": metric}, progress=False)
        return trainer.fit(batches, epochs=1)

    as_tensor = fit_with(accuracy)["train_m"][-1]
    as_float = fit_with(lambda logits, y: float(accuracy(logits, y)))["train_m"][-1]
    as_int_tensor = fit_with(lambda logits, y: (logits.argmax(1) == y).sum() * 0 + 1)["train_m"][-1]
    assert as_tensor == pytest.approx(as_float, abs=1e-12) and 0.5 < as_tensor <= 1
    assert as_int_tensor == 1.0
    with pytest.raises(ValueError, match="m gave more than one number"):
        fit_with(lambda logits, y: logits.argmax(1) == y)
