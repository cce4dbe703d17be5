"""Benchmark the notebook's training recipe (`make bench`).

Trains the reference ResNet50 (the solution in the instructor notebook) on SIGNS with the notebook's recipe for
several seeds, and in the same run `keras.applications.ResNet50(weights=None)` with the same recipe and data, then
writes `outputs/bench.json`:

- held-out (test set) accuracy after every epoch, per seed, and `epochs_to_95` (worst seed; null if a seed never
  reaches 95%);
- training throughput in images per second and its ratio to keras.applications, measured in the same run: both
  models train in one process, in alternating bursts of the recipe's training steps, so that the load of a shared
  machine, which drifts over minutes, slows both alike (the median burst of each counts). The full training runs'
  own throughput (epochs after the first, which also traces the graph) is recorded too;
- test accuracy on changed copies of the test photos (`resnets_utils.robustness_transforms`);
- peak memory (RSS), the machine and the library versions.

Each run trains in a fresh process, so runs do not share memory or compiled graphs, and the peak RSS is what one
training run (what the notebook does) needs.

Usage: .venv/bin/python tools/bench.py [--seeds 0 1 2] [--epochs N] [--train-examples N] [--output outputs/bench.json]
"""
import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import keras
import numpy as np
import psutil
import tensorflow as tf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import resnets_utils  # noqa: E402
from instructor.reference import load_reference  # noqa: E402

TARGET_ACCURACY = 0.95
OURS = "reference ResNet50"
KERAS = "keras.applications.ResNet50"
DEFAULT_OUTPUT = REPO / "outputs" / "bench.json"


class TrainingTimer(keras.callbacks.Callback):
    """Records, per epoch, the seconds spent on training steps (validation excluded) and the images seen."""

    def __init__(self, batch_size, train_examples):
        super().__init__()
        self.batch_size = batch_size
        self.train_examples = train_examples
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_step_done = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self.last_step_done - self.started)

    def images_per_second(self):
        """Throughput over the epochs after the first (the first also builds and traces the training step)."""
        timed = self.seconds[1:] or self.seconds
        return self.train_examples * len(timed) / sum(timed)


def peak_rss_bytes():
    """Largest resident set size of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports kilobytes, macOS bytes


def first_epoch_reaching(accuracies, target=TARGET_ACCURACY):
    """1-based epoch at which `accuracies` first reaches `target`, or None."""
    return next((epoch for epoch, value in enumerate(accuracies, 1) if value >= target), None)


def load_data(train_examples):
    """SIGNS as the notebook prepares it: (X_train, Y_train, X_test, Y_test, test_labels)."""
    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = resnets_utils.load_dataset()
    return (resnets_utils.scale_images(X_train_orig[:train_examples]),
            resnets_utils.convert_to_one_hot(Y_train_orig[:, :train_examples], 6).T,
            resnets_utils.scale_images(X_test_orig), resnets_utils.convert_to_one_hot(Y_test_orig, 6).T,
            Y_test_orig.reshape(-1))


def build_model(name):
    """A fresh, untrained ResNet50 for 64x64x3 photos and 6 classes: ours (the reference solution) or Keras'."""
    if name == OURS:
        return load_reference().ResNet50(input_shape=(64, 64, 3), classes=6)
    return keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)


