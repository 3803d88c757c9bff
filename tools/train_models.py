"""Train the book models and record them: ``python -m tools.train_models [NAME ...]`` (``make models``).

For each model (all of them when no name is given): train it by its recipe's ``BOOK``
settings on the CPU, measure its metrics on the test split with float32 weights and
with float16-rounded weights, ship float16 when that moves the recipe's metric by at
most a quarter of its tolerance, write ``models/<name>.safetensors`` and the model's
entry in ``models/manifest.json`` (recipe hash, seed, versions, time, machine, metrics).

Training is slow on a shared machine: run it in the background and pin the threads,
e.g. ``OMP_NUM_THREADS=1 nice -n 10 python -m tools.train_models fashion_classifier``.
"""

import argparse
import datetime
import os
import platform
import sys
import time

import torch

from utils.models.recipes import RECIPES, get_recipe, recipe_hash
from utils.models.store import MODELS_DIR, read_manifest, save_weights, weights_as, write_manifest_entry

FP16_SHARE_OF_TOLERANCE = 0.25  # float16 must move the metric by at most this share of the tolerance


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    return [round(value, 2) for value in os.getloadavg()] if hasattr(os, "getloadavg") else None


def metrics_with_weights(recipe, model, weights):
    """The recipe's test metrics for ``model`` carrying ``weights`` (a state dict, any float dtype)."""
    copy = recipe.build_model()
    copy.load_state_dict(weights)  # copies into float32 parameters: exactly what loading does
    return {key: float(value) for key, value in recipe.evaluate(copy).items()}  # 0-d tensors too


def train_and_record(name, models_dir=MODELS_DIR, note=""):
    """Train the book model ``name``, save its weights and manifest entry; return the entry."""
    recipe = get_recipe(name)
    load_before, started_wall, started_cpu = load_average(), time.perf_counter(), time.process_time()
    model, losses, measured = recipe.train(progress=True)
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    load_after = load_average()

    metrics_fp32 = metrics_with_weights(recipe, model, weights_as(model, torch.float32))
    metrics_fp16 = metrics_with_weights(recipe, model, weights_as(model, torch.float16))
    change = abs(metrics_fp16[recipe.metric] - metrics_fp32[recipe.metric])
    dtype = torch.float16 if change <= FP16_SHARE_OF_TOLERANCE * recipe.tolerance else torch.float32
    weights = weights_as(model, dtype)
    file_name = f"{name}.safetensors"
    sha256 = save_weights(weights, models_dir / file_name)
    shipped = recipe.build_model()
    shipped.load_state_dict(weights)
    extra = recipe.extra_measurements(shipped.eval())

    entry = {
        "recipe": recipe.module.__name__,
        "recipe_hash": recipe_hash(recipe),
        "file": file_name,
        "sha256": sha256,
        "bytes": (models_dir / file_name).stat().st_size,
        "dtype": str(dtype).removeprefix("torch."),
        "parameters": sum(p.numel() for p in model.parameters()),
        "settings": recipe.settings,
        "seed": recipe.settings["seed"],
        "optimizer_steps": len(losses),
        "first_losses": [round(loss, 6) for loss in losses[:5]],
        "last_loss": losses[-1],
        "metric": recipe.metric,
        "tolerance": recipe.tolerance,
        "metrics": metrics_fp16 if dtype == torch.float16 else metrics_fp32,
        "metrics_float32": metrics_fp32,
        "metrics_float16": metrics_fp16,
        **measured,
        **extra,
        "training": {
            "device": "cpu",
            "wall_time_s": round(wall, 1),
            "cpu_time_s": round(cpu, 1),
            "torch_threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "note": note,
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    write_manifest_entry(name, entry, models_dir)
    return entry


def manifest_table(models_dir=MODELS_DIR):
    """The shipped models as a Markdown table: parameters, file size, CPU time, metric."""
    rows = ["| model | parameters | file | CPU training time | metric |", "|---|---:|---:|---|---|"]
    for name, entry in read_manifest(models_dir)["models"].items():
        run = entry["training"]
        time_taken = (f"{run['cpu_time_s'] / 60:.1f} min CPU, {run['wall_time_s'] / 60:.1f} min wall, "
                      f"{run['torch_threads']} thread(s), load {run['load_average_before'][0]}"
                      f"-{run['load_average_after'][0]}")
        rows.append(f"| {name} | {entry['parameters']:,} | {entry['bytes'] / 1e6:.2f} MB ({entry['dtype']}) "
                    f"| {time_taken} | {entry['metric']} {entry['metrics'][entry['metric']]:.4f} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"book models to train (default: all): {', '.join(RECIPES)}")
    parser.add_argument("--note", default="",
                        help="recorded in the manifest, e.g. 'machine shared with other jobs'")
    parser.add_argument("--table", action="store_true",
                        help="print the shipped models as a Markdown table and train nothing")
    args = parser.parse_args(argv)
    if args.table:
        print(manifest_table())
        return
    names = args.names or list(RECIPES)
    if unknown := [name for name in names if name not in RECIPES]:  # fail now, not after hours of training
        parser.error(f"no book model called {', '.join(unknown)}; the book models are: {', '.join(RECIPES)}")
    for name in names:
        print(f"Training the book model {name!r} ({torch.get_num_threads()} threads)", flush=True)
        entry = train_and_record(name, note=args.note)
        print(f"{name}: {entry['metric']} = {entry['metrics'][entry['metric']]:.4f} "
              f"({entry['dtype']} weights, {entry['bytes']:,} bytes) after "
              f"{entry['training']['wall_time_s'] / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(main())
