"""Show how the public checks react to the catalogue of learner mistakes (`make feedback-report`).

For every mistake in instructor/learner_mistakes.py this prints one row as soon as it is measured: the mistake, the
public check that caught it, whether the first line of the message names the mistake, and that line (shortened). The
totals follow: the share of mistakes caught and the share whose message names the mistake. The exit status is 1 when
a mistake is not caught or fewer than 80% are named, so the report can also guard a build.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up notices out of the table

from instructor import learner_mistakes  # noqa: E402 - after the log level, which TensorFlow reads when imported

MINIMUM_HINT_RATE = 0.8
MESSAGE_WIDTH = 100
COLUMNS = "{:<3} {:<38} {:<26} {:<5} {}"


def shorten(text, width=MESSAGE_WIDTH):
    """`text` cut to `width` characters, ending with "..." when it was cut."""
    return text if len(text) <= width else text[:width - 3] + "..."


def print_row(index, outcome):
    print(COLUMNS.format(index + 1, outcome.mistake.name, outcome.caught_by or "NOT CAUGHT",
                         "yes" if outcome.hint_matched else "NO", shorten(outcome.first_line)), flush=True)


def print_totals(outcomes, seconds):
    total = len(outcomes)
    caught = sum(bool(outcome.caught_by) for outcome in outcomes)
    named = sum(outcome.hint_matched for outcome in outcomes)
    print()
    print(f"mistakes: {total}")
    print(f"caught by a public check: {caught}/{total} ({caught / total:.0%})")
    print(f"message names the mistake: {named}/{total} ({named / total:.0%})")
    for outcome in outcomes:
        if not outcome.hint_matched:
            print(f"  not named: {outcome.mistake.name} (expected {outcome.mistake.hint!r})")
    print(f"measured in {seconds:.0f} s")
    return caught == total and named >= MINIMUM_HINT_RATE * total


def main():
    start = time.perf_counter()
    print(f"Measuring {len(learner_mistakes.MISTAKES)} learner mistakes against the public checks "
          "(ResNet50 mistakes take a few seconds each)...\n", flush=True)
    print(COLUMNS.format("#", "mistake", "caught by", "hint", "message shown (first line)"))
    outcomes = learner_mistakes.evaluate_all(progress=print_row)
    return 0 if print_totals(outcomes, time.perf_counter() - start) else 1


if __name__ == "__main__":
    sys.exit(main())
