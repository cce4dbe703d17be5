"""The SIGNS files: building them from the upstream zip, and reading them.

- A build gives both files with the classic keys, dtypes and shapes, plus
  provenance; every row is the resized photo it names.
- The split is balanced and participant-disjoint (checked with the builder's
  grouping and with an independent rule); two builds are identical.
- A damaged, tampered or foreign archive stops the build with a message
  naming the problem, and leaves no output behind.
- `load_dataset` reads built and classic files and explains missing or
  malformed ones; `convert_to_one_hot` and `plot_sign_samples` behave as
  documented.
"""

import io
import json
import os
import re
import zipfile
from collections import Counter

import h5py
import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image, ImageOps

import signs.build
import signs.data
import signs.plots
from signs.h5_files import SignsDataError

# GitHub names the zip's top folder after the ref; the tampered copies use
# that name, unlike the shared copy, so every rewrite also checks that the
# builder ignores the top folder's name.
GITHUB_TOP_FOLDER = f"Sign-Language-Digits-Dataset-{signs.build.UPSTREAM_COMMIT}"


def read_h5(path):
    """Every dataset (as numpy arrays, strings decoded) and attribute of a
    file."""
    with h5py.File(path, "r") as h5:
        datasets = {
            key: h5[key].asstr()[()] if h5[key].dtype.kind == "O" else h5[key][()]
            for key in h5
        }
        return datasets, dict(h5.attrs)


def photo_number(path):
    """1234 for `"Dataset/3/IMG_1234.JPG"`."""
    return int(re.search(r"IMG_(\d+)\.JPG$", path)[1])


def rewrite_archive(source, target, replace=None, drop=(), add=None):
    """Copies the upstream zip under a GitHub-style top folder, with changes.

    Args:
        source: the upstream zip.
        target: where to write the copy (entries stored, for speed).
        replace: dict mapping a path below the top folder to a function of
            the original bytes that returns the new bytes.
        drop: paths below the top folder to leave out.
        add: dict of extra paths below the top folder and their bytes.

    Returns:
        `target`.
    """
    replace = replace or {}
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(
        target, "w", zipfile.ZIP_STORED
    ) as copy:
        for entry in original.infolist():
            path = entry.filename.split("/", 1)[1]
            if entry.is_dir() or path in drop:
                continue
            data = original.read(entry)
            if path in replace:
                data = replace[path](data)
            copy.writestr(f"{GITHUB_TOP_FOLDER}/{path}", data)
        for path, data in (add or {}).items():
            copy.writestr(f"{GITHUB_TOP_FOLDER}/{path}", data)
    return target


def assert_build_fails(archive_path, out_dir, *expected_fragments):
    """Builds from `archive_path`, expecting a `SignsDataError` whose message
    holds every fragment, and no file at all in `out_dir`."""
    with pytest.raises(SignsDataError) as failure:
        signs.build.build_signs(archive_path, out_dir)
    message = str(failure.value)
    for fragment in expected_fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert not out_dir.exists() or not any(out_dir.iterdir())


@pytest.fixture(scope="module")
def manifest():
    return signs.build.load_manifest()


@pytest.fixture(scope="module")
def built_dir(signs_archive, tmp_path_factory):
    """A folder holding one full build, shared by this module's tests."""
    out_dir = tmp_path_factory.mktemp("signs_build")
    signs.build.build_signs(signs_archive, out_dir)
    return out_dir


@pytest.fixture(scope="module")
def built(built_dir):
    """`{"train": (datasets, attrs), "test": (datasets, attrs)}` of the
    shared build."""
    return {
        "train": read_h5(built_dir / signs.build.TRAIN_FILE_NAME),
        "test": read_h5(built_dir / signs.build.TEST_FILE_NAME),
    }


@pytest.fixture(scope="module")
def split_of_photo(built):
    """Maps each used photo's path to `"train"` or `"test"`."""
    return {
        path: split
        for split in ("train", "test")
        for path in built[split][0][f"{split}_set_files"]
    }


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


