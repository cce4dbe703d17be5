"""The class report: mistakes grouped into kinds with stable ids, counted over the class, written as one HTML page."""
from grading.class_report import class_mistakes, mistake_kind, write_class_report
from grading.grader import FunctionResult, Result

POINTS = {"identity_block": 3, "convolutional_block": 3, "ResNet50": 4}
MISSING_RELU = ("identity_block: component 3 of the main path ends with a ReLU, but there is no ReLU between the last "
                "BatchNormalization and Add(): the ReLU comes after the addition.\n(while checking identity_block(X of "
                "shape ({}, 4, 4, 6), f=2))")
STRIDE = "convolutional_block: the shortcut's Conv2D has strides={}, expected the block's s.\nLayers that differ..."
LAYER_ORDER = "ResNet50: the layers are in a different order from the reference: at layer 26 the reference has Add."
FOLLOWS = ("ResNet50(input_shape=(64, 64, 3), classes=6) raised NameError: name 'identity_block' is not defined\n"
           "The error comes from this line of your code (line 30)")


def result(student, **messages):
    """A graded Result: functions named in `messages` failed with that message, the others passed."""
    functions = {function: FunctionResult(0.0, message=messages[function]) if function in messages
                 else FunctionResult(float(points), message=f"passed: {function} matches the reference.")
                 for function, points in POINTS.items()}
    total = sum(outcome.points for outcome in functions.values())
    row = {"student": student, **{name: outcome.points for name, outcome in functions.items()}, "total": total,
           "max_total": 10, "status": "ok", "isolation": "bubblewrap sandbox"}
    return Result(row, functions)


def test_messages_that_differ_only_in_numbers_and_names_are_one_kind():
    first, second = mistake_kind("identity_block", MISSING_RELU.format(3)), mistake_kind("identity_block",
                                                                                         MISSING_RELU.format(5))
    assert first == second
    assert first[0].startswith("identity_block/") and len(first[0]) == len("identity_block/") + 8
    assert mistake_kind("convolutional_block", STRIDE.format(1))[0] != first[0]
    wording = mistake_kind("ResNet50", "ResNet50: at layer 26 of ResNet50 the reference has Conv2D, not Add.")[1]
    assert wording == "at layer # of ResNet50 the reference has Conv2D, not Add"  # names keep their digits


def test_kinds_are_counted_over_the_class_most_common_first():
    results = [result("a", identity_block=MISSING_RELU.format(3), ResNet50=FOLLOWS),
               result("b", identity_block=MISSING_RELU.format(7), ResNet50=LAYER_ORDER),
               result("c", convolutional_block=STRIDE.format(1)),
               result("d", ResNet50=LAYER_ORDER),
               result("e", identity_block="identity_block: not graded, because grading stopped earlier.")]
    mistakes = class_mistakes(results)
    assert [(function, count) for _, function, _, count, _ in mistakes] == [
        ("identity_block", 2), ("convolutional_block", 1), ("ResNet50", 1)]  # ResNet50 on a failing block: not its own
    assert mistakes[0][4] == MISSING_RELU.format(3)  # the first student's message is the example


def test_report_shows_counts_examples_statuses_and_escapes_learner_text(tmp_path):
    hostile = result("f", convolutional_block=STRIDE.format("<script>alert(1)</script>"))
    hostile.row["status"] = "timeout in ResNet50"
    results = [result("a", identity_block=MISSING_RELU.format(3)), result("b", identity_block=MISSING_RELU.format(4)),
               hostile, result("d")]
    path = tmp_path / "class_report.html"
    write_class_report(path, results, POINTS, 10, unusable=[("notes.txt", "not a notebook")])
    page = path.read_text()
    assert "4 students, mean score" in page and "1 with full marks" in page
    assert page.count("<img") == 1 and "data:image/png;base64," in page
    assert "<tr><td>2</td><td>identity_block</td>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "timeout in ResNet50" in page and "notes.txt" in page and "not a notebook" in page
