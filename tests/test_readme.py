"""The README's promises: its interactive example runs exactly as written, its code blocks run, and CI
runs the README's test command."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

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