def train_once(name, seed, epochs, recipe, train_examples):
    """Build a model with the global seed set, train it with the recipe, measure it; returns a result dict."""
    X_train, Y_train, X_test, Y_test, test_labels = load_data(train_examples)
    keras.utils.set_random_seed(seed)
    model = build_model(name)
    timer = TrainingTimer(recipe.batch_size, len(X_train))
    started = time.perf_counter()
    history = resnets_utils.train_with_recipe(
        model, X_train, Y_train, X_test, Y_test, epochs, recipe=recipe, seed=seed, callbacks=[timer])
    train_seconds = time.perf_counter() - started
    print(f"  measuring robustness on {len(resnets_utils.robustness_transforms())} changed copies of the test set",
          flush=True)
    robustness = resnets_utils.evaluate_robustness(model, X_test, test_labels)
    print("  " + resnets_utils.format_robustness(robustness).replace("\n", "\n  "), flush=True)
    held_out = [round(float(value), 4) for value in history.history["val_accuracy"]]
    return {
        "model": name,
        "seed": seed,
        "parameters": model.count_params(),
        "held_out_accuracy_per_epoch": held_out,
        "train_accuracy_per_epoch": [round(float(v), 4) for v in history.history["accuracy"]],
        "epochs_to_95": first_epoch_reaching(held_out),
        "robustness_accuracy": {key: round(value, 4) for key, value in robustness.items()},
        "train_seconds_per_epoch": [round(s, 2) for s in timer.seconds],
        "images_per_second": round(timer.images_per_second(), 2),
        "fit_wall_seconds": round(train_seconds, 1),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def measure_throughput(recipe, rounds, steps, train_examples):
    """Training images per second of both models, trained in alternating bursts of `steps` steps.

    Returns:
    dict: per model, the images per second of every burst and their median; the peak RSS of this process.
    """
    X_train, Y_train, _, _, _ = load_data(train_examples)
    dataset = resnets_utils.make_training_dataset(
        X_train, Y_train, recipe.batch_size, recipe.mirror, resnets_utils.make_augmentation(0),
        recipe.augment_probability, seed=0).repeat()
    models = {}
    for name in (OURS, KERAS):
        keras.utils.set_random_seed(0)
        models[name] = resnets_utils.compile_with_recipe(build_model(name), recipe, steps, rounds + 1)
    # The first burst of each builds and traces the training step; it is not timed.
    for model in models.values():
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    rates = {name: [] for name in models}
    for round_number in range(1, rounds + 1):
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
            rates[name].append(round(steps * recipe.batch_size / (time.perf_counter() - started), 2))
        print(f"  round {round_number}/{rounds}: " + ", ".join(f"{name} {rates[name][-1]:.1f} images/s"
                                                             for name in models), flush=True)
    return {
        "rounds": rounds,
        "steps_per_burst": steps,
        "images_per_second_per_burst": rates,
        "median_images_per_second": {name: float(np.median(values)) for name, values in rates.items()},
        "peak_rss_bytes": peak_rss_bytes(),
    }


def in_fresh_process(function, *arguments):
    """`function(*arguments)` in a new Python process, which exits afterwards."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        return executor.submit(function, *arguments).result()


def machine_description():
    """CPU, memory, GPU and library versions of this machine."""
    cpu_name = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu_name = names[0] if names else cpu_name
    return {
        "cpu": cpu_name,
        "logical_cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def summarise(runs, throughput):
    """The headline numbers from the per-run results and the throughput bursts."""
    ours = [run for run in runs if run["model"] == OURS]
    keras_run = next(run for run in runs if run["model"] == KERAS)
    reached = [run["epochs_to_95"] for run in ours]
    ours_speed = throughput["median_images_per_second"][OURS]
    keras_speed = throughput["median_images_per_second"][KERAS]
    training_runs_speed = float(np.mean([run["images_per_second"] for run in ours]))
    transforms = list(ours[0]["robustness_accuracy"])
    return {
        "images_per_second": round(ours_speed, 2),
        "keras_applications_images_per_second": round(keras_speed, 2),
        "throughput_ratio_vs_keras_applications": round(ours_speed / keras_speed, 3),
        "training_runs_images_per_second": round(training_runs_speed, 2),
        "training_runs_keras_applications_images_per_second": keras_run["images_per_second"],
        "epochs_to_95": None if None in reached else max(reached),
        "epochs_to_95_per_seed": {str(run["seed"]): run["epochs_to_95"] for run in ours},
        "held_out_accuracy_per_seed": {str(run["seed"]): run["held_out_accuracy_per_epoch"] for run in ours},
        "keras_applications_held_out_accuracy": keras_run["held_out_accuracy_per_epoch"],
        "robustness_accuracy_mean_over_seeds": {
            name: round(float(np.mean([run["robustness_accuracy"][name] for run in ours])), 4) for name in transforms},
        "robustness_accuracy_min_over_seeds": {
            name: round(float(np.min([run["robustness_accuracy"][name] for run in ours])), 4) for name in transforms},
    }


def print_summary(summary, peak_bytes, wall_seconds):
    print("\nSummary")
    print(f"  throughput (alternating bursts): {summary['images_per_second']:.1f} images/s (keras.applications "
          f"{summary['keras_applications_images_per_second']:.1f}), ratio "
          f"{summary['throughput_ratio_vs_keras_applications']:.3f}")
    print(f"  throughput (training runs): {summary['training_runs_images_per_second']:.1f} images/s "
          f"(keras.applications {summary['training_runs_keras_applications_images_per_second']:.1f})")
    print(f"  epochs to 95% held-out accuracy: {summary['epochs_to_95']} (worst seed); per seed "
          f"{summary['epochs_to_95_per_seed']}")
    for seed, accuracies in summary["held_out_accuracy_per_seed"].items():
        print(f"  seed {seed}: held-out accuracy per epoch {accuracies}")
    print("  robustness (mean over seeds):")
    print("    " + resnets_utils.format_robustness(summary["robustness_accuracy_mean_over_seeds"])
          .replace("\n", "\n    "))
    print(f"  peak RSS of a training run: {peak_bytes / 2**30:.2f} GiB; wall time {wall_seconds / 60:.1f} min")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the notebook's full budget)")
    parser.add_argument("--train-examples", type=int, default=None,
                        help="train on the first N training photos only (a quick check of this script)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput bursts per model")
    parser.add_argument("--steps", type=int, default=30, help="training steps per throughput burst")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args()

    started = time.perf_counter()
    load_at_start = os.getloadavg()
    os.environ.pop(resnets_utils.AUTOGRADE_ENV_VAR, None)
    epochs = arguments.epochs or resnets_utils.training_budget().epochs
    recipe = resnets_utils.TrainingRecipe()
    X_train, _, _, _, test_labels = load_data(arguments.train_examples)
    # keras.applications runs second, between our seeds, so that slow drifts of a shared machine hit both.
    plan = [(OURS, arguments.seeds[0]), (KERAS, arguments.seeds[0])]
    plan += [(OURS, seed) for seed in arguments.seeds[1:]]
    print(f"Training {len(plan)} runs of {epochs} epochs on {len(X_train)} training photos, testing on "
          f"{len(test_labels)}; recipe {dataclasses.asdict(recipe)}", flush=True)

    runs = []
    for number, (name, seed) in enumerate(plan, 1):
        print(f"\n[{number}/{len(plan)}] {name}, seed {seed} ({(time.perf_counter() - started) / 60:.1f} min so far)",
              flush=True)
        runs.append(in_fresh_process(train_once, name, seed, epochs, recipe, arguments.train_examples))
    print(f"\n[throughput] {OURS} and {KERAS} in alternating bursts of {arguments.steps} steps "
          f"({(time.perf_counter() - started) / 60:.1f} min so far)", flush=True)
    throughput = in_fresh_process(measure_throughput, recipe, arguments.rounds, arguments.steps,
                                  arguments.train_examples)

    wall_seconds = time.perf_counter() - started
    summary = summarise(runs, throughput)
    peak_rss = max(run["peak_rss_bytes"] for run in runs)
    report = {
        "command": "make bench  (= .venv/bin/python tools/bench.py)",
        **summary,
        "peak_rss_bytes": peak_rss,
        "peak_rss_gib": round(peak_rss / 2**30, 3),
        "peak_rss_note": "largest peak of one training run (each runs in its own process, as the notebook trains "
                         "one model at a time); the throughput process holds both models: see throughput",
        "wall_seconds": round(wall_seconds, 1),
        "epochs": epochs,
        "recipe": dataclasses.asdict(recipe),
        "train_examples": len(X_train),
        "test_examples": len(test_labels),
        "load_average_at_start": [round(value, 2) for value in load_at_start],
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "machine": machine_description(),
        "throughput": throughput,
        "runs": runs,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=1) + "\n")
    print_summary(summary, peak_rss, wall_seconds)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
