"""The environment checks a learner meets first: one line that says what to do when the notebook cannot run."""
import logging
import os
import subprocess
import sys

import pytest

import learner_environment
from learner_environment import EnvironmentProblem, check_versions, parse_requirements


def _requirements(tmp_path, text):
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return parse_requirements(path)


def test_learner_requirements_bound_tensorflow_and_keras_on_both_sides():
    requirements = {name: (low, high) for name, low, high, _ in parse_requirements()}
    assert {"tensorflow", "keras", "numpy", "h5py", "matplotlib", "pillow"} <= set(requirements)
    assert requirements["tensorflow"] == ((2, 19), (2, 22))
    assert requirements["keras"][0] >= (3,) and requirements["keras"][1] is not None


def test_unreadable_requirement_line_names_the_line(tmp_path):
    with pytest.raises(ValueError, match=r"line 2: expected `name>=low` or `name>=low,<high`, got 'keras==3.15.1'"):
        _requirements(tmp_path, "# comment\nkeras==3.15.1\n")


def test_this_environment_is_in_the_tested_range():
    assert check_versions(environ={}) == []


def test_missing_package_says_how_to_install_it(tmp_path):
    requirements = _requirements(tmp_path, "no-such-package-for-resnet50>=1.0,<2\n")
    with pytest.raises(EnvironmentProblem) as raised:
        check_versions(requirements, environ={})
    assert str(raised.value) == ('no-such-package-for-resnet50 is not installed: run the setup cell at the top of the '
                                 'notebook, or `pip install "no-such-package-for-resnet50>=1.0,<2"`, then restart '
                                 'the kernel.')
    assert learner_environment.missing_requirements(requirements) == ["no-such-package-for-resnet50>=1.0,<2"]


def test_keras_2_is_refused_with_the_install_command(tmp_path):
    # A Keras 2 installation, as far as package metadata goes, found before this environment's Keras 3.
    dist_info = tmp_path / "keras-2.15.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: keras\nVersion: 2.15.0\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.getcwd()]))
    run = subprocess.run([sys.executable, "-c", "import learner_environment; learner_environment.check_versions()"],
                         capture_output=True, text=True, env=environment)
    assert run.returncode == 1
    low = next(line for name, _, _, line in parse_requirements() if name == "keras")
    assert run.stderr.strip().splitlines()[-1] == (
        f"learner_environment.EnvironmentProblem: keras 2.15.0 is too old for this assignment (it needs keras "
        f"{low.split('>=')[1].split(',')[0]} or newer): run `pip install \"{low}\"`, then restart the kernel.")


def test_newer_than_tested_is_a_warning_not_an_error(tmp_path):
    numpy_version = learner_environment.installed_version("numpy")
    requirements = _requirements(tmp_path, "numpy>=1.0,<1.1\n")
    assert check_versions(requirements, environ={}) == [
        f'numpy {numpy_version} is newer than the versions this assignment was tested with (numpy>=1.0,<1.1); if a '
        'check fails unexpectedly, run `pip install "numpy>=1.0,<1.1"` and restart the kernel.']


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_legacy_keras_setting_is_refused(value):
    with pytest.raises(EnvironmentProblem, match=f"^TF_USE_LEGACY_KERAS={value} makes TensorFlow use Keras 2"):
        check_versions(environ={"TF_USE_LEGACY_KERAS": value})


def test_legacy_keras_setting_off_is_accepted():
    assert check_versions(environ={"TF_USE_LEGACY_KERAS": "0"}) == []


def test_problem_shows_as_one_line_in_a_notebook():
    assert EnvironmentProblem("do this")._render_traceback_() == ["EnvironmentProblem: do this"]


def test_native_stderr_is_silenced_only_inside(capfd):
    with learner_environment.native_stderr_silenced():
        os.write(2, b"notice from a C++ library\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_tensorflow_loads_with_its_python_warnings_off():
    environ = {}
    versions = learner_environment.load_tensorflow_quietly(environ)
    import keras
    import tensorflow as tf
    assert versions == (tf.__version__, keras.__version__)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "2"}
    assert tf.get_logger().level == logging.ERROR
