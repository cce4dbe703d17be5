"""Autograding that the graded code cannot reach.

Two sides, kept apart:

- inside a sandbox (`sandbox.py` starts it, `sandboxed/` is all that runs there): the submission's solution cells
  run and its functions are called on the cases the grader asks for; what they build comes back as JSON data;
- on the host (everything else in this package): the grader reads submissions, chooses cases and inputs, validates
  and rebuilds the returned models, compares them with the reference solution and writes grades and feedback.
"""
