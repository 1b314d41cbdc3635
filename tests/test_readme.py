"""The README's promises: its interactive example runs exactly as written, its code blocks run, and CI
runs the README's test command."""

from __future__ import annotations

import doctest
import sys
import re
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_interactive_example_runs_exactly_as_written():
    sessions = [b for b in _blocks("python") if b.lstrip().startswith(">>>")]
    assert sessions, "the README has no interactive example"
    parser = doctest.DocTestParser()
    for text in sessions:
        test = parser.get_doctest(text, {}, "README", "README.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0 and runner.tries > 0


def test_other_python_blocks_run():
    for text in _blocks("python"):
        if not text.lstrip().startswith(">>>"):
            exec(compile(text, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command():
    commands = _blocks("bash")
    test_command = next(c.strip() for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_recipe_table_is_experiment_recipes():
    """The table of recommended settings repeats experiment.RECIPES (and the digits' exceptions): it must not
    drift from them."""
    from tinygrad_edu.experiment import (ADAM_LR, DIGITS_EPOCHS, DIGITS_RECIPES, EPOCHS, MOMENTUM, RECIPES,
                                         TrainConfig)

    header = "| activation | loss | optimizer | λ | batch | schedule |"
    lines = README[README.index(header):].splitlines()[2:]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[:lines.index("")]]
    expected = []
    for (activation, loss), recipe in RECIPES.items():
        digits = DIGITS_RECIPES.get((activation, loss), recipe)

        def cell(field: str, shown: str = "{:g}") -> str:
            value, on_digits = getattr(recipe, field), getattr(digits, field)
            return shown.format(value) + (f" (digits: {shown.format(on_digits)})" if on_digits != value else "")

        optimizer = cell("optimizer", "{}").replace("momentum", f"momentum {MOMENTUM:g}")
        schedule = TrainConfig(activation=activation, loss=loss).resolved().schedule
        expected.append([activation, loss, optimizer, cell("lr"), cell("batch_size"), schedule])
    assert rows == expected
    assert f"Adam takes {ADAM_LR:g};" in README and f"Epochs: {EPOCHS} ({DIGITS_EPOCHS} on digits)" in README


# --------------------------------------------------------------------------------------------------------------
# every command the README shows runs as written after setup
# --------------------------------------------------------------------------------------------------------------

PROGRAMS = ("python", "python3", "pip", "pip3", "pytest", "jupyter", "tinygrad-edu")  # what a reader might type bare
VENV_BIN = ROOT / ".venv" / "bin"


def readme_commands() -> list[str]:
    """Each shell command the README shows: the lines of its ```bash blocks and the inline `code` spans of two
    words or more that start with a program, `.venv/bin/`, `bash ` or `source `."""
    commands = [line for block in _blocks("bash") for line in block.splitlines() if line.strip()]
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S)):
        words = span.split()
        if len(words) >= 2 and (words[0] in PROGRAMS or words[0].startswith((".venv/bin/", "bash", "source"))):
            commands.append(span)
    return commands


def _problem(command: str) -> str | None:
    """Why `command` would not run as written in a set-up checkout (None: it would)."""
    notebook = "--notebook" in command  # the programs of `setup.sh --notebook`'s extra
    for part in re.split(r"&&|\|\||\||;", command):
        words = [w for w in part.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]  # VAR=value prefixes
        if not words:
            continue
        program = words[0]
        if program in PROGRAMS:
            return f"{program!r} is not on a fresh Debian's PATH: write .venv/bin/{program}"
        if program in ("bash", "source"):
            if not (ROOT / words[1]).is_file():
                return f"{words[1]} does not exist"
        elif program.startswith(".venv/bin/"):
            name = program.removeprefix(".venv/bin/")
            if notebook and name.startswith("jupyter"):
                if not any(r.startswith("jupyterlab") for r in _extra("notebook")):
                    return "the notebook extra does not install JupyterLab"
            elif not (VENV_BIN / name).exists():
                return f"setup does not install {program}"
        elif program not in ("cd", "export", "head", "true", "cat", "ls", "unshare"):
            return f"{program!r}: a program this test does not know"
    return None


def _extra(name: str) -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"][name]


def test_every_readme_command_runs_as_written_after_setup():
    require(VENV_BIN.is_dir(), f"the checkout's .venv (bash scripts/setup.sh); tests run from {sys.executable}")
    commands = readme_commands()
    assert len(commands) >= 10 and any("jupyter lab" in c for c in commands)
    problems = [f"{c!r}: {why}" for c in commands if (why := _problem(c))]
    assert not problems, "\n".join(problems)


def test_the_command_check_catches_what_fails_on_debian():
    assert "python" in _problem("python -m pytest")
    assert "tinygrad-edu" in _problem("tinygrad-edu train --dataset digits")
    assert _problem("bash scripts/nope.sh") == "scripts/nope.sh does not exist"
    assert _problem("OPENBLAS_NUM_THREADS=1 .venv/bin/python -m pytest") is None or not VENV_BIN.is_dir()


def test_the_engine_table_counts_the_lines_of_every_engine_file():
    rows = dict(re.findall(r"^\| `engine/(\w+)\.py` \| (\d+) \|", README, flags=re.M))
    engine = ROOT / "tinygrad_edu" / "engine"
    files = {p.stem for p in engine.glob("*.py")} - {"__init__"}
    assert set(rows) == files
    for name, count in rows.items():
        assert int(count) == len((engine / f"{name}.py").read_text(encoding="utf-8").splitlines()), name


def _table(header: str) -> list[list[str]]:
    lines = README[README.index(header):].splitlines()[2:]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))] for line in lines[:lines.index("")]]


def test_activation_and_loss_tables_are_the_functions_and_modules():
    """Every function of tg.functional has its row; each row's module and registry name are real."""
    from tinygrad_edu import functional as F
    from tinygrad_edu import nn

    named = set()
    for header, registry in (("| activation | formula |", nn.ACTIVATIONS), ("| loss (d = input − target) |", nn.LOSS_MODULES)):
        for function, _, _, module in _table(header):
            named.add(re.match(r"`(\w+)", function).group(1))
            cls, key = re.match(r"`(\w+)[^`]*` \(`\"(\w+)\"`", module).groups()
            assert registry[key] is getattr(nn, cls), module
    assert named == set(F.__all__) - {"identity", "one_hot"}
