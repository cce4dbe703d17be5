"""Instructor material: the nbgrader course folder and the loader of the reference solution."""
