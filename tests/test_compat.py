"""The pieces of the version matrix (`make compat` itself is too slow for the test suite)."""
import pytest

from learner_environment import parse_requirements
from tools import compat

RESULT = {"row": "oldest", "versions": {"tensorflow": "2.19.1", "keras": "3.10.0", "numpy": "1.26.4"},
          "checks": {"public checks": "ok", "setup cell": "ok"}, "tolerance_used": {"ResNet50": 0.25},
          "install_seconds": 100.0, "seconds": 160.0}


def test_rows_cover_the_oldest_and_the_pinned_versions():
    rows = {row.name: row.requirements for row in compat.matrix_rows()}
    assert list(rows) == ["oldest", "tensorflow 2.19", "tensorflow 2.20", "pinned"]
    lows = {name: compat.oldest_release(low) for name, low, _, _ in parse_requirements()}
    assert "tensorflow==2.19.*" in rows["oldest"] and f"keras=={lows['keras']}" in rows["oldest"]
    assert "tensorflow==2.20.*" in rows["tensorflow 2.20"]
    assert "keras>=3.10,<3.16" in rows["tensorflow 2.20"]
    pins = compat.pinned_versions()
    assert {pins["tensorflow"], pins["keras"], pins["numpy"]} <= set(rows["pinned"])
    for requirements in rows.values():
        assert {pins[tool] for tool in compat.TOOLS} <= set(requirements)
        assert sum(requirement.startswith("tensorflow") for requirement in requirements) == 1


@pytest.mark.parametrize("low, expected", [((2, 19), "2.19.*"), ((10,), "10.0.*"), ((1, 26, 4), "1.26.*")])
def test_oldest_release(low, expected):
    assert compat.oldest_release(low) == expected


def test_environment_folders_are_named_after_rows():
    assert compat.environment_dir(compat.Row("tensorflow 2.19", ())).name == "tensorflow-2.19"


def test_last_json_line_skips_log_lines():
    assert compat.last_json_line('W0000 a log line\n{"a": 1}\nTraceback ...\n') == {"a": 1}
    assert compat.last_json_line("nothing\n") is None


def test_table_shows_each_row_and_each_failure():
    failing = dict(RESULT, row="pinned", checks={"public checks": "AssertionError: ResNet50_test failed"})
    table = compat.format_table([RESULT, failing]).splitlines()
    assert table[2].split() == ["oldest", "2.19.1", "3.10.0", "1.26.4", "pass", "0.250", "60", "160"]
    assert table[3].split()[4] == "FAIL"
    assert table[4] == "pinned: public checks: AssertionError: ResNet50_test failed"


def test_a_row_without_checks_does_not_pass():
    assert compat.passed(RESULT)
    assert not compat.passed(dict(RESULT, checks={}))
    assert not compat.passed(dict(RESULT, checks={"setup cell": "1 failed"}))
