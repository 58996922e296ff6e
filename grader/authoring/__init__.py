"""Authoring assignments: split a master notebook (``master``), draft the rubric's answers
(``answers``), run the whole `grader assign` loop (``assign``), scaffold a new assignment
(``scaffold``) and import nbgrader or otter assignments (``importers``)."""
