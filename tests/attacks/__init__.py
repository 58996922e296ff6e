"""Attack notebooks: student code that tries to escape, exhaust or break the grader."""