def test_build_writes_both_files_with_signs_keys_dtypes_and_shapes(built_dir, built):
    assert sorted(p.name for p in built_dir.iterdir()) == [
        signs.build.TEST_FILE_NAME,
        signs.build.TRAIN_FILE_NAME,
    ]
    for split in ("train", "test"):
        datasets, attrs = built[split]
        assert set(datasets) == {
            f"{split}_set_x", f"{split}_set_y", f"{split}_set_files", "list_classes"
        }
        x, y = datasets[f"{split}_set_x"], datasets[f"{split}_set_y"]
        m = x.shape[0]
        assert m > 0
        assert x.dtype == np.uint8 and x.shape == (m, 64, 64, 3)
        assert y.dtype == np.int64 and y.shape == (m,)
        assert datasets[f"{split}_set_files"].shape == (m,)
        assert datasets["list_classes"].dtype == np.int64
        np.testing.assert_array_equal(datasets["list_classes"], np.arange(6))
        assert attrs["upstream_commit"] == signs.build.UPSTREAM_COMMIT
        assert attrs["upstream_url"] == signs.build.UPSTREAM_URL
        assert attrs["license"] == "Apache-2.0"
        assert attrs["dataset"] == "Sign Language Digits Dataset"
        assert attrs["split"] == split


def test_build_uses_every_photo_of_classes_0_to_5_exactly_once(built, manifest):
    train_files = list(built["train"][0]["train_set_files"])
    test_files = list(built["test"][0]["test_set_files"])
    assert len(set(train_files)) == len(train_files)
    assert not set(train_files) & set(test_files)
    assert set(train_files) | set(test_files) == set(manifest["files"])


