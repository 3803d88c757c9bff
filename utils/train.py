"""A small, complete training loop: the Trainer every chapter from chapter 7 on uses.

Chapter 7 writes a training loop by hand and then reads this file. Each feature a real
run needs takes a few lines here:

- device placement, optionally channels-last memory and ``torch.compile``;
- mixed precision: bf16 autocast where the GPU has it, fp16 with a GradScaler on older
  GPUs, off on the CPU unless asked for;
- gradient accumulation and clipping; schedulers stepped per batch or per epoch;
- metrics, a progress bar, and a ``History`` of per-epoch records that plots itself;
- early stopping with the best weights kept; checkpoints that resume a run exactly;
- a clear error, naming the step, as soon as the loss is no longer a finite number.
"""

import math
import pathlib
import random
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from utils.env import pick_device
from utils.plot import plot_learning_curves


def accuracy(logits, y):
    """The fraction of right predictions, as a float.

    Logits [..., C] predict their largest class; a single logit per example ([N] or
    [N, 1]) predicts class 1 when it is positive.
    """
    if logits.dim() == 1 or logits.shape[-1] == 1:
        predicted = (logits.reshape(-1) > 0).long()
    else:
        predicted = logits.argmax(dim=-1)
    return (predicted == y.reshape(predicted.shape)).float().mean().item()


class History:
    """What happened during training: one record (a dict) per epoch.

    A record holds ``epoch``, ``train_loss``, ``val_loss`` (when there is validation data),
    every metric as ``train_<name>`` and ``val_<name>``, ``lr`` (the learning rate the epoch
    ended with) and ``time`` (seconds). ``history["val_loss"]`` is one column as a list.
    """

    def __init__(self, records=None):
        self.records = list(records or [])

    def __len__(self):
        return len(self.records)

    def __getitem__(self, key):
        return [record.get(key) for record in self.records]

    def __repr__(self):
        return f"History({len(self)} epochs, last: {self.records[-1] if self.records else None})"

    def plot(self, ax=None):
        """Learning curves: the loss and each metric per epoch, train and validation."""
        return plot_learning_curves(self, ax=ax)


def autocast_dtype(amp, device):
    """The dtype autocast runs in for the ``amp`` setting on ``device``, or None for float32."""
    if amp is False or amp is None:
        return None
    if isinstance(amp, torch.dtype):
        return amp
    if amp not in (True, "auto"):
        raise ValueError(f"amp must be False, True, 'auto' or a torch dtype, not {amp!r}")
    if device.type == "cuda":
        # bf16 keeps float32's range, so it needs no loss scaling; GPUs older than Ampere lack it.
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # Elsewhere "auto" stays off (CPUs rarely gain from it); True asks for bf16 all the same.
    return torch.bfloat16 if amp is True else None


