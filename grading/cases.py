"""The cases the autograder runs: the public checks' cases, then hidden ones that learners never see.

Hidden cases call the functions with what the public cases never use: other batch sizes, non-square inputs, windows
f of 1, 4 and 5, strides 1 and 4, other filter counts, initializers and training flags, arguments left at their
defaults, and ResNet50 for another image size and number of classes. A function written to fit the public cases
fails them. Only shapes and arguments are cases; the judge draws the input values for each run.
"""
import public_tests
from checking import Case

HIDDEN_CASES = (
    Case("identity_block", "hidden_f1", (1, 7, 5, 8), f=1, filters=(4, 3, 8), training=True, hidden=True),
    Case("identity_block", "hidden_f5_he", (5, 6, 9, 3), f=5, filters=(2, 6, 3), training=False,
         initializer="HeUniform", hidden=True),
    Case("identity_block", "hidden_f4_lecun", (2, 4, 6, 12), f=4, filters=(6, 5, 12), training=True,
         initializer="LecunNormal", hidden=True),
    Case("identity_block", "hidden_default_training", (3, 5, 5, 4), f=3, filters=(7, 2, 4),
         initializer="GlorotNormal", hidden=True),
    Case("convolutional_block", "hidden_s1", (2, 6, 6, 4), f=3, filters=(2, 3, 8), s=1, training=True, hidden=True),
    Case("convolutional_block", "hidden_f1_he", (3, 7, 9, 3), f=1, filters=(4, 4, 6), s=2, training=False,
         initializer="HeUniform", hidden=True),
    Case("convolutional_block", "hidden_s4_f5", (1, 9, 8, 5), f=5, filters=(3, 2, 4), s=4, training=True,
         initializer="RandomNormal", hidden=True),
    Case("convolutional_block", "hidden_defaults", (4, 5, 6, 2), f=2, filters=(2, 2, 3), hidden=True),
    Case("ResNet50", "hidden_96x80", (96, 80, 3), classes=10, hidden=True),
)
GRADED_FUNCTIONS = ("identity_block", "convolutional_block", "ResNet50")


def grading_cases():
    """Every case the grader asks a submission for, public ones first, grouped by function in notebook order."""
    public = (*public_tests.IDENTITY_BLOCK_CASES, *public_tests.CONVOLUTIONAL_BLOCK_CASES, public_tests.RESNET50_CASE)
    every = (*public, *HIDDEN_CASES)
    return [case for function in GRADED_FUNCTIONS for case in every if case.function == function]
