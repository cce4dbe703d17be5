"""The class report (`outputs/class_report.html`): how the class did, and which mistakes to explain again.

Each failed function's message comes from the checks' advice engine, so messages of one kind share their wording and
differ only in numbers and names. `mistake_kind` turns a message into that wording (numbers and quoted values
replaced) and a stable id, so that the report can count the kinds across the class and show one example of each.
"""
import base64
import hashlib
import html
import io
import re
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend

TOP_MISTAKES = 12
# ResNet50 calls the learner's own blocks: when one of them fails, ResNet50 fails too, for the block's reason.
BUILT_ON = {"ResNet50": ("identity_block", "convolutional_block")}


def mistake_kind(function, message):
    """(id, wording) of the kind of mistake a failure message names, e.g. ("identity_block/3f2a9c1d", "...")."""
    first = (message.strip().splitlines() or [""])[0]
    first = first[len(function) + 2:] if first.startswith(f"{function}: ") else first
    sentence = re.split(r"(?<=[a-z0-9)'\]])\. ", first)[0].rstrip(".")
    wording = re.sub(r"'[^']*'|\"[^\"]*\"", "…", sentence)
    wording = re.sub(r"(?<![A-Za-z_\d])\d[\d,_.]*", "#", wording)  # numbers, not the digits of names like ResNet50
    return f"{function}/{hashlib.sha1(wording.encode()).hexdigest()[:8]}", wording


def class_mistakes(results):
    """[(id, function, wording, count, example message)] over the class, most common first.

    A failure that follows from another graded function's failure (a NameError naming it, or a ResNet50 built on a
    failing block) is not a mistake of its own and is not counted.
    """
    counts, examples = Counter(), {}
    for result in results:
        for function, outcome in result.functions.items():
            graded = outcome.message and "not graded" not in outcome.message.lower()[:len(function) + 20]
            calls_a_failed_cell = any(f"NameError: name '{other}' is not defined" in outcome.message
                                      for other in result.functions if other != function)
            built_on_a_failing_block = any(result.functions[block].points == 0
                                           for block in BUILT_ON.get(function, ()) if block in result.functions)
            follows = calls_a_failed_cell or built_on_a_failing_block
            if outcome.points == 0 and graded and not follows:
                kind = (function, *mistake_kind(function, outcome.message))
                counts[kind] += 1
                examples.setdefault(kind, outcome.message)
    return [(kind_id, function, wording, count, examples[(function, kind_id, wording)])
            for (function, kind_id, wording), count in counts.most_common()]


def _figure_html(figure, description):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(description)}" src="data:image/png;base64,{encoded}">'


def _scores_figure(results, functions, max_total):
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    totals = [result.row["total"] for result in results]
    left.hist(totals, bins=[value - 0.5 for value in range(int(max_total) + 2)], color="#4c72b0", rwidth=0.85)
    left.set(xlabel="total points", ylabel="students", title="Scores")
    passed = [sum(result.row[function] > 0 for result in results) for function in functions]
    right.barh(list(functions)[::-1], passed[::-1], color="#55a868", label="passed")
    right.barh(list(functions)[::-1], [len(results) - value for value in passed][::-1], left=passed[::-1],
               color="#c44e52", label="not passed")
    right.set(xlabel="students", title="Each function")
    right.legend(loc="lower right", frameon=False)
    for axis in (left, right):
        axis.spines[["top", "right"]].set_visible(False)
    return _figure_html(figure, "Histogram of total scores, and how many students passed each function")


def write_class_report(path, results, functions, max_total, unusable=()):
    """Write the class report for `results` (grading.grader.Result list) to `path`."""
    mistakes = class_mistakes(results)
    statuses = Counter(result.row["status"] for result in results if result.row["status"] != "ok")
    mean = sum(result.row["total"] for result in results) / max(len(results), 1)
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ResNet50: class report</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;"
        "vertical-align:top}pre{white-space:pre-wrap;margin:0;font-size:90%}</style></head><body>",
        "<h1>ResNet50: class report</h1>",
        f"<p>{len(results)} students, mean score {mean:.1f} / {max_total:g}, "
        f"{sum(result.row['total'] == max_total for result in results)} with full marks.</p>",
        _scores_figure(results, functions, max_total),
        "<h2>Most common mistakes</h2><p>Each kind is one piece of advice of the checks; the example is one "
        "student's message. A function that fails because another one did (ResNet50 built on a failing block, a "
        f"function calling one whose cell failed) is not counted. Showing the {min(TOP_MISTAKES, len(mistakes))} "
        f"most common of {len(mistakes)} kinds."
        "</p><table><tr><th>students</th><th>function</th><th>kind (id)</th><th>example message</th></tr>",
    ]
    for kind_id, function, wording, count, example in mistakes[:TOP_MISTAKES]:
        parts.append(f"<tr><td>{count}</td><td>{html.escape(function)}</td><td>{html.escape(wording)}<br>"
                     f"<small>{kind_id}</small></td><td><pre>{html.escape(example[:600])}</pre></td></tr>")
    parts.append("</table>")
    if statuses:
        parts.append("<h2>Statuses other than ok</h2><table><tr><th>students</th><th>status</th></tr>")
        parts += [f"<tr><td>{count}</td><td>{html.escape(status)}</td></tr>"
                  for status, count in statuses.most_common()]
        parts.append("</table>")
    if unusable:
        parts.append("<h2>Files that were not submissions</h2><table><tr><th>file</th><th>reason</th></tr>")
        parts += [f"<tr><td>{html.escape(entry)}</td><td>{html.escape(reason)}</td></tr>" for entry, reason in unusable]
        parts.append("</table>")
    parts.append("</body></html>\n")
    path.write_text("\n".join(parts))
