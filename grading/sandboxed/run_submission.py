"""Run one submission's graded cells inside the sandbox and report what its functions build, as data.

This is the only program that runs beside a learner's code. It trusts nothing it is given and decides nothing: it
reads a job (JSON on stdin), runs the released imports cell, forbids new processes, runs the submission's solution
cells one by one, calls each graded function on the cases of the job and writes one JSON record per line to the
result file descriptor named in the job:

    {"event": "cell", "function": ..., "error": null or an error record}
    {"event": "case", "case": <case id>, "model": <model.to_json()> or null, "error": null or an error record}
    {"event": "printed", "text": what the learner's code printed, capped}
    {"event": "seconds", "imports": ..., "cells": ..., "builds": ...}
    {"event": "done"}

An error record is {"type", "message", "line": {"cell", "number", "text"} or null, "timeout": bool}. Judging the
models (are they right?) happens outside, in the grader. Only the standard library, NumPy and Keras are used here.
"""
import io
import json
import os
import signal
import sys
import time
import traceback

import no_new_processes

CELL_FILE = "<{} cell>"  # the file name learner code is compiled under, so tracebacks name the cell


class StepTimeout(BaseException):
    """Raised in the learner's code when a cell or a case runs past its time.

    A BaseException, so that `except Exception` in learner code does not swallow it.
    """


class CappedText(io.TextIOBase):
    """A text stream that keeps the first `limit` characters written to it and counts the rest."""

    def __init__(self, limit):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def write(self, text):
        """Keeps `text` up to the limit and counts what is dropped."""
        text = str(text)
        room = max(0, self.limit - self.kept)
        self.parts.append(text[:room])
        self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - room)
        return len(text)

    def text(self):
        """What was kept, with a note of how much was dropped."""
        return "".join(self.parts) + (f"\n... {self.dropped} more characters cut ...\n" if self.dropped else "")


def error_record(error, sources, timeout=False):
    """Describe an exception raised by learner code, naming the innermost line of a solution cell."""
    line = None
    for frame, number in traceback.walk_tb(error.__traceback__):
        name = frame.f_code.co_filename
        if name.startswith("<") and name.endswith(" cell>"):
            function = name[1:-len(" cell>")]
            lines = sources.get(function, "").splitlines()
            text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            line = {"cell": function, "number": number, "text": text}
    if isinstance(error, SyntaxError) and error.filename and error.filename.endswith(" cell>"):
        line = {"cell": error.filename[1:-len(" cell>")], "number": error.lineno, "text": (error.text or "").strip()}
    message = str(error) if not isinstance(error, StepTimeout) else "ran past its time limit"
    return {"type": type(error).__name__, "message": message[:2000], "line": line, "timeout": timeout}


def _interrupt(signum, frame):
    raise StepTimeout()


def run_step(seconds, step, sources):
    """Run `step()` with a time limit; returns (result, error record or None)."""
    signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return step(), None
    except StepTimeout as error:
        return None, error_record(error, sources, timeout=True)
    except BaseException as error:  # noqa: B036 - anything learner code raises is reported, SystemExit included
        return None, error_record(error, sources)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def build_case(namespace, case):
    """Call the graded function of `case` on a symbolic input and return the JSON config of the resulting model.

    The call runs in a keras.StatelessScope, where layers record their initializers without computing any weight:
    the config is all the grader needs, and ResNet50's 23 million weights would take most of the time.
    """
    import keras

    with keras.StatelessScope():
        return _build(namespace[case["function"]], case, keras)


def _build(function, case, keras):
    arguments = dict(case["arguments"])
    if arguments.get("initializer"):
        arguments["initializer"] = getattr(keras.initializers, arguments["initializer"])
    if case["function"] == "ResNet50":
        model = function(input_shape=tuple(case["input_shape"]), **arguments)
        if not isinstance(model, keras.Model):
            raise TypeError(f"ResNet50 returned a {type(model).__name__}, not a keras.Model")
        return model.to_json()
    inputs = keras.Input(shape=tuple(case["input_shape"][1:]))
    outputs = function(inputs, **arguments)
    if not isinstance(outputs, keras.KerasTensor):
        raise TypeError(f"{case['function']} returned a {type(outputs).__name__}, not the output of a Keras layer")
    return keras.Model(inputs, outputs).to_json()


def main():
    """Reads the job from stdin, runs it and reports each event on the result pipe."""
    job = json.loads(sys.stdin.read())
    results = os.fdopen(job["result_fd"], "w", buffering=1)
    sources = job["solutions"]

    def emit(record):
        results.write(json.dumps(record) + "\n")
        results.flush()

    printed = CappedText(job["printed_characters"])
    namespace = {"__name__": "__main__"}
    clock = time.perf_counter()
    exec(compile(job["imports"], "<imports cell>", "exec"), namespace)  # noqa: S102 - the released, locked cell
    seconds = {"imports": time.perf_counter() - clock}
    no_new_processes.forbid()
    sys.stdout = sys.stderr = printed
    clock = time.perf_counter()
    for function, source in sources.items():
        _, error = run_step(job["step_seconds"], lambda: exec(compile(source, CELL_FILE.format(function), "exec"),
                                                              namespace), sources)
        emit({"event": "cell", "function": function, "error": error})
    seconds["cells"], clock = time.perf_counter() - clock, time.perf_counter()
    for case in job["cases"]:
        if case["function"] not in namespace:
            emit({"event": "case", "case": case["id"], "model": None, "missing": True, "error": None})
            continue
        model, error = run_step(job["step_seconds"], lambda: build_case(namespace, case), sources)
        emit({"event": "case", "case": case["id"], "model": model, "error": error})
    seconds["builds"] = time.perf_counter() - clock
    emit({"event": "printed", "text": printed.text()})
    emit({"event": "seconds", **seconds})
    emit({"event": "done"})
    results.close()
    os._exit(0)  # learner code may have left threads or handlers behind; nothing more of it runs


if __name__ == "__main__":
    main()
