"""Run INSIDE a freshly built kernel environment (standard library only): what is installed,
what can be imported, and does every declared package import?

Usage: ``ENV/bin/python -I probe.py '<JSON list of requirement strings>'``; prints one JSON line:
python_version, base_prefix, packages {distribution: version}, modules (importable top-level
names), import_errors {module: error}, torch_build, reserved_address_space_mb.
"""

import importlib
import importlib.metadata as metadata
import json
import re
import sys

SKIP = {"ipykernel_launcher", "this", "antigravity"}


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _vm_peak_mb():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _declared_modules(requirements, by_module):
    """The top-level modules of each declared distribution: the one named like it, else all."""
    wanted = []
    for requirement in requirements:
        dist = _canonical(re.split(r"[\s<>=!~;\[(@]", requirement, maxsplit=1)[0])
        modules = sorted(
            m
            for m, dists in by_module.items()
            if dist in {_canonical(d) for d in dists} and m.isidentifier() and not m.startswith("_")
        )
        same = [m for m in modules if _canonical(m) == dist]
        wanted += same or [m for m in modules if m not in SKIP]
    return wanted


def main():
    requirements = json.loads(sys.argv[1])
    before = _vm_peak_mb()
    by_module = metadata.packages_distributions()
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name] = dist.version
    errors = {}
    for module in _declared_modules(requirements, by_module):
        try:
            importlib.import_module(module)
        except BaseException as exc:  # a broken package may raise anything, even SystemExit
            errors[module] = f"{type(exc).__name__}: {exc}"[:500]
    torch = sys.modules.get("torch")
    torch_build = None
    if torch is not None:
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        torch_build = f"cuda {cuda}" if cuda else "cpu"
    print(
        json.dumps(
            {
                "python_version": ".".join(map(str, sys.version_info[:3])),
                "base_prefix": sys.base_prefix,
                "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
                "modules": sorted(m for m in by_module if m.isidentifier() and not m.startswith("_")),
                "import_errors": errors,
                "torch_build": torch_build,
                "reserved_address_space_mb": max(0, _vm_peak_mb() - before),
            }
        )
    )


if __name__ == "__main__":
    main()
