"""Benchmark the notebook's training recipe (`make bench`).

Measures, in one run, and writes `outputs/bench.json`:

- throughput: training images per second of the reference ResNet50 (the solution in the instructor notebook) in
  float32 and in the chosen precision (`signs.precision.choose_precision("auto")`), and of
  `keras.applications.ResNet50(weights=None)` in float32. All three train in one process in alternating bursts of
  the recipe's training steps, so that the load of a shared machine, which drifts over minutes, slows them alike;
  the ratio of the chosen precision to float32 is taken per round (the two bursts are seconds apart), then the
  median over rounds;
- a profile of one epoch: the seconds spent building the training step (the first step's extra time), computing
  (steps on ready batches), preparing the augmented batches (the input pipeline alone) and evaluating the test set;
- training runs, each in a fresh process, of the reference ResNet50 with the notebook's recipe for every seed, in
  the chosen precision and in float32 (and `keras.applications.ResNet50` for the first seed): held-out (test)
  accuracy after every epoch, the seconds of training (and of training with evaluation) until it first reaches
  95%, the accuracy on the camera-shifted test photos (`signs.camera_shift.camera_shift`) and on the robustness
  transforms (`signs.evaluation.robustness_transforms`);
- peak memory (RSS), the machine and the library versions.

Usage: .venv/bin/python -m tools.bench [--parts throughput profile runs] [--seeds 0 1 2] [--epochs N]
       [--train-examples N] [--rounds N] [--steps N] [--no-keras-run] [--output outputs/bench.json]
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

import signs.augmentation
import signs.data
import signs.evaluation
import signs.precision
import signs.training
from instructor.reference import load_reference
from signs.camera_shift import camera_shift
from signs.constants import CLASS_COUNT, IMAGE_SHAPE, OUTPUTS_DIR

TARGET_ACCURACY = 0.95
OURS = "reference ResNet50"
KERAS = "keras.applications.ResNet50"
PARTS = ("throughput", "profile", "runs")
DEFAULT_OUTPUT = OUTPUTS_DIR / "bench.json"


class TrainingTimer(keras.callbacks.Callback):
    """Records, per epoch, the seconds spent on training steps and on the whole epoch (validation included)."""

    def __init__(self, train_examples):
        super().__init__()
        self.train_examples = train_examples
        self.seconds = []
        self.seconds_with_evaluation = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_step_done = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self.last_step_done - self.started)
        self.seconds_with_evaluation.append(time.perf_counter() - self.started)

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
    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = signs.data.load_dataset()
    return (*signs.data.prepare_examples(X_train_orig, Y_train_orig, train_examples),
            *signs.data.prepare_examples(X_test_orig, Y_test_orig), Y_test_orig.reshape(-1))


def build_model(name):
    """A fresh, untrained ResNet50 for 64x64x3 photos and 6 classes: ours (the reference solution) or Keras'."""
    if name == OURS:
        return load_reference().ResNet50(input_shape=IMAGE_SHAPE, classes=CLASS_COUNT)
    return keras.applications.ResNet50(weights=None, input_shape=IMAGE_SHAPE, classes=CLASS_COUNT)


def accuracy(model, X, labels):
    return float(np.mean(signs.evaluation.predict_probabilities(model, X).argmax(axis=1) == labels))


