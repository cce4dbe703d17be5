"""Grade one submission: run its graded cells in a sandbox, judge what comes back, write its row and messages.

`Grader` holds what a whole run shares (the layout, the cases, the limits, the seed of the judge's inputs) and can be
sent to another process or machine; each process creates one Judge per run, with that seed, the first time it grades.
"""
import threading
import time
from dataclasses import dataclass, field

from checking import crash_message
from grading import sandbox
from grading.cases import grading_cases
from grading.submission import locked_cell_notes, read_notebook, solution_cells, triage

ISOLATION = {True: "bubblewrap sandbox", False: "none (--no-sandbox)"}
_JUDGES = {}  # {seed of a run: its Judge}, per process
_JUDGE_LOCK = threading.Lock()


@dataclass
class FunctionResult:
    """The outcome of one graded function: its points, a note for the status column (or ""), and its message."""

    points: float
    note: str = ""
    message: str = ""


@dataclass
class Result:
    """The outcome of one submission.

    Attributes:
        row: the grades.csv row: student, the points of each function, total, max_total, status, isolation
        functions: {function: FunctionResult}
        printed: what the learner's code printed while it was graded (capped)
        seconds: {stage: seconds} of this submission's grading: "sandbox" (the whole sandboxed run, its start
            included), inside it "imports" (the imports cell, mostly TensorFlow), "cells" (the solution cells) and
            "builds" (calling the functions on every case), then "judge" (validating, comparing)
    """

    row: dict
    functions: dict = field(default_factory=dict)
    printed: str = ""
    seconds: dict = field(default_factory=dict)


class Grader:
    """Grades submissions of one run.

    Args:
        layout: the grading.submission.Layout of the released notebook
        seed: seed of the inputs the judge draws for this run (the same on every machine of a run)
        limits: sandbox.Limits for each submission
        sandboxed: False runs learner code without bubblewrap (--no-sandbox)
    """

    def __init__(self, layout, seed, limits=sandbox.Limits(), sandboxed=True):
        self.layout, self.seed, self.limits, self.sandboxed = layout, seed, limits, sandboxed
        self.cases = grading_cases()

    def judge(self):
        """This process's Judge for the run: made once, then shared by every Grader copy that a task brings along."""
        if self.seed not in _JUDGES:
            from grading.judge import Judge  # imports TensorFlow: only in processes that judge

            _JUDGES[self.seed] = Judge(self.cases, self.seed)
        return _JUDGES[self.seed]

    def row(self, student, points, status):
        """A grades.csv row."""
        total = sum(points.values())
        return {"student": student, **points, "total": total, "max_total": self.layout.max_total, "status": status,
                "isolation": ISOLATION[self.sandboxed]}

    def set_aside(self, student, reason):
        """The Result of a submission that is not graded: no points, the reason as status."""
        return Result(self.row(student, dict.fromkeys(self.layout.points, 0.0), reason),
                      {function: FunctionResult(0.0, message=f"Not graded: {reason}.")
                       for function in self.layout.points})

    def grade(self, student, data):
        """Grade one submission's bytes; returns a Result. Raises only for faults of the grader itself."""
        reason = triage(student, data, self.layout)
        if reason:
            return self.set_aside(student, reason)
        notebook = read_notebook(data)
        solutions = solution_cells(notebook, self.layout)
        job = {"imports": self.layout.imports, "solutions": solutions, "cases": [case.job() for case in self.cases]}
        run = sandbox.run_job(job, self.limits, self.sandboxed)
        with _JUDGE_LOCK:  # one judge per process, used by one thread at a time
            clock = time.perf_counter()
            functions = self._interpret(run, solutions)
            judging = time.perf_counter() - clock
        notes = [result.note for result in functions.values() if result.note]
        notes += locked_cell_notes(notebook, self.layout)
        row = self.row(student, {function: result.points for function, result in functions.items()},
                       "; ".join(notes) or "ok")
        printed = next((record["text"] for record in run.records if record.get("event") == "printed"), "")
        inside = next((record for record in run.records if record.get("event") == "seconds"), {})
        seconds = {"sandbox": run.seconds, "judge": judging,
                   **{stage: inside[stage] for stage in ("imports", "cells", "builds") if stage in inside}}
        return Result(row, functions, printed, seconds)

    def _interpret(self, run, solutions):
        """Turn the sandbox's records into a FunctionResult per function, judging each returned model."""
        cells = {record["function"]: record["error"] for record in run.records if record.get("event") == "cell"}
        answers = {record["case"]: record for record in run.records if record.get("event") == "case"}
        interrupted = None if run.ending == "finished" else self._interrupted(cells, answers, solutions)
        missing = {self._case_function(case_id) for case_id, answer in answers.items() if answer.get("missing")}
        failed_names = {function for function, error in cells.items() if error} | missing | (
            set(self.layout.points) - set(solutions))
        results = {}
        for function in self.layout.points:
            cases = [case for case in self.cases if case.function == function]
            results[function] = self._function_result(function, cases, cells, answers, failed_names)
            if function == interrupted:
                results[function] = FunctionResult(0.0, _ending_note(run.ending, function, answers),
                                                   f"{function}: grading stopped here ({run.ending}).")
            elif interrupted and results[function].points == 0 and not results[function].message:
                results[function] = FunctionResult(0.0, "", f"{function}: not graded, because grading stopped "
                                                            f"earlier ({run.ending} in {interrupted}).")
        return results

    def _case_function(self, case_id):
        return next(case.function for case in self.cases if case.id == case_id)

    def _interrupted(self, cells, answers, solutions):
        """The function whose cell or case was running when the sandbox stopped early."""
        for function in self.layout.points:
            if function in solutions and function not in cells:
                return function
        for case in self.cases:
            if case.id not in answers:
                return case.function
        return list(self.layout.points)[-1]

    def _function_result(self, function, cases, cells, answers, failed_names):
        error = cells.get(function)
        if error:
            note = _call_note(function, error, None) or f"{error['type']} in {function}"
            return FunctionResult(0.0, note, _error_message(function, f"the cell defining {function}", error))
        for case in cases:
            answer = answers.get(case.id)
            if answer is None:
                return FunctionResult(0.0)
            if answer.get("missing"):
                return FunctionResult(0.0, f"NameError in {function} check",
                                      f"{function} is not defined: keep the function's name as given.")
            if answer["error"]:
                return FunctionResult(0.0, _call_note(function, answer["error"], failed_names),
                                      _error_message(function, case.describe(), answer["error"]))
            verdict = self.judge().judge(case.id, answer["model"])
            if not verdict.passed:
                return FunctionResult(0.0, "", verdict.message)
        return FunctionResult(self.layout.points[function], "", f"passed: {function} matches the reference on all "
                                                                f"{len(cases)} cases, public and hidden.")


