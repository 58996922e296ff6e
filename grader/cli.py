"""The `grader` command line.

Subcommands live in ``grader.commands.<module>`` and are imported only when invoked, so that
``grader --help`` answers at once (following click's documented lazy-loading group pattern).
"""

from __future__ import annotations

import importlib

import click

# command name -> ("module in grader.commands", "click command object name", "one-line help")
COMMANDS: dict[str, tuple[str, str, str]] = {
    "assign": ("assign", "assign", "Build the template and reference from a master notebook; release-check."),
    "data": ("data", "data", "Write an assignment's public and hidden data files."),
    "env": (
        "env",
        "env",
        "Build and list an assignment's kernel environment (the packages notebooks may import).",
    ),
    "run": ("run", "run", "Execute one notebook in the sandbox and harvest its answers (no scoring)."),
    "reference": ("reference", "reference", "Run the reference over several seeds and write expected.json."),
    "grade": ("grade", "grade", "Grade notebooks, folders or LMS exports; write results and reports."),
    "check": ("check", "check", "Self-check a notebook on public data before submitting."),
    "release-check": ("release_check", "release_check", "Check an assignment is ready to hand out."),
    "import": ("import_cmd", "import_assignment", "Import an otter master notebook as an assignment folder."),
    "new": ("new", "new", "Scaffold a new assignment folder that release-check accepts."),
    "manual": ("manual", "manual", "Export pending free-text answers and merge manual marks back."),
    "report": ("report", "report", "Re-render feedback and summary reports from results."),
    "rescore": ("rescore", "rescore", "Score stored runs again after a rubric edit; print who moved."),
    "review": ("review", "review", "Serve a local web app for marking, overrides and regrade requests."),
    "regrades": ("regrades", "regrades", "Import regrade requests (CSV) or list the open ones."),
    "similarity": ("similarity", "similarity", "Rank pairs of submissions by shared code, results and text."),
    "gradescope": ("gradescope", "gradescope", "Run as a Gradescope autograder."),
    "worker": ("worker", "worker", "Start a Dask worker for distributed grading."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"grader.commands.{module_name}")
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the table above, without importing them."""
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ml-autograder")
def main() -> None:
    """Auto-grade machine-learning homework notebooks: sandboxed execution, scoring against
    calibrated reference metrics and hidden data, feedback reports and gradebook exports."""
