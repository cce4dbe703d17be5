"""The diagrams in images/ are the project's own and reproducible, and the notebooks only show images that exist.

- `make figures` (tools/draw_figures.py) redraws every committed PNG byte for byte, and images/ holds nothing else.
- The PNG files carry no metadata (no software name or timestamp), which is what makes them reproducible.
- Every image that a markdown cell of either notebook shows is a file in images/ (the project's own figures) and
  has alt text.
"""

import re
import subprocess
import sys

import nbformat
import pytest

from signs.constants import PROJECT_DIR

IMAGES = PROJECT_DIR / "images"
NOTEBOOKS = [PROJECT_DIR / "instructor" / "source" / "ResNet50" / "ResNet50.ipynb", PROJECT_DIR / "ResNet50.ipynb"]

# ![alt](path "optional title")
MARKDOWN_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\(\s*<?(?P<src>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
HTML_ATTRIBUTE = re.compile(r"""(?P<name>[a-zA-Z-]+)\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)')""")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk_types(data):
    """The chunk types of a PNG file, in order (e.g. ['IHDR', 'pHYs', 'IDAT', 'IEND'])."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG file"
    types, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        types.append(data[offset + 4:offset + 8].decode("ascii"))
        offset += 12 + length
    return types


def image_references(markdown):
    """(alt text, source) for every image in a markdown string, in markdown or HTML <img> syntax."""
    references = [(match["alt"], match["src"]) for match in MARKDOWN_IMAGE.finditer(markdown)]
    for tag in HTML_IMAGE.findall(markdown):
        attributes = {
            match["name"].lower(): match["double"] if match["double"] is not None else match["single"]
            for match in HTML_ATTRIBUTE.finditer(tag)
        }
        references.append((attributes.get("alt", ""), attributes.get("src", "")))
    return references


def project_image_path(source):
    """Where an `images/...` reference points in the repository, or None for a reference elsewhere."""
    match = re.search(r"(?:^|/)(images/[^?#]+)", source)
    if match is None or "://" in source:
        return None
    return PROJECT_DIR / match.group(1)


@pytest.fixture(scope="module")
def redrawn(tmp_path_factory):
    """Run the figure script exactly as `make figures` does, into a fresh folder; return that folder."""
    out_dir = tmp_path_factory.mktemp("figures")
    completed = subprocess.run(
        [sys.executable, "-m", "tools.draw_figures", "--out", str(out_dir)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, f"python -m tools.draw_figures failed:\n{completed.stderr}"
    return out_dir


def test_script_draws_exactly_the_committed_figures(redrawn):
    drawn = sorted(path.name for path in redrawn.glob("*.png"))
    committed = sorted(path.name for path in IMAGES.glob("*.png"))
    assert drawn, "tools/draw_figures.py wrote no PNG files"
    assert committed == drawn, (
        f"images/ holds {committed} but tools/draw_figures.py draws {drawn}; every committed figure must come "
        "from the script (run `make figures`)."
    )


def test_committed_figures_match_the_script_byte_for_byte(redrawn):
    for path in sorted(redrawn.glob("*.png")):
        committed = IMAGES / path.name
        assert committed.exists(), f"images/{path.name} is missing; run `make figures`."
        assert committed.read_bytes() == path.read_bytes(), (
            f"images/{path.name} differs from what tools/draw_figures.py draws now; run `make figures` and "
            "commit the result."
        )


def test_figures_carry_no_metadata(redrawn):
    for path in sorted(redrawn.glob("*.png")):
        chunks = png_chunk_types(path.read_bytes())
        assert not {"tEXt", "zTXt", "iTXt", "tIME"} & set(chunks), f"{path.name} stores metadata chunks: {chunks}"


def test_image_reference_parser_finds_both_syntaxes():
    markdown = (
        '![A residual block](images/a.png "title")\n'
        "text <img src='images/b.png' alt=\"Stage diagram\" width=600> and ![](images/c.png)\n"
        '<img width="300" src="images/d.png">'
    )
    assert image_references(markdown) == [
        ("A residual block", "images/a.png"),
        ("", "images/c.png"),
        ("Stage diagram", "images/b.png"),
        ("", "images/d.png"),
    ]


@pytest.mark.parametrize("notebook_path", NOTEBOOKS, ids=lambda path: str(path.relative_to(PROJECT_DIR)))
def test_notebook_images_exist_and_have_alt_text(notebook_path):
    assert notebook_path.exists(), f"{notebook_path.relative_to(PROJECT_DIR)} is missing."
    notebook = nbformat.read(notebook_path, as_version=4)
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for alt, source in image_references(cell.source):
            path = project_image_path(source)
            if path is None:
                problems.append(f"cell {index}: {source} is not one of the project's figures in images/")
            elif not path.exists():
                problems.append(f"cell {index}: {source} does not exist")
            if not alt.strip():
                problems.append(f"cell {index}: {source} has no alt text")
    assert not problems, "\n".join(problems)
