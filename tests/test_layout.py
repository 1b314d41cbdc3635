"""The package's shape, checked on its source: the engine's files read in one order, each importing only the
ones before it, numpy and the standard library (nothing of layers, data, pictures or the command line), and no
name that is both a module and a function."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
import types
from pathlib import Path

import tinygrad_edu as tg

ENGINE = Path(tg.__file__).parent / "engine"
ORDER = ["tensor", "function", "ops", "elementwise", "reductions", "shape", "convolution", "autograd", "interop"]  # the reading order


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in the file, nested ones (inside functions) included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(f"{node.module}.{a.name}" if node.module else a.name, node.level) for a in node.names]
    return found


def test_the_engine_is_the_files_it_says():
    assert sorted(p.stem for p in ENGINE.glob("*.py")) == sorted(ORDER + ["__init__"])


def test_each_engine_file_imports_only_the_files_before_it_numpy_and_the_standard_library():
    for position, name in enumerate(ORDER):
        for module, level in imports_of(ENGINE / f"{name}.py"):
            if level == 0:
                top = module.split(".")[0]
                assert top == "numpy" or top in sys.stdlib_module_names or top == "__future__", (
                    f"engine/{name}.py imports {module}")
            else:
                assert level == 1, f"engine/{name}.py imports {module} from outside the engine"
                imported = module.split(".")[0]
                assert imported in ORDER[:position], (
                    f"engine/{name}.py imports engine/{imported}.py, which comes after it (or is itself)")


def test_the_chapter_view_and_the_trace_know_operations_by_class():
    for path in (ENGINE.parent / "viz").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "function.__name__ ==" not in source and "function.__name__ in" not in source, path.name
        assert "Function.apply =" not in source, f"{path.name} patches Function.apply"


def test_no_name_is_both_a_module_and_something_else():
    """`tinygrad_edu.tensor` is the function, so the file of Tensor is engine/tensor.py, and so on."""
    clashes = []
    for found in pkgutil.walk_packages(tg.__path__, "tinygrad_edu."):
        if found.name.endswith("__main__"):
            continue
        importlib.import_module(found.name)
        parent, _, child = found.name.rpartition(".")
        value = getattr(importlib.import_module(parent), child)
        if not isinstance(value, types.ModuleType):
            clashes.append(f"{found.name} is also a {type(value).__name__}")
    assert not clashes, clashes
