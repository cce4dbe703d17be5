"""nbgrader settings for the ResNet50 course; this folder is nbgrader's course root."""
c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

# What a solution region becomes in the student notebook.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