def _call_note(function, error, failed_names):
    """A status note for an error raised by a cell or a call of a graded function, or "" when the message is enough.

    Args:
        function: the graded function the error belongs to.
        error: the error record the sandbox sent back.
        failed_names: graded functions that failed to be defined: a NameError about one of them gets no note of its
            own (the failed function has one); None for an error of a cell, whose type is noted anyway
    """
    if error["timeout"]:
        return f"timeout in {function}"
    if error["type"] == "MemoryError":
        return f"memory limit in {function}"
    names_a_failed_function = failed_names is None or any(f"'{name}'" in error["message"] for name in failed_names)
    if error["type"] == "NameError" and not names_a_failed_function:
        return f"NameError in {function}: {error['message'][:200]}"
    return ""


def _error_message(function, where, error):
    """The learner's message for an error record from the sandbox."""
    if error["type"] == "NotImplementedError":
        unfinished = (error.get("line") or {}).get("cell", function)
        called_from = "" if unfinished == function else f" (called by {function})"
        return (f"{unfinished} is not finished yet{called_from}: replace every `raise NotImplementedError()` line "
                "with your code.")
    if error["timeout"]:
        return f"{where} ran past its time limit: look for a loop that never ends."
    line = error.get("line")
    shown = (line["number"], f"{line['text']} (in the cell of {line['cell']})") if line and line["text"] else None
    text = (error["message"].strip().splitlines() or [""])[0][:300]
    return crash_message(function, where, error["type"], text, shown)


def _ending_note(ending, function, answers):
    if ending == "wall time limit":
        return f"timeout in {function}"
    if ending in ("memory limit", "CPU time limit"):
        return f"{ending} in {function}"
    prefix = "" if answers else "not graded: "
    return f"{prefix}the kernel {ending} in {function}"
