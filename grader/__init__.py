"""ml-autograder: grade machine-learning homework notebooks in a sandbox, score outside it."""

__version__ = "0.1.0"