class Trainer:
    """Train ``model`` with ``optimizer`` to minimise ``loss_fn(model(x), y)``.

    Batches are ``(x, y)`` pairs from any iterable, e.g. ``TensorBatches`` or a DataLoader.
    The other arguments are optional:

    device           where to train; by default the fastest there is (``pick_device``)
    scheduler        a learning-rate scheduler, stepped after every optimizer step
                     (``scheduler_step="batch"``) or after every epoch (``"epoch"``);
                     ReduceLROnPlateau is always stepped per epoch, with the monitored value
    amp              mixed precision: False (off), "auto" (bf16, else fp16, on CUDA; off
                     elsewhere), True (as "auto", but bf16 on a CPU too) or a torch dtype
    compile          run the model through ``torch.compile``
    channels_last    keep images as [N, H, W, C] in memory, faster for convolutions on GPUs
    grad_clip        clip the norm of all gradients together to this value
    accumulate       sum the gradients of this many batches into one optimizer step
    metrics          {name: fn(outputs, y) -> number}, e.g. {"acc": accuracy}
    early_stopping   stop when ``monitor`` has not improved for this many epochs, and put
                     the best weights back
    monitor          the record key that says which epoch is best, "val_loss" by default;
                     a key with "loss" in its name is minimised, any other maximised
    checkpoint_path  after each epoch, save the whole state there (see ``load``), and the
                     best weights so far beside it as ``<name>.best<suffix>``
    progress         show a progress bar and print one line per epoch
    """

    def __init__(self, model, optimizer, loss_fn, device=None, scheduler=None, scheduler_step="batch",
                 amp=False, compile=False,  # noqa: A002 (named after torch.compile, which it turns on)
                 channels_last=False, grad_clip=None, accumulate=1, metrics=None, early_stopping=None,
                 monitor="val_loss", checkpoint_path=None, progress=True):
        if scheduler_step not in ("batch", "epoch"):
            raise ValueError(f"scheduler_step must be 'batch' or 'epoch', not {scheduler_step!r}")
        self.device = torch.device(device) if device is not None else pick_device()
        self.model = model.to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # The compiled module shares the model's weights; saving and loading go through self.model.
        self.run_model = torch.compile(self.model) if compile else self.model
        self.optimizer, self.loss_fn, self.scheduler = optimizer, loss_fn, scheduler
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        self.scheduler_step = "epoch" if plateau else scheduler_step
        self.amp_dtype = autocast_dtype(amp, self.device)
        # fp16's range is small: the scaler multiplies the loss so that small gradients do not
        # round to zero, and divides the gradients back before the optimizer uses them.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.channels_last, self.grad_clip, self.accumulate = channels_last, grad_clip, accumulate
        self.metrics = dict(metrics or {})
        self.early_stopping, self.monitor = early_stopping, monitor
        self.checkpoint_path = pathlib.Path(checkpoint_path) if checkpoint_path is not None else None
        self.progress = progress
        # The training state: everything save() writes and load() restores.
        self.history = History()
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps taken
        self.best = {"value": None, "epoch": None, "weights": None}
        self._train_batches = None  # kept so that save() can store their shuffling RNG
        self._batches_rng_state = None  # a loaded shuffling RNG state, for the next fit() to apply

    def fit(self, train_batches, val_batches=None, epochs=1):
        """Train until ``epochs`` epochs have run in all, evaluating after each; return the History.

        ``epochs`` counts from the very start: a trainer that ``load``-ed a checkpoint
        written after epoch 2 runs epochs 3 to 5 when asked for ``epochs=5``.
        """
        self._train_batches = train_batches
        generator = _shuffling_generator(train_batches)
        if self._batches_rng_state is not None and generator is not None:
            generator.set_state(self._batches_rng_state)  # resume the shuffling where it stopped
        self._batches_rng_state = None
        # One bar for the whole run (a bar per epoch would embed a widget per epoch in the page);
        # each finished epoch also prints one line, which stays readable in a static page.
        length = _length(train_batches)
        with tqdm(total=length * (epochs - self.epoch) if length else None, disable=not self.progress) as bar:
            while self.epoch < epochs:
                started = time.perf_counter()
                bar.set_description(f"epoch {self.epoch + 1}/{epochs}")
                results = self._train_epoch(train_batches, bar)
                record = {"epoch": self.epoch + 1, **_prefixed("train_", results)}
                if val_batches is not None:
                    record.update(_prefixed("val_", self.evaluate(val_batches)))
                record["lr"] = float(self.optimizer.param_groups[0]["lr"])
                record["time"] = time.perf_counter() - started
                self._say(f"epoch {record['epoch']}/{epochs}: " + ", ".join(
                    f"{key} {value:.4g}" for key, value in record.items() if key != "epoch"))
                self.epoch += 1
                self.history.records.append(record)
                if self.scheduler is not None and self.scheduler_step == "epoch":
                    self._step_scheduler_per_epoch(record)
                improved = self._remember_if_best(record)
                if self.checkpoint_path is not None:
                    self.save(self.checkpoint_path)
                    if improved:
                        torch.save(self.best["weights"], best_weights_path(self.checkpoint_path))
                if self.early_stopping is not None and self.epoch - self.best["epoch"] >= self.early_stopping:
                    self.restore_best()
                    self._say(f"Early stop after epoch {self.epoch}: {self.monitor} has not improved "
                              f"for {self.early_stopping} epochs. Restored the weights of epoch "
                              f"{self.best['epoch']} ({self.monitor} = {self.best['value']:.4g}).")
                    break
        return self.history

    def _train_epoch(self, batches, bar):
        """One pass over ``batches`` that updates the weights; returns the mean loss and metrics."""
        self.model.train()
        totals, count, batch_index = {}, 0, 0
        for batch_index, batch in enumerate(batches, start=1):
            x, y = self._to_device(*batch)
            with self._autocast():
                outputs = self.run_model(x)
                loss = self.loss_fn(outputs, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise FloatingPointError(
                    f"The loss is {loss_value} at epoch {self.epoch + 1}, batch {batch_index} (optimizer "
                    f"step {self.step + 1}); training stopped before this batch changed the weights. Usual "
                    "fixes: a lower learning rate, gradient clipping (grad_clip=1.0), bf16 instead of fp16, "
                    "and checking the inputs and targets for NaN, Inf or out-of-range values.")
            # Dividing by `accumulate` makes the summed gradients those of the mean over all the batches.
            self.scaler.scale(loss / self.accumulate).backward()
            if batch_index % self.accumulate == 0:
                self._optimizer_step()
            count += self._add_results(totals, loss_value, outputs, y)
            bar.update()
            if self.progress:
                bar.set_postfix({name: f"{total / count:.4f}" for name, total in totals.items()},
                                refresh=False)
        if count == 0:
            raise ValueError("train_batches gave no batches")
        if batch_index % self.accumulate != 0:  # the last batches of the epoch still make a step
            self._optimizer_step()
        return {name: total / count for name, total in totals.items()}

    @torch.no_grad()
    def evaluate(self, batches):
        """The mean loss and metrics over ``batches``, without training: {"loss": ..., name: ...}."""
        self.model.eval()  # dropout off, batch norm uses its running statistics
        totals, count = {}, 0
        for batch in batches:
            x, y = self._to_device(*batch)
            with self._autocast():
                outputs = self.run_model(x)
                loss = self.loss_fn(outputs, y)
            count += self._add_results(totals, loss.item(), outputs, y)
        return {name: total / count for name, total in totals.items()}

    def _add_results(self, totals, loss_value, outputs, y):
        """Add one batch's loss and metrics, weighted by its size, to ``totals``; return the size."""
        size = len(y)
        totals["loss"] = totals.get("loss", 0.0) + loss_value * size
        with torch.no_grad():
            for name, metric in self.metrics.items():
                totals[name] = totals.get(name, 0.0) + float(metric(outputs, y)) * size
        return size

    def _optimizer_step(self):
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not fp16-scaled ones
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)  # with fp16, skipped when a gradient overflowed
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        if self.scheduler is not None and self.scheduler_step == "batch":
            self.scheduler.step()

    def _step_scheduler_per_epoch(self, record):
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(record.get(self.monitor, record["train_loss"]))
        else:
            self.scheduler.step()

    def _remember_if_best(self, record):
        """Keep a copy of the weights if ``record`` holds the best monitored value so far; say if it does."""
        if self.monitor not in record:
            if self.early_stopping is not None:
                raise KeyError(f"early stopping watches {self.monitor!r}, which the records lack (they hold "
                               f"{list(record)}): pass val_batches to fit(), or choose another monitor=")
            return False
        value, best = record[self.monitor], self.best["value"]
        if best is not None and not (value < best if "loss" in self.monitor else value > best):
            return False
        weights = {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}
        self.best = {"value": value, "epoch": self.epoch, "weights": weights}
        return True

    def restore_best(self):
        """Put the best weights seen so far (judged by ``monitor``) back into the model."""
        if self.best["weights"] is None:
            raise RuntimeError(f"no best weights yet: they are kept once a record holds {self.monitor!r}")
        self.model.load_state_dict(self.best["weights"])

    def save(self, path):
        """Write the whole training state to ``path``, enough for ``load`` to go on exactly."""
        generator = _shuffling_generator(self._train_batches)
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history.records,
            "best": self.best,
            "rng": _global_rng_states(),
            "batches_rng": generator.get_state() if generator is not None else None,
        }
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        torch.save(state, partial)
        partial.replace(path)  # an interrupted save never leaves a half-written checkpoint

    def load(self, path):
        """Restore a state written by ``save`` into this trainer; returns the trainer.

        Build the trainer as for the original run (same model, optimizer and scheduler
        kinds), load, then call ``fit`` with the same data and ``epochs``: the run ends
        exactly as if it had never stopped.
        """
        state = torch.load(path, map_location="cpu", weights_only=True)  # plain data only: runs no code
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history = History(state["history"])
        self.best = state["best"]
        _set_global_rng_states(state["rng"])
        self._batches_rng_state = state["batches_rng"]
        return self

    def _to_device(self, x, y):
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def _say(self, message):
        if self.progress:
            tqdm.write(message)


def best_weights_path(checkpoint_path):
    """Where a Trainer with this ``checkpoint_path`` keeps the best weights: ``run.pt`` -> ``run.best.pt``.

    Load them with ``model.load_state_dict(torch.load(path, weights_only=True))``.
    """
    path = pathlib.Path(checkpoint_path)
    return path.with_name(f"{path.stem}.best{path.suffix}")


def _prefixed(prefix, results):
    return {prefix + name: value for name, value in results.items()}


def _length(batches):
    return len(batches) if hasattr(batches, "__len__") else None


def _shuffling_generator(batches):
    """The torch.Generator that shuffles ``batches`` (TensorBatches and DataLoader have one), or None."""
    generator = getattr(batches, "generator", None)
    return generator if isinstance(generator, torch.Generator) else None


def _global_rng_states():
    """Every global random state a training step may draw from (dropout, shuffling, augmentation)."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(),
            "numpy": [name, keys.tolist(), position, has_gauss, gauss],  # lists load with weights_only
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_global_rng_states(states):
    random.setstate(states["python"])
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
