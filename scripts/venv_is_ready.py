"""Exit 0 when this interpreter's environment already holds tinygrad_edu, installed from this checkout, and every
requirement pyproject.toml declares (plus the extras named on the command line) at a version it accepts; else
print what is missing and exit 1. scripts/setup.sh asks before installing, so a set-up checkout needs no network.

    .venv/bin/python scripts/venv_is_ready.py test notebook
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import sys
import tomllib
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement  # pip is in every venv; packaging may not be

ROOT = Path(__file__).resolve().parent.parent


def missing(extras: list[str]) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = []
    try:
        installed = metadata.distribution(project["name"])
    except metadata.PackageNotFoundError:
        return [f"{project['name']} is not installed"]
    spec = importlib.util.find_spec("tinygrad_edu")
    if spec is None or spec.origin is None or not Path(spec.origin).resolve().is_relative_to(ROOT):
        found.append(f"tinygrad_edu is not installed from {ROOT}")
    if installed.version != project["version"] or set(installed.requires or []) != set(_declared(project)):
        found.append("tinygrad_edu's installed metadata is older than pyproject.toml")
    wanted = list(project["dependencies"]) + [r for extra in extras for r in project["optional-dependencies"][extra]]
    for text in wanted:
        requirement = Requirement(text)
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            found.append(f"{requirement.name} is not installed")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{requirement.name} {version} does not satisfy {requirement}")
    return found


def _declared(project: dict) -> list[str]:
    """The requirement strings as setuptools writes them into the installed metadata."""
    declared = [str(Requirement(r)) for r in project["dependencies"]]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        declared += [f'{Requirement(r)}; extra == "{extra}"' for r in requirements]
    return declared


if __name__ == "__main__":
    problems = missing(sys.argv[1:])
    for problem in problems:
        print(f"setup: {problem}")
    sys.exit(1 if problems else 0)
