"""nbgrader settings for the ResNet50 course; this folder is nbgrader's course root."""
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    Execute,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    SaveAutoGrades,
)
from traitlets import Integer

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

# What a solution region becomes in the student notebook.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding. A cell that runs longer than this many seconds is interrupted and counts as an error, so a learner's
# infinite loop costs at most this much per cell (`tools/autograde.py --timeout` overrides it).
c.Execute.timeout = 120
# Locked cells that a learner deleted are put back (edited ones are always restored from the gradebook).
c.OverwriteCells.add_missing_cells = True
# Printed output kept per cell in the graded notebook and the feedback: lines, then characters.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60


class LimitOutputCharacters(NbGraderPreprocessor):
    """Cut long printed text, which LimitOutput's line limit misses when it is one huge line."""

    max_characters = Integer(20_000, help="characters kept per output").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        """Cuts the cell's printed text and plain-text results to `max_characters` each."""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and len(output.text) > self.max_characters:
                output.text = output.text[:self.max_characters] + "\n... output cut ...\n"
            plain = output.get("data", {}).get("text/plain")
            if isinstance(plain, str) and len(plain) > self.max_characters:
                output.data["text/plain"] = plain[:self.max_characters] + "\n... output cut ..."
        return cell, resources


# nbgrader's own autograding steps (nbgrader 0.9.6), with the character limit after the line limit.
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       LimitOutputCharacters, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