def train_once(name, seed, epochs, recipe, train_examples):
    """Build a model with the global seed set, train it with the recipe, measure it; returns a result dict."""
    X_train, Y_train, X_test, Y_test, test_labels = load_data(train_examples)
    keras.utils.set_random_seed(seed)
    model = build_model(name)
    timer = TrainingTimer(len(X_train))
    started = time.perf_counter()
    history = signs.training.train_with_recipe(
        model, X_train, Y_train, X_test, Y_test, epochs, recipe=recipe, seed=seed, callbacks=[timer])
    train_seconds = time.perf_counter() - started
    held_out = [round(float(value), 4) for value in history.history["val_accuracy"]]
    reached = first_epoch_reaching(held_out)
    robustness = signs.evaluation.evaluate_robustness(model, X_test, test_labels)
    shifted = accuracy(model, camera_shift(X_test), test_labels)
    print(f"  held-out {held_out[-1]:.1%}, camera-shifted test {shifted:.1%}; robustness:\n  "
          + signs.evaluation.format_robustness(robustness).replace("\n", "\n  "), flush=True)
    return {
        "model": name,
        "precision": signs.precision.choose_precision(recipe.precision),
        "seed": seed,
        "parameters": model.count_params(),
        "held_out_accuracy_per_epoch": held_out,
        "train_accuracy_per_epoch": [round(float(v), 4) for v in history.history["accuracy"]],
        "final_held_out_accuracy_float32_model": round(accuracy(model, X_test, test_labels), 4),
        "camera_shift_accuracy": round(shifted, 4),
        "epochs_to_95": reached,
        "training_seconds_to_95": None if reached is None else round(sum(timer.seconds[:reached]), 1),
        "seconds_with_evaluation_to_95": None if reached is None else round(
            sum(timer.seconds_with_evaluation[:reached]), 1),
        "robustness_accuracy": {key: round(value, 4) for key, value in robustness.items()},
        "train_seconds_per_epoch": [round(s, 2) for s in timer.seconds],
        "images_per_second": round(timer.images_per_second(), 2),
        "fit_wall_seconds": round(train_seconds, 1),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def endless_training_batches(recipe, train_examples):
    """The recipe's augmented training batches, repeated without end."""
    X_train, Y_train, _, _, _ = load_data(train_examples)
    return signs.augmentation.make_training_dataset(
        X_train, Y_train, recipe.batch_size, recipe.mirror,
        signs.augmentation.make_augmentation(0, recipe.camera_augmentation), recipe.augment_probability,
        seed=0).repeat()


def measure_throughput(recipe, rounds, steps, train_examples):
    """Training images per second of ours in float32 and in the chosen precision and of Keras'.

    The models train in alternating bursts of `steps` steps.

    Returns:
    dict: per contender, the images per second of every burst and their median; the per-round ratio of the chosen
    precision to float32 and its median; the peak RSS of this process.
    """
    dataset = endless_training_batches(recipe, train_examples)
    chosen = signs.precision.choose_precision(recipe.precision)
    contenders = {}
    for label, name, precision in [(f"{OURS}, float32", OURS, "float32"), (f"{OURS}, {chosen}", OURS, chosen),
                                   (f"{KERAS}, float32", KERAS, "float32")]:
        keras.utils.set_random_seed(0)
        model = signs.precision.with_precision(build_model(name), precision)
        contenders[label] = signs.training.compile_with_recipe(model, recipe, steps, rounds + 1)
    # The first burst of each builds and traces the training step; it is not timed.
    for model in contenders.values():
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    rates = {label: [] for label in contenders}
    for round_number in range(1, rounds + 1):
        for label, model in contenders.items():
            started = time.perf_counter()
            model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
            rates[label].append(round(steps * recipe.batch_size / (time.perf_counter() - started), 2))
        print(f"  round {round_number}/{rounds}: " + ", ".join(f"{label} {rates[label][-1]:.1f}"
                                                             for label in contenders) + " images/s", flush=True)
    labels = list(contenders)
    ratios = [round(mixed / single, 3) for single, mixed in zip(rates[labels[0]], rates[labels[1]])]
    return {
        "rounds": rounds,
        "steps_per_burst": steps,
        "chosen_precision": chosen,
        "images_per_second_per_burst": rates,
        "median_images_per_second": {label: float(np.median(values)) for label, values in rates.items()},
        "chosen_precision_over_float32_per_round": ratios,
        "chosen_precision_over_float32": float(np.median(ratios)),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def profile_epoch(recipe, train_examples):
    """Where one epoch of the recipe's training goes, in the chosen precision, in seconds.

    - graph building: the first training step's time minus a later step's;
    - compute: the epoch's steps on batches already in memory (no input pipeline);
    - augmentation: iterating the epoch's augmented batches alone (no training);
    - evaluation: `evaluate` on the test set, once its graph is built.
    The parts are measured one after another, so their sum is what an epoch would take if nothing overlapped;
    `fit` runs the input pipeline in parallel with the steps.
    """
    X_train, Y_train, X_test, Y_test, _ = load_data(train_examples)
    steps = int(np.ceil(len(X_train) / recipe.batch_size))
    keras.utils.set_random_seed(0)
    precision = signs.precision.choose_precision(recipe.precision)
    model = signs.precision.with_precision(build_model(OURS), precision)
    signs.training.compile_with_recipe(model, recipe, steps, 2)
    ready = tf.data.Dataset.from_tensor_slices((X_train, Y_train.astype(np.float32))).batch(
        recipe.batch_size).cache()
    list(ready)  # fill the cache

    started = time.perf_counter()
    model.fit(ready.take(1), epochs=1, verbose=0)
    first_step = time.perf_counter() - started
    started = time.perf_counter()
    model.fit(ready, epochs=1, verbose=0)
    compute = time.perf_counter() - started

    augmented = signs.augmentation.make_training_dataset(
        X_train, Y_train, recipe.batch_size, recipe.mirror,
        signs.augmentation.make_augmentation(0, recipe.camera_augmentation), recipe.augment_probability, seed=0)
    list(augmented.take(1))  # traces the augmentation's graph
    started = time.perf_counter()
    for _ in augmented:
        pass
    augmentation = time.perf_counter() - started

    model.evaluate(X_test, Y_test, verbose=0)  # builds the evaluation graph
    started = time.perf_counter()
    model.evaluate(X_test, Y_test, verbose=0)
    evaluation = time.perf_counter() - started
    seconds = {
        "graph_building": round(first_step - compute / steps, 2),
        "compute": round(compute, 2),
        "augmentation": round(augmentation, 2),
        "evaluation": round(evaluation, 2),
    }
    print("  " + ", ".join(f"{part} {value:.1f} s" for part, value in seconds.items()), flush=True)
    return {"precision": precision, "steps": steps, "seconds": seconds}


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
        "bfloat16_cpu_flags": sorted(signs.precision.BFLOAT16_CPU_FLAGS & signs.precision.cpu_flags()),
        "logical_cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def summarise_runs(runs):
    """Per precision of our model: held-out and camera-shift accuracy per seed, time to 95%, robustness."""
    summary = {}
    for precision in dict.fromkeys(run["precision"] for run in runs if run["model"] == OURS):
        ours = [run for run in runs if run["model"] == OURS and run["precision"] == precision]
        transforms = list(ours[0]["robustness_accuracy"])
        summary[precision] = {
            "final_held_out_accuracy_per_seed": {str(r["seed"]): r["held_out_accuracy_per_epoch"][-1] for r in ours},
            "camera_shift_accuracy_per_seed": {str(r["seed"]): r["camera_shift_accuracy"] for r in ours},
            "epochs_to_95_per_seed": {str(r["seed"]): r["epochs_to_95"] for r in ours},
            "training_seconds_to_95_per_seed": {str(r["seed"]): r["training_seconds_to_95"] for r in ours},
            "seconds_with_evaluation_to_95_per_seed": {
                str(r["seed"]): r["seconds_with_evaluation_to_95"] for r in ours},
            "training_runs_images_per_second": round(float(np.mean([r["images_per_second"] for r in ours])), 2),
            "robustness_accuracy_mean_over_seeds": {
                name: round(float(np.mean([r["robustness_accuracy"][name] for r in ours])), 4)
                for name in transforms},
        }
    return summary


def print_summary(report):
    print("\nSummary")
    throughput = report.get("throughput")
    if throughput:
        medians = ", ".join(f"{label} {value:.1f}" for label, value in throughput["median_images_per_second"].items())
        print(f"  throughput (median of alternating bursts, images/s): {medians}")
        print(f"  {throughput['chosen_precision']} / float32: {throughput['chosen_precision_over_float32']:.3f} "
              f"(per round {throughput['chosen_precision_over_float32_per_round']})")
    if report.get("profile"):
        print(f"  one epoch ({report['profile']['precision']}): {report['profile']['seconds']}")
    for precision, figures in report.get("runs_summary", {}).items():
        print(f"  {precision}: held-out {figures['final_held_out_accuracy_per_seed']}, camera shift "
              f"{figures['camera_shift_accuracy_per_seed']}, training seconds to 95% "
              f"{figures['training_seconds_to_95_per_seed']} (with evaluation "
              f"{figures['seconds_with_evaluation_to_95_per_seed']})")
        print("    robustness (mean over seeds):\n    " + signs.evaluation.format_robustness(
            figures["robustness_accuracy_mean_over_seeds"]).replace("\n", "\n    "))
    print(f"  wall time {report['wall_seconds'] / 60:.1f} min")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the notebook's full budget)")
    parser.add_argument("--train-examples", type=int, default=None,
                        help="train on the first N training photos only (a quick check of this script)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput bursts per contender")
    parser.add_argument("--steps", type=int, default=30, help="training steps per throughput burst")
    parser.add_argument("--no-keras-run", action="store_true", help="skip the keras.applications training run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args()

    started = time.perf_counter()
    load_at_start = os.getloadavg()
    os.environ.pop(signs.training.AUTOGRADE_ENV_VAR, None)
    epochs = arguments.epochs or signs.training.training_budget().epochs
    recipe = signs.training.TrainingRecipe()
    chosen = signs.precision.choose_precision(recipe.precision)
    report = {"command": "make bench  (= .venv/bin/python -m tools.bench " + " ".join(sys.argv[1:]) + ")",
              "chosen_precision": chosen, "recipe": dataclasses.asdict(recipe), "epochs": epochs,
              "machine": machine_description(), "load_average_at_start": [round(v, 2) for v in load_at_start]}

    def elapsed():
        return f"{(time.perf_counter() - started) / 60:.1f} min so far"

    def write_report():
        """Writes what is measured so far, so that an interrupted run keeps its finished parts."""
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        report["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(report, indent=1) + "\n")

    if "throughput" in arguments.parts:
        print(f"[throughput] alternating bursts of {arguments.steps} steps ({elapsed()})", flush=True)
        report["throughput"] = in_fresh_process(measure_throughput, recipe, arguments.rounds, arguments.steps,
                                                arguments.train_examples)
        write_report()
    if "profile" in arguments.parts:
        print(f"[profile] one epoch ({elapsed()})", flush=True)
        report["profile"] = in_fresh_process(profile_epoch, recipe, arguments.train_examples)
        write_report()
    if "runs" in arguments.parts:
        # The precisions alternate seed by seed, so that slow drifts of a shared machine hit both.
        plan = [(OURS, seed, precision) for seed in arguments.seeds for precision in dict.fromkeys([chosen, "float32"])]
        if not arguments.no_keras_run:
            plan.insert(2, (KERAS, arguments.seeds[0], chosen))
        report["runs"] = []
        for number, (name, seed, precision) in enumerate(plan, 1):
            print(f"\n[{number}/{len(plan)}] {name}, seed {seed}, {precision}, {epochs} epochs ({elapsed()})",
                  flush=True)
            report["runs"].append(in_fresh_process(
                train_once, name, seed, epochs, dataclasses.replace(recipe, precision=precision),
                arguments.train_examples))
            report["runs_summary"] = summarise_runs(report["runs"])
            write_report()
    write_report()
    print_summary(report)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
