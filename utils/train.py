"""A small, complete training loop: the Trainer every chapter from chapter 7 on uses.

Chapter 7 writes a training loop by hand and then reads this file. Each feature a real
run needs takes a few lines here:

- device placement, optionally channels-last memory and ``torch.compile`` (with a fallback
  to the plain model when compilation fails);
- mixed precision: bf16 autocast on GPUs that compute in bf16 natively, fp16 with a
  GradScaler on older GPUs (Colab's T4), off on the CPU unless asked for;
- gradient accumulation and clipping; schedulers stepped per batch or per epoch;
- metrics, a progress bar, and a ``History`` of per-epoch records that plots itself;
- early stopping with the best weights kept; checkpoints, written atomically, that resume
  a run exactly, and clear errors when one does not fit;
- a clear error, naming the batch, when the loss or the weights are no longer finite numbers.

Speed: a training step never waits for the GPU. Losses and metrics stay on the device
and are read (and checked) only when the progress bar redraws and at the end of each epoch.
"""

import contextlib
import math
import pathlib
import random
import time
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from utils.env import pick_device
from utils.plot import plot_learning_curves


class CheckpointError(Exception):
    """A checkpoint file cannot be read, or does not fit the trainer loading it."""


def accuracy(logits, y):
    """The fraction of right predictions, as a 0-d tensor (``float(...)`` makes it a number).

    Logits [..., C] predict their largest class; a single logit per example ([N] or
    [N, 1]) predicts class 1 when it is positive. It stays a tensor on the logits' device:
    turning it into a Python number at every batch would make the CPU wait for the GPU.
    """
    if logits.dim() == 1 or logits.shape[-1] == 1:
        predicted = (logits.reshape(-1) > 0).long()
    else:
        predicted = logits.argmax(dim=-1)
    return (predicted == y.reshape(predicted.shape)).float().mean()


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
        # bf16 keeps float32's range, so it needs no loss scaling. Only GPUs of compute capability
        # 8 (Ampere) and later compute in it; older ones, like Colab's T4 (7.5), merely emulate
        # it, slowly, although torch.cuda.is_bf16_supported() says True. They get fp16.
        return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16
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
    amp              mixed precision: False (off), "auto" (on CUDA: bf16 where the GPU has it,
                     else fp16; off elsewhere), True (as "auto", but bf16 on a CPU too) or a dtype
    compile          run the model through ``torch.compile``; the first epoch then includes the
                     compilation (tens of seconds on a CPU), and if compiling fails the plain
                     model is used, with one warning
    channels_last    keep images as [N, H, W, C] in memory, faster for convolutions on GPUs
    grad_clip        clip the norm of all gradients together to this value
    accumulate       sum the gradients of this many batches into one optimizer step
    metrics          {name: fn(outputs, y) -> number or 0-d tensor}, e.g. {"acc": accuracy}
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
        self._unfinished_epoch = None  # an epoch that stopped partway (Ctrl-C, an error)

    def fit(self, train_batches, val_batches=None, epochs=1):
        """Train until ``epochs`` epochs have run in all, evaluating after each; return the History.

        ``epochs`` counts from the very start: a trainer that ``load``-ed a checkpoint
        written after epoch 2 runs epochs 3 to 5 when asked for ``epochs=5``. After an
        interruption (Ctrl-C) ``fit`` goes on from the last checkpoint.
        """
        if self._unfinished_epoch is not None:
            self._go_back_to_checkpoint()
        self._train_batches = train_batches
        generator = _shuffling_generator(train_batches)
        if self._batches_rng_state is not None and generator is not None:
            generator.set_state(self._batches_rng_state)  # resume the shuffling where it stopped
        self._batches_rng_state = None
        if self.run_model is not self.model and self.epoch < epochs:
            self._say("torch.compile: the first epoch includes compiling the model, so it runs slower.")
        # One bar for the whole run (a bar per epoch would embed a widget per epoch in the page);
        # each finished epoch also prints one line, which stays readable in a static page.
        length = _length(train_batches)
        with tqdm(total=length * (epochs - self.epoch) if length else None, disable=not self.progress) as bar:
            while self.epoch < epochs:
                try:
                    record = self._run_epoch(train_batches, val_batches, epochs, bar)
                except BaseException:
                    # Ctrl-C or an error partway: the weights, optimizer and scheduler have moved
                    # on, so this epoch cannot simply run again; the next fit() deals with it.
                    self._unfinished_epoch = self.epoch + 1
                    raise
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
                        _save_atomically(self.best["weights"], best_weights_path(self.checkpoint_path))
                if self.early_stopping is not None and self.epoch - self.best["epoch"] >= self.early_stopping:
                    self.restore_best()
                    self._say(f"Early stop after epoch {self.epoch}: {self.monitor} has not improved "
                              f"for {self.early_stopping} epochs. Restored the weights of epoch "
                              f"{self.best['epoch']} ({self.monitor} = {self.best['value']:.4g}).")
                    break
        return self.history

    def _run_epoch(self, train_batches, val_batches, epochs, bar):
        """Train one epoch and validate; return its record. Nothing non-finite gets past here."""
        started = time.perf_counter()
        bar.set_description(f"epoch {self.epoch + 1}/{epochs}")
        record = {"epoch": self.epoch + 1, **_prefixed("train_", self._train_epoch(train_batches, bar))}
        if not bool(torch.stack([p.isfinite().all() for p in self.model.parameters()]).all()):
            raise FloatingPointError(self._stopped(
                f"Some weights are no longer finite after epoch {self.epoch + 1} (optimizer step "
                f"{self.step}), although every loss was: the gradients of the last step were not finite."))
        if val_batches is not None:
            record.update(_prefixed("val_", self.evaluate(val_batches)))
            if not all(math.isfinite(value) for value in record.values()):
                raise FloatingPointError(self._stopped(
                    f"Validation after epoch {self.epoch + 1} (optimizer step {self.step}) gave non-finite "
                    f"values: {record}. Check the validation inputs and targets too."))
        record["lr"] = float(self.optimizer.param_groups[0]["lr"])
        record["time"] = time.perf_counter() - started
        return record

    def _train_epoch(self, batches, bar):
        """One pass over ``batches`` that updates the weights; returns the mean loss and metrics."""
        self.model.train()
        tally = _Tally(self.metrics, epoch=self.epoch + 1, stopped=self._stopped)
        batch_index = 0
        for batch_index, batch in enumerate(batches, start=1):
            x, y = self._to_device(*batch)
            with self._autocast():
                outputs = self._forward(x)
                loss = self.loss_fn(outputs, y)
            tally.add(loss, outputs, y, step=self.step + 1)
            if self.accumulate > 1:  # the summed gradients are then those of the group's mean loss
                loss = loss / self.accumulate
            self.scaler.scale(loss).backward()
            if batch_index % self.accumulate == 0:
                self._optimizer_step()
            if bar.update() and self.progress:  # the bar redrew: a few times a second at most
                bar.set_postfix({name: f"{mean:.4f}" for name, mean in tally.means().items()}, refresh=False)
        if batch_index == 0:
            raise ValueError("train_batches gave no batches")
        if self.progress:
            bar.set_postfix({name: f"{mean:.4f}" for name, mean in tally.means().items()}, refresh=False)
        leftover = batch_index % self.accumulate
        if leftover:  # a last, smaller group: its gradients were divided by `accumulate`, not by its size
            for parameter in self.model.parameters():
                if parameter.grad is not None:
                    parameter.grad.mul_(self.accumulate / leftover)
            self._optimizer_step()
        return tally.means()

    @torch.no_grad()
    def evaluate(self, batches):
        """The mean loss and metrics over ``batches``, without training: {"loss": ..., name: ...}."""
        self.model.eval()  # dropout off, batch norm uses its running statistics
        tally = _Tally(self.metrics)
        for batch in batches:
            x, y = self._to_device(*batch)
            with self._autocast():
                outputs = self._forward(x)
                tally.add(self.loss_fn(outputs, y), outputs, y)
        return tally.means()

    def _optimizer_step(self):
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not fp16-scaled ones
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        scale = self.scaler.get_scale()  # always 1.0 without fp16
        self.scaler.step(self.optimizer)  # with fp16, skipped when a gradient overflowed...
        self.scaler.update()  # ...and then the scale is lowered
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler.get_scale() < scale:
            return  # a skipped step does not count, and the schedule waits for a real one
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
        _save_atomically({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "kinds": self._kinds(),
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history.records,
            "best": self.best,
            "rng": _global_rng_states(),
            "batches_rng": generator.get_state() if generator is not None else None,
        }, path)

    def load(self, path):
        """Restore a state written by ``save`` into this trainer; returns the trainer.

        Build the trainer as for the original run (same model, optimizer and scheduler
        kinds), load, then call ``fit`` with the same data and ``epochs``: the run ends
        exactly as if it had never stopped. A file that cannot be read, or that does not
        fit this trainer, raises ``CheckpointError`` saying why.
        """
        path = pathlib.Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)  # plain data only: runs no code
        except FileNotFoundError:
            raise
        except Exception as exc:  # empty, truncated, or not written by torch.save
            raise CheckpointError(f"{path} cannot be read as a checkpoint ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); it is "
                                  "probably empty or truncated. Use another copy or start afresh.") from exc
        if not isinstance(state, dict) or "optimizer" not in state:
            raise CheckpointError(f"{path} holds no training state, so it is not a Trainer checkpoint. "
                                  "For a best-weights file use "
                                  "model.load_state_dict(torch.load(path, weights_only=True)).")
        saved = state.get("kinds", self._kinds())  # checkpoints from before kinds were saved: trusted
        if saved != self._kinds():
            raise CheckpointError(f"{path} was saved by a trainer with {_describe(saved)}, but this one has "
                                  f"{_describe(self._kinds())}: build the trainer as for the original run.")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path} does not fit this trainer: {exc}") from exc
        self.epoch, self.step = state["epoch"], state["step"]
        self.history = History(state["history"])
        self.best = state["best"]
        _set_global_rng_states(state["rng"])
        self._batches_rng_state = state["batches_rng"]
        self._unfinished_epoch = None
        return self

    def _kinds(self):
        return {"optimizer": type(self.optimizer).__name__,
                "scheduler": type(self.scheduler).__name__ if self.scheduler is not None else None}

    def _go_back_to_checkpoint(self):
        """After an epoch stopped partway, restart from the last checkpoint, or say what to do."""
        epoch, path = self._unfinished_epoch, self.checkpoint_path
        if path is None or not path.is_file():
            raise RuntimeError(
                f"Epoch {epoch} stopped partway, so the weights, optimizer and scheduler are in the middle "
                "of it and training cannot go on exactly; and there is no checkpoint to go back to. The "
                f"model and trainer.history (epochs 1 to {self.epoch}) are usable as they are. To train "
                "further, build a new Trainer (with a new optimizer and scheduler) around the model; pass "
                "checkpoint_path= to make a run resumable.")
        self._say(f"Epoch {epoch} stopped partway: going on from {path}.")
        self.load(path)

    def _stopped(self, problem):
        """The message of a FloatingPointError: what went wrong, what was kept, the usual fixes."""
        kept = f" {self.checkpoint_path} still holds epoch {self.epoch}." if self.checkpoint_path else ""
        return (f"{problem} Training stopped.{kept} Usual fixes: a lower learning rate, gradient clipping "
                "(grad_clip=1.0), bf16 instead of fp16, and checking the inputs and targets for NaN, Inf or "
                "out-of-range values.")

    def _forward(self, x):
        """``run_model(x)``; if ``torch.compile`` cannot compile the model, the plain model from then on."""
        try:
            return self.run_model(x)
        except Exception as exc:
            if self.run_model is self.model:
                raise
            # e.g. no working C++ compiler, or an operation the compiler does not support
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {str(exc).strip()[:300]}); "
                          "training goes on without compiling (same results, slower).", stacklevel=3)
            self.run_model = self.model
            return self.model(x)

    def _to_device(self, x, y):
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()  # not torch.autocast(enabled=False): some devices lack it
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _say(self, message):
        if self.progress:
            tqdm.write(message)