def test_each_row_is_the_resized_photo_it_names(built, signs_archive):
    files = signs.build.read_dataset_files(signs_archive)
    for split in ("train", "test"):
        datasets, _ = built[split]
        names = datasets[f"{split}_set_files"]
        labels = [int(re.match(r"Dataset/(\d)/", name)[1]) for name in names]
        np.testing.assert_array_equal(datasets[f"{split}_set_y"], labels)
        for row in (0, len(names) // 2, len(names) - 1):
            with Image.open(io.BytesIO(files[names[row]])) as photo:
                expected = np.asarray(
                    ImageOps.exif_transpose(photo)
                    .convert("RGB")
                    .resize((64, 64), Image.Resampling.LANCZOS)
                )
            np.testing.assert_array_equal(datasets[f"{split}_set_x"][row], expected)


def test_test_split_is_balanced_across_classes(built, manifest):
    test_counts = Counter(built["test"][0]["test_set_y"].tolist())
    train_counts = Counter(built["train"][0]["train_set_y"].tolist())
    photos_per_class = Counter(int(p.split("/")[1]) for p in manifest["files"])
    for label in range(6):
        assert 18 <= test_counts[label] <= 22, test_counts
        assert train_counts[label] + test_counts[label] == photos_per_class[label]


def test_grouping_starts_a_participant_only_at_a_9_directly_followed_by_a_0():
    def photos(*number_digit_pairs):
        return [
            signs.build.Photo(f"Dataset/{d}/IMG_{n}.JPG", d, n)
            for n, d in number_digit_pairs
        ]

    two_clean_blocks = photos(*zip(range(100, 120), list(range(10)) * 2))
    groups = signs.build.group_participants(two_clean_blocks[::-1])
    assert [[p.number for p in g] for g in groups] == [
        list(range(100, 110)),
        list(range(110, 120)),
    ]
    # 0-4, a missing number, 5-9: one person or two, so one group; the 9
    # then swapped 8 before the next 0 also keeps the 0 in the same group.
    gap_and_swap = photos(
        (200, 0), (201, 1), (202, 2), (203, 3), (204, 4),
        (206, 5), (207, 6), (208, 7), (209, 9), (210, 8), (211, 0), (212, 1),
    )
    assert len(signs.build.group_participants(gap_and_swap)) == 1
    # A 9 and a 0 with a number missing between them may be one person too.
    assert len(signs.build.group_participants(photos((300, 9), (302, 0)))) == 1


def test_split_keeps_each_participant_group_whole(manifest, split_of_photo):
    paths = list(manifest["files"]) + manifest["grouping_files"]
    groups = signs.build.group_participants(
        [signs.build.parse_photo_path(p) for p in paths]
    )
    test_groups = 0
    for group in groups:
        splits = {split_of_photo[p.path] for p in group if p.path in split_of_photo}
        assert len(splits) <= 1, [p.path for p in group]
        test_groups += splits == {"test"}
    assert 0 < test_groups < len(groups)


def test_split_is_participant_disjoint_by_an_independent_rule(
    signs_archive, split_of_photo
):
    # A stretch of consecutive file numbers whose digits keep rising can only
    # be one participant's; so can two stretches on either side of missing
    # numbers when the digits still rise across the gap. Neither may be
    # split between train and test.
    with zipfile.ZipFile(signs_archive) as archive:
        names = archive.namelist()
    digit_of, split_of_number = {}, {}
    for name in names:
        match = re.search(r"(Dataset/(\d)/IMG_(\d+)\.JPG)$", name)
        if match:
            digit_of[int(match[3])] = int(match[2])
            if match[1] in split_of_photo:
                split_of_number[int(match[3])] = split_of_photo[match[1]]
    numbers = sorted(digit_of)
    stretches = [[numbers[0]]]
    for previous, number in zip(numbers, numbers[1:]):
        if number == previous + 1 and digit_of[number] > digit_of[previous]:
            stretches[-1].append(number)
        else:
            stretches.append([number])

    def splits_in(stretch):
        return {split_of_number[n] for n in stretch if n in split_of_number}

    for stretch in stretches:
        assert len(splits_in(stretch)) <= 1, stretch
    for before, after in zip(stretches, stretches[1:]):
        across_gap = after[0] > before[-1] + 1
        if across_gap and digit_of[after[0]] > digit_of[before[-1]]:
            assert len(splits_in(before) | splits_in(after)) <= 1, (before, after)


def test_two_builds_give_identical_files(signs_archive, built, tmp_path):
    # The second build reads a copy under GitHub's top-folder name.
    renamed = rewrite_archive(signs_archive, tmp_path / "github.zip")
    train_path, test_path = signs.build.build_signs(renamed, tmp_path / "again")
    for split, path in (("train", train_path), ("test", test_path)):
        datasets, attrs = read_h5(path)
        first_datasets, first_attrs = built[split]
        assert datasets.keys() == first_datasets.keys()
        for key in datasets:
            np.testing.assert_array_equal(datasets[key], first_datasets[key])
        assert attrs == first_attrs


# ---------------------------------------------------------------------------
# Refusing bad archives
# ---------------------------------------------------------------------------


def test_truncated_archive_is_reported_and_nothing_is_written(signs_archive, tmp_path):
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(signs_archive.read_bytes()[:5_000_000])
    assert_build_fails(truncated, tmp_path / "out", str(truncated), "incomplete")


def test_modified_photo_is_named_and_nothing_is_written(
    signs_archive, manifest, tmp_path
):
    victim = sorted(p for p in manifest["files"] if p.startswith("Dataset/2/"))[0]

    def flip_last_byte(data):
        return data[:-1] + bytes([data[-1] ^ 0xFF])

    tampered = rewrite_archive(
        signs_archive, tmp_path / "modified.zip", replace={victim: flip_last_byte}
    )
    assert_build_fails(tampered, tmp_path / "out", "modified", victim)


def test_missing_photo_is_named_and_nothing_is_written(
    signs_archive, manifest, tmp_path
):
    victim = sorted(p for p in manifest["files"] if p.startswith("Dataset/5/"))[-1]
    tampered = rewrite_archive(signs_archive, tmp_path / "missing.zip", drop={victim})
    assert_build_fails(tampered, tmp_path / "out", "missing", victim)


def test_stray_file_in_a_class_folder_is_named_and_nothing_is_written(
    signs_archive, tmp_path
):
    stray = "Dataset/4/notes.txt"
    tampered = rewrite_archive(
        signs_archive, tmp_path / "stray.zip", add={stray: b"not a photo"}
    )
    assert_build_fails(tampered, tmp_path / "out", "unexpected", stray)


def test_damaged_entry_is_named_and_nothing_is_written(
    signs_archive, manifest, tmp_path
):
    victim = sorted(manifest["files"])[0]
    damaged = rewrite_archive(signs_archive, tmp_path / "damaged.zip")
    with zipfile.ZipFile(damaged) as archive:
        entry = archive.getinfo(f"{GITHUB_TOP_FOLDER}/{victim}")
    raw = bytearray(damaged.read_bytes())
    # Stored data follows the 30-byte local header, the name and the extra
    # field, whose lengths sit at bytes 26-29 of that header.
    header = entry.header_offset
    name_length = int.from_bytes(raw[header + 26 : header + 28], "little")
    extra_length = int.from_bytes(raw[header + 28 : header + 30], "little")
    raw[header + 30 + name_length + extra_length + 100] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    assert_build_fails(damaged, tmp_path / "out", "damaged", victim)


def test_unrelated_zip_is_refused_and_nothing_is_written(tmp_path):
    unrelated = tmp_path / "holiday.zip"
    with zipfile.ZipFile(unrelated, "w") as archive:
        archive.writestr("photos/beach.txt", "sand")
        archive.writestr("README.md", "# Holiday")
    assert_build_fails(
        unrelated, tmp_path / "out", "does not contain the Sign Language Digits Dataset"
    )


def test_edited_manifest_is_refused(signs_archive, manifest, tmp_path):
    edited = json.loads(json.dumps(manifest))
    first = sorted(edited["files"])[0]
    edited["files"][first] = "0" * 64
    manifest_path = tmp_path / "signs_manifest.json"
    manifest_path.write_text(json.dumps(edited))
    with pytest.raises(SignsDataError, match="edited by hand"):
        signs.build.build_signs(signs_archive, tmp_path / "out", manifest_path)


def test_failed_write_keeps_the_previous_files(
    signs_archive, built_dir, tmp_path, monkeypatch
):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = {}
    for name in (signs.build.TRAIN_FILE_NAME, signs.build.TEST_FILE_NAME):
        before[name] = (built_dir / name).read_bytes()
        (out_dir / name).write_bytes(before[name])
    write_split_file = signs.build.write_split_file

    def write_then_stop(path, split, *args):
        write_split_file(path, split, *args)
        if split == "test":
            raise KeyboardInterrupt

    monkeypatch.setattr(signs.build, "write_split_file", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        signs.build.build_signs(signs_archive, out_dir)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(before)
    for name, data in before.items():
        assert (out_dir / name).read_bytes() == data


# ---------------------------------------------------------------------------
# Finding the archive, command line
# ---------------------------------------------------------------------------


def test_signs_archive_variable_names_the_source(signs_archive, tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNS_ARCHIVE", str(signs_archive))
    assert signs.build.locate_archive() == signs_archive

    # CI names it relative to the project; that works from any folder.
    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(signs_archive, signs.build.PROJECT_DIR)
    monkeypatch.setenv("SIGNS_ARCHIVE", relative)
    assert signs.build.locate_archive().samefile(signs_archive)

    monkeypatch.setenv("SIGNS_ARCHIVE", str(tmp_path / "nowhere.zip"))
    with pytest.raises(SignsDataError, match="nowhere.zip"):
        signs.build.locate_archive()


def test_without_the_variable_the_pinned_archive_is_fetched_with_get_file(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("SIGNS_ARCHIVE", raising=False)
    calls = []

    def fake_get_file(**kwargs):
        calls.append(kwargs)
        return str(tmp_path / kwargs["fname"])

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    located = signs.build.locate_archive()
    assert calls[0]["origin"] == (
        "https://github.com/ardamavi/Sign-Language-Digits-Dataset/archive/"
        "4b09433ef9d5c60602e8805bb54b8aa2428527f8.zip"
    )
    assert located == tmp_path / calls[0]["fname"]

    def offline_get_file(**kwargs):
        raise Exception("URL fetch failure: no route to host")

    monkeypatch.setattr(keras.utils, "get_file", offline_get_file)
    with pytest.raises(SignsDataError, match="SIGNS_ARCHIVE"):
        signs.build.locate_archive()


def test_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    status = signs.build.main(
        ["--archive", str(tmp_path / "absent.zip"), "--out", str(tmp_path / "out")]
    )
    error_output = capsys.readouterr().err
    assert status == 1
    assert "absent.zip" in error_output and "Traceback" not in error_output


# ---------------------------------------------------------------------------
# Reading: load_dataset
# ---------------------------------------------------------------------------


def write_classic_files(folder, n_train=7, n_test=3, train_keys=None):
    """Writes tiny files laid out like the classic SIGNS files (no
    provenance).

    Returns:
        dict of the arrays written, keyed like the files.
    """
    rng = np.random.default_rng(5)
    arrays = {
        "train_set_x": rng.integers(0, 256, (n_train, 64, 64, 3), dtype=np.uint8),
        "train_set_y": rng.integers(0, 6, n_train).astype(np.int64),
        "test_set_x": rng.integers(0, 256, (n_test, 64, 64, 3), dtype=np.uint8),
        "test_set_y": rng.integers(0, 6, n_test).astype(np.int64),
        "list_classes": np.arange(6, dtype=np.int64),
    }
    train_keys = train_keys or {key: key for key in ("train_set_x", "train_set_y")}
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / "train_signs.h5", "w") as h5:
        for key, stored_as in train_keys.items():
            h5[stored_as] = arrays[key]
        h5["list_classes"] = arrays["list_classes"]
    with h5py.File(folder / "test_signs.h5", "w") as h5:
        for key in ("test_set_x", "test_set_y", "list_classes"):
            h5[key] = arrays[key]
    return arrays


def test_load_dataset_reads_built_files(built_dir, built):
    X_train, Y_train, X_test, Y_test, classes = signs.data.load_dataset(built_dir)
    m_train, m_test = X_train.shape[0], X_test.shape[0]
    assert X_train.dtype == np.uint8 and X_train.shape == (m_train, 64, 64, 3)
    assert X_test.dtype == np.uint8 and X_test.shape == (m_test, 64, 64, 3)
    assert Y_train.shape == (1, m_train) and Y_test.shape == (1, m_test)
    np.testing.assert_array_equal(classes, np.arange(6))
    np.testing.assert_array_equal(X_test, built["test"][0]["test_set_x"])
    np.testing.assert_array_equal(Y_train[0], built["train"][0]["train_set_y"])


def test_load_dataset_defaults_to_the_project_datasets_folder(signs_h5_dir):
    X_train, Y_train, X_test, Y_test, classes = signs.data.load_dataset()
    assert X_train.shape[1:] == (64, 64, 3) and Y_train.shape == (1, len(X_train))
    assert X_test.shape[1:] == (64, 64, 3) and Y_test.shape == (1, len(X_test))
    assert classes.ndim == 1


def test_load_dataset_reads_classic_signs_files(tmp_path):
    arrays = write_classic_files(tmp_path)
    X_train, Y_train, X_test, Y_test, classes = signs.data.load_dataset(tmp_path)
    np.testing.assert_array_equal(X_train, arrays["train_set_x"])
    np.testing.assert_array_equal(Y_train, arrays["train_set_y"][np.newaxis, :])
    np.testing.assert_array_equal(X_test, arrays["test_set_x"])
    np.testing.assert_array_equal(Y_test, arrays["test_set_y"][np.newaxis, :])
    np.testing.assert_array_equal(classes, arrays["list_classes"])


def test_load_dataset_builds_missing_files_on_first_use(
    signs_archive, tmp_path, monkeypatch
):
    monkeypatch.setattr(signs.data, "DATASETS_DIR", tmp_path)
    monkeypatch.setenv("SIGNS_ARCHIVE", str(signs_archive))
    X_train, _, X_test, _, _ = signs.data.load_dataset()
    assert (tmp_path / "train_signs.h5").is_file()
    assert X_train.shape[0] > X_test.shape[0] > 0


def test_missing_files_give_the_build_hint(tmp_path, monkeypatch):
    with pytest.raises(SignsDataError) as failure:
        signs.data.load_dataset(tmp_path)
    assert "make data" in str(failure.value) and "SIGNS_ARCHIVE" in str(failure.value)

    # In the default folder the files are built, so the hint comes from the
    # failed build.
    monkeypatch.setattr(signs.data, "DATASETS_DIR", tmp_path)
    monkeypatch.setenv("SIGNS_ARCHIVE", str(tmp_path / "not-here.zip"))
    with pytest.raises(SignsDataError, match="SIGNS_ARCHIVE.*not-here.zip"):
        signs.data.load_dataset()


def test_damaged_file_gives_a_clear_error(tmp_path):
    write_classic_files(tmp_path)
    (tmp_path / "test_signs.h5").write_bytes(b"\x00" * 1000)
    with pytest.raises(SignsDataError, match="test_signs.h5 is not a readable HDF5"):
        signs.data.load_dataset(tmp_path)


def test_wrong_keys_give_a_clear_error(tmp_path):
    write_classic_files(
        tmp_path, train_keys={"train_set_x": "images", "train_set_y": "labels"}
    )
    with pytest.raises(SignsDataError) as failure:
        signs.data.load_dataset(tmp_path)
    assert "train_signs.h5" in str(failure.value)
    assert "train_set_x" in str(failure.value) and "images" in str(failure.value)


def test_wrong_shapes_give_a_clear_error(tmp_path):
    write_classic_files(tmp_path)
    with h5py.File(tmp_path / "train_signs.h5", "r+") as h5:
        del h5["train_set_x"]
        h5["train_set_x"] = np.zeros((7, 32, 32, 3), np.uint8)
    with pytest.raises(SignsDataError, match=r"\(m, 64, 64, 3\)"):
        signs.data.load_dataset(tmp_path)

    write_classic_files(tmp_path)
    with h5py.File(tmp_path / "test_signs.h5", "r+") as h5:
        del h5["test_set_y"]
        h5["test_set_y"] = np.zeros(5, np.int64)
    with pytest.raises(SignsDataError, match="one integer label per photo"):
        signs.data.load_dataset(tmp_path)


def test_labels_outside_list_classes_give_a_clear_error(tmp_path):
    write_classic_files(tmp_path)
    with h5py.File(tmp_path / "train_signs.h5", "r+") as h5:
        h5["train_set_y"][0] = 9
    with pytest.raises(SignsDataError, match=r"labels \[9\]"):
        signs.data.load_dataset(tmp_path)


# ---------------------------------------------------------------------------
# Helpers for training
# ---------------------------------------------------------------------------


def test_convert_to_one_hot_puts_each_label_in_its_own_column():
    one_hot = signs.data.convert_to_one_hot(np.array([[1, 0, 3]]), 4)
    expected = np.array([
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],
        [0, 0, 1],
    ])
    assert one_hot.shape == (4, 3)
    np.testing.assert_array_equal(one_hot, expected)

    labels = np.random.default_rng(0).integers(0, 6, (1, 50))
    one_hot = signs.data.convert_to_one_hot(labels, 6)
    np.testing.assert_array_equal(one_hot.T.argmax(axis=1), labels[0])
    np.testing.assert_array_equal(one_hot.sum(axis=0), np.ones(50))

    with pytest.raises(ValueError, match="0..3"):
        signs.data.convert_to_one_hot(np.array([[4]]), 4)


def test_plot_sign_samples_draws_a_labelled_grid(tmp_path):
    arrays = write_classic_files(tmp_path, n_train=40)
    labels = arrays["train_set_y"][np.newaxis, :]
    figure = signs.plots.plot_sign_samples(arrays["train_set_x"], labels, per_class=3)
    assert isinstance(figure, Figure)
    present = np.unique(labels)
    drawn = [ax for ax in figure.axes if ax.images]
    expected_count = sum(min(3, int((labels == c).sum())) for c in present)
    assert len(drawn) == expected_count
    row_labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert row_labels == [f"y = {c}" for c in present]
    figure.savefig(io.BytesIO(), format="png")
