"""GPU check: float32 against mixed precision, channels-last and torch.compile, in minutes.

    python -m benchmarks.gpu [--epochs 10] [--target 0.92] [--chapters]

The one command to run when a GPU is available. It prints the GPU, its compute capability
and the autocast dtype the Trainer picks there (bf16 only where the GPU computes in it,
fp16 with a GradScaler otherwise: the same ``utils.train.autocast_dtype``). Then it trains
the same CNN (blocks of 32, 64 and 128 channels, flip-and-crop augmentation) on
Fashion-MNIST with each setting, from the same seed, with the whole dataset on the GPU,
and reports the first epoch's time (it includes compilation), the mean of the others, the
speed-up over float32, the final test accuracy and the training time until it first
reaches ``--target``. ``--chapters`` also executes every chapter notebook at the GPU
scale preset and reports its time. Without CUDA it says so and measures nothing.
``--device cpu --epochs 1 --limit 2048`` is a quick check of the script itself.
"""

import argparse
import os
import pathlib
import statistics
import time

import torch
from torch import nn

from benchmarks.common import describe_machine, fashion_cnn
from utils.data import TensorBatches, load_fashion_mnist
from utils.env import SCALE_ENV_VAR, seed_everything
from utils.train import Trainer, accuracy, autocast_dtype

SETTINGS = {
    "float32": {},
    "amp": {"amp": "auto"},
    "amp + channels_last": {"amp": "auto", "channels_last": True},
    "float32 + compile": {"compile": True},
    "amp + compile": {"amp": "auto", "compile": True},
}
ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(data, device, settings, epochs, limit):
    seed_everything(0)
    model = fashion_cnn((32, 64, 128))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.05)
    # drop_last keeps every batch the same shape, so torch.compile compiles once.
    train = TensorBatches(data.train_x[:limit], data.train_y[:limit], 256, augment=True, drop_last=True,
                          seed=0)
    test = TensorBatches(data.test_x, data.test_y, 1000, shuffle=False)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=epochs * len(train))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device=device, scheduler=scheduler,
                      metrics={"acc": accuracy}, progress=False, **settings)
    history = trainer.fit(train, test, epochs=epochs)
    compiled = settings.get("compile") and trainer.run_model is not trainer.model  # False if it fell back
    return history, trainer.amp_dtype, compiled


def describe_gpu(device):
    """One line: the GPU, its compute capability, and the autocast dtype the Trainer uses there."""
    dtype = autocast_dtype("auto", device)
    major, minor = torch.cuda.get_device_capability(device)
    why = "native bf16" if dtype == torch.bfloat16 else "no native bf16: fp16 with a GradScaler"
    return (f"GPU: {torch.cuda.get_device_name(device)}, compute capability {major}.{minor}; "
            f"amp='auto' uses {str(dtype).removeprefix('torch.')} ({why})")


def run_chapters(timeout):
    """Execute every chapter notebook at the GPU scale preset; print each one's time and outcome."""
    import nbclient  # noqa: PLC0415 (a development dependency, needed for --chapters only)
    import nbformat  # noqa: PLC0415

    os.environ[SCALE_ENV_VAR] = "gpu"
    print(f"\nchapters at ${SCALE_ENV_VAR}=gpu:")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        try:
            resources = {"metadata": {"path": str(path.parent)}}
            nbclient.NotebookClient(notebook, timeout=timeout, resources=resources).execute()
            outcome = "ok"
        except Exception as exc:  # report and go on with the next chapter
            outcome = f"FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}"
        print(f"  {path.name:32s} {time.perf_counter() - started:7.1f} s  {outcome}")


def time_to(target, history):
    """Seconds of training until the test accuracy first reached ``target``, or None."""
    elapsed = 0.0
    for record in history.records:
        elapsed += record["time"]
        if record["val_acc"] >= target:
            return elapsed
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.92)
    parser.add_argument("--chapters", action="store_true", help="also run every chapter at the GPU preset")
    parser.add_argument("--chapter-timeout", type=int, default=600, help="seconds per notebook cell")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--limit", type=int, default=60000, help="train on the first N images only")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("No GPU available (torch.cuda.is_available() is False): nothing was measured. "
              "Run this on a CUDA machine, e.g. Colab with a GPU runtime.")
        return
    describe_machine()
    if args.device == "cuda":
        print(describe_gpu(torch.device("cuda")))
    data = load_fashion_mnist(device=args.device)
    baseline = None
    print(f"\n{'setting':22s} {'autocast':>9s} {'1st epoch':>10s} {'epoch':>8s} {'speed-up':>9s} "
          f"{'final acc':>10s} {'to ' + format(args.target, '.0%'):>9s}")
    for name, settings in SETTINGS.items():
        if settings.get("compile") and args.device == "cpu":
            continue  # compiling on a CPU takes minutes: not part of the quick check
        history, dtype, compiled = run(data, args.device, settings, args.epochs, args.limit)
        times = history["time"]
        later = statistics.mean(times[1:]) if len(times) > 1 else times[0]
        baseline = baseline or later
        reached = time_to(args.target, history)
        autocast = str(dtype).removeprefix("torch.") if dtype is not None else "off"
        print(f"{name:22s} {autocast:>9s} {times[0]:9.1f}s {later:7.2f}s "
              f"{baseline / later:8.2f}x {history['val_acc'][-1]:10.2%} "
              f"{f'{reached:.0f}s' if reached is not None else 'never':>9s}"
              + ("   (compile failed: ran without it)" if settings.get("compile") and not compiled else ""))
    if args.chapters:
        run_chapters(args.chapter_timeout)


if __name__ == "__main__":
    main()