class _Tally:
    """Each batch's size, loss and metrics, left on the device until ``means`` reads them all at once.

    Reading one value from a GPU makes the CPU wait until the GPU has finished all its queued
    work; reading at every batch would keep the GPU idle while the CPU prepares the next one.
    """

    def __init__(self, metrics, epoch=None, stopped=None):
        self.metrics, self.epoch, self.stopped = metrics, epoch, stopped
        self.totals = {"loss": 0.0, **dict.fromkeys(metrics, 0.0)}
        self.count = self.batches = 0
        self.pending = []  # (batch size, optimizer step, {name: value}) of the batches not read yet

    def add(self, loss, outputs, y, step=None):
        values = {"loss": loss.detach()}
        if self.metrics:
            with torch.no_grad():
                values.update((name, metric(outputs, y)) for name, metric in self.metrics.items())
        self.pending.append((len(y), step, values))

    def means(self):
        """The mean loss and metrics so far, weighted by batch size, as floats.

        When training (``epoch`` given), a loss that is not finite raises FloatingPointError naming its batch.
        """
        if self.pending:
            sizes = torch.tensor([size for size, _, _ in self.pending], dtype=torch.float64)
            for name in self.totals:
                column = [batch[name] for _, _, batch in self.pending]
                if all(isinstance(value, torch.Tensor) for value in column):
                    values = torch.stack(column).reshape(-1)  # one copy from the device for the lot
                else:
                    values = torch.tensor([float(value) for value in column])
                if len(values) != len(column):
                    raise ValueError(f"{name} gave more than one number for a batch")
                values = values.to("cpu", torch.float64)
                if name == "loss" and self.epoch is not None and not values.isfinite().all():
                    first = int((~values.isfinite()).nonzero()[0])
                    raise FloatingPointError(self.stopped(
                        f"The loss is {values[first].item()} at epoch {self.epoch}, batch "
                        f"{self.batches + first + 1} (optimizer step {self.pending[first][1]})."))
                self.totals[name] += float(values @ sizes)
            self.count += int(sizes.sum())
            self.batches += len(self.pending)
            self.pending.clear()
        if self.count == 0:
            raise ValueError("the batches were empty: there is nothing to average")
        return {name: total / self.count for name, total in self.totals.items()}


def best_weights_path(checkpoint_path):
    """Where a Trainer with this ``checkpoint_path`` keeps the best weights: ``run.pt`` -> ``run.best.pt``.

    Load them with ``model.load_state_dict(torch.load(path, weights_only=True))``.
    """
    path = pathlib.Path(checkpoint_path)
    return path.with_name(f"{path.stem}.best{path.suffix}")


def _save_atomically(obj, path):
    """``torch.save`` into a ``.part`` file renamed to ``path`` once complete: a crash or a full disk
    never leaves a half-written file under the real name, nor a stray ``.part``."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        torch.save(obj, partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _describe(kinds):
    return f"optimizer {kinds['optimizer']} and " + (f"scheduler {kinds['scheduler']}" if kinds["scheduler"]
                                                      else "no scheduler")


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
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "mps": torch.mps.get_rng_state() if torch.backends.mps.is_available() else None}


def _set_global_rng_states(states):
    random.setstate(states["python"])
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if states.get("mps") is not None and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"])
