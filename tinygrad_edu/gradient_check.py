"""Check a backward pass against finite differences: the tool to trust a gradient you wrote yourself.

For f: inputs -> outputs, backward computes vector-Jacobian products gᵀJ (g = dC/d(output)). gradcheck
compares them with derivatives measured numerically, in float64, by central differences:

    J[k, j] ≈ (f_k(x + ε e_j) - f_k(x - ε e_j)) / 2ε        error ≈ ε²|f'''|/6 + 1e-16 |f| / ε ≈ 1e-10

Two modes, chosen with `fast_mode` (None: automatic):

- full (`fast_mode=False`): every element of the Jacobian. Row k comes from one backward pass with the
  one-hot gradient e_k, column j from two evaluations of f around x_j; it costs out.size backward passes
  and 2·in.size forward passes. Used automatically while every input requiring grad has at most
  `FULL_MODE_MAX_SIZE` (1000) elements in total and so does the output.
- fast (`fast_mode=True`, as PyTorch's fast mode and JAX's `check_grads`): one random projection per input
  and direction, seeded by `seed`. With u ~ N(0, 1) of the output's shape and v a random unit vector of the
  input's shape, backward gives uᵀJv = Σ (backward(u) · v), and the central difference of the scalar uᵀf
  along v gives the same number numerically: 1 backward and 2 forward passes per input, whatever the size.
  An error in a few Jacobian elements is diluted in the projection (it moves uᵀJv by roughly 1/√size of
  the error), so fast mode catches errors in the whole gradient, full mode errors in any single element.

An element passes when |analytical - numerical| <= atol + rtol·|numerical|. Detection limit at the
defaults (atol=1e-5, rtol=1e-3), measured with a backward wrong by a relative error δ on random float64
inputs in [-3, 3] (200 per function: cube, tanh, exp, sigmoid, softmax, a sum of squares): full mode caught
δ = 0.2 % on 99-100 % of the inputs and δ = 1 % on 100 %; fast mode (2 directions) caught δ = 0.5 % and 1 %
on 99-100 % (100 % on 2000-element inputs). δ <= 0.1 % (the rtol) is never caught. The misses are inputs
whose gradient elements are all below ~0.01: an element is caught only when δ·|g| > 1e-5 + 1e-3·|g|.
Errors of a factor (-1, 2, a transpose, a wrong broadcast reduction) are caught whenever the affected
gradient is not ~0. In fast mode one wrong element among 2000 (wrong by 100 %) was caught 80-100 % of
the time: check small inputs in full mode too.

Beyond the Jacobian, gradcheck runs f twice (same output?), backward twice on the same graph (same
gradients? catches random or stateful backward passes), and backward with a zero output gradient (zero
input gradients? catches a backward that ignores its `grad` argument).

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> tg.gradcheck(lambda x: (x * x).sum(), [x])
    True

`gradcheck` raises `GradcheckError` (message: input, worst element, analytical and numerical values, error,
tolerance, a hint when f has a kink there); `check_gradients` returns a `GradcheckReport` instead (a table
when printed, an HTML table in Jupyter). `gradgradcheck` checks second derivatives (backward of backward).
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine.autograd import grad as autograd_grad
from .engine.tensor import Tensor, enable_grad

#: In automatic mode, the full Jacobian is checked while the inputs requiring grad have at most this many
#: elements in total and the outputs too; above it, the random-projection (fast) mode is used.
FULL_MODE_MAX_SIZE = 1000

_DTYPE_WARNING = (
    "Input #{i} requires gradient and is not a double precision floating point. "
    "This check will likely fail if all the inputs are not of double precision floating point. "
)


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message says where and by how much, and
    `.report` holds the whole `GradcheckReport`."""

    def __init__(self, message: str, report: GradcheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class InputCheck:
    """The comparison for one input: its worst element (full mode) or worst random direction (fast mode)."""

    input_index: int
    name: str | None
    shape: tuple[int, ...]
    dtype: str
    mode: str  # "full" or "fast"
    index: tuple[int, ...] | None  # worst input element (full mode)
    output: int | None  # which output (when fn returns several)
    output_index: tuple[int, ...] | None  # worst output element (full mode)
    analytical: float
    numerical: float
    error: float
    tolerance: float
    kink: bool  # the one-sided differences disagree by more than the tolerance there

    @property
    def passed(self) -> bool:
        return bool(self.error <= self.tolerance)  # False for NaN

    def label(self) -> str:
        return f"#{self.input_index}" + (f" {self.name!r}" if self.name else "")

    def where(self) -> str:
        if self.mode == "fast":
            return "random direction"
        return str(self.index)

    def output_where(self) -> str:
        if self.mode == "fast":
            return "uᵀ(output)"
        text = str(self.output_index)
        return f"#{self.output} {text}" if self.output is not None else text


@dataclass
class ExtraCheck:
    """One of the checks beyond the Jacobian (determinism, zero gradient)."""

    description: str
    passed: bool
    detail: str = ""


@dataclass
class GradcheckReport:
    """Everything gradcheck measured. `bool(report)` is whether it passed; `print(report)` shows a table;
    Jupyter shows it as an HTML table. `report.message()` is the text GradcheckError carries."""

    fn_name: str
    mode: str
    eps: float
    atol: float
    rtol: float
    seed: int
    inputs: list[InputCheck] = field(default_factory=list)
    checks: list[ExtraCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.inputs) and all(c.passed for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failures(self) -> list[InputCheck | ExtraCheck]:
        return [c for c in self.inputs if not c.passed] + [c for c in self.checks if not c.passed]

    def _header(self) -> str:
        what = "full Jacobian" if self.mode == "full" else "fast mode: random projections uᵀJv"
        verdict = "passed" if self.passed else "FAILED"
        return f"gradcheck {verdict}: {self.fn_name}, {what} (eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})"

    _COLUMNS = ("input", "shape", "dtype", "worst at", "output at", "analytical", "numerical", "|error|",
                "tolerance", "result")

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for c in self.inputs:
            result = "ok" if c.passed else ("FAILED (kink?)" if c.kink else "FAILED")
            rows.append((c.label(), str(c.shape), c.dtype, c.where(), c.output_where(), f"{c.analytical:.6g}",
                         f"{c.numerical:.6g}", f"{c.error:.3g}", f"{c.tolerance:.3g}", result))
        return rows

    def __str__(self) -> str:
        lines = [self._header()]
        lines += _table(self._COLUMNS, self._rows())
        for c in self.checks:
            lines.append(f"  {c.description}: {'ok' if c.passed else 'FAILED'}" + (f" ({c.detail})" if c.detail else ""))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GradcheckReport {'passed' if self.passed else 'FAILED'}: {self.fn_name}, {self.mode} mode>"

    def _repr_html_(self) -> str:
        e = html.escape
        color = "#2e7d32" if self.passed else "#c62828"
        head = "".join(f"<th>{e(c)}</th>" for c in self._COLUMNS)
        body = []
        for c, row in zip(self.inputs, self._rows()):
            style = "" if c.passed else ' style="color:#c62828;font-weight:bold"'
            body.append(f"<tr{style}>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
        extra = "".join(
            f"<li>{e(c.description)}: <b style=\"color:{'#2e7d32' if c.passed else '#c62828'}\">"
            f"{'ok' if c.passed else 'FAILED'}</b>{e(' (' + c.detail + ')' if c.detail else '')}</li>"
            for c in self.checks
        )
        extra += "".join(f"<li>warning: {e(w)}</li>" for w in self.warnings)
        return (
            f'<div><p style="color:{color};font-weight:bold">{e(self._header())}</p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<ul>{extra}</ul></div>"
        )

    def message(self) -> str:
        """The first failure in one sentence (where, analytical vs numerical, error vs tolerance), then the table."""
        failures = self.failures
        if not failures:
            return self._header()
        first = failures[0]
        if isinstance(first, ExtraCheck):
            text = f"gradcheck failed for {self.fn_name}: {first.description} does not hold ({first.detail})"
        else:
            text = _describe(first, self.fn_name)
        return text + "\n\n" + str(self)


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*columns).rstrip()] + [fmt.format(*r).rstrip() for r in rows]


def _describe(c: InputCheck, fn_name: str) -> str:
    shape = f"shape {c.shape}"
    values = (
        f"analytical {c.analytical:.10g}, numerical {c.numerical:.10g}, "
        f"error {c.error:.3g} > tolerance {c.tolerance:.3g} (atol + rtol·|numerical|)"
    )
    if c.mode == "full":
        out = f"output #{c.output} element {c.output_index}" if c.output is not None else f"output element {c.output_index}"
        text = (f"gradient mismatch for input {c.label()} ({shape}) of {fn_name} at element {c.index} "
                f"({out}): {values}")
    else:
        text = (f"gradient mismatch for input {c.label()} ({shape}) of {fn_name} in fast mode: along a random "
                f"direction v (and output weights u), uᵀJv from backward vs the finite difference of uᵀf: "
                f"{values}. Run with fast_mode=False to find the wrong element")
    if not np.isfinite(c.numerical):
        text += "; the numerical derivative is not finite: is the input at the edge of the function's domain?"
    if c.kink:
        text += (
            "; the left and right finite differences disagree there, so the function has a kink at this point "
            "(relu at 0, a max with ties, |x| at 0) or is too steep for eps: move the input away from it"
        )
    return text


# ---------------------------------------------------------------------------------------------------------------
# Evaluating the function
# ---------------------------------------------------------------------------------------------------------------


def _as_inputs(inputs: Any) -> list[Any]:
    if isinstance(inputs, Tensor):
        return [inputs]
    return list(inputs)


def _fn_name(fn: Callable) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):  # MyFunction.apply
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or repr(fn)


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list[Tensor]:
    """Call fn (with grad enabled: fn may itself call grad(), to check second derivatives) and return its
    outputs as a list of float Tensors."""
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    result = []
    for i, o in enumerate(outs):
        if o is None:
            continue
        if not isinstance(o, Tensor):
            o = Tensor._wrap(np.asarray(o))
        if o.dtype.kind != "f":
            raise TypeError(f"output {i} of the checked function has dtype {o.dtype}: gradcheck needs real "
                            f"floating-point outputs")
        result.append(o)
    if not result:
        raise TypeError("the checked function returned no Tensor")
    return result


def _flat(outputs: Sequence[Tensor]) -> np.ndarray:
    return np.concatenate([np.asarray(o.data, dtype=np.float64).reshape(-1) for o in outputs])


def _evaluate(fn: Callable, inputs: Sequence[Any]) -> np.ndarray:
    return _flat(_outputs(fn, inputs))


def _wrt(inputs: Sequence[Any]) -> list[tuple[int, Tensor]]:
    wrt = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i, x in wrt:
        if x.dtype.kind != "f":
            raise TypeError(f"input #{i} has dtype {x.dtype}: gradcheck handles real floating-point inputs only")
    return wrt


def _perturbable(x: Tensor) -> np.ndarray:
    """A flat view of x's own data, to perturb in place (fn then sees the change) and restore."""
    if not (x.data.flags.c_contiguous and x.data.flags.writeable and x.data.flags.owndata):
        x.data = x.data.copy()
    return x.data.reshape(-1)


def _vjp(outputs: Sequence[Tensor], wrt: Sequence[Tensor], seeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Σ_k seeds_k · d outputs_k / d wrt, one float64 array per input (zeros where unused)."""
    pairs = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if not pairs:  # nothing depends on the inputs through the graph
        return [np.zeros(x.shape) for x in wrt]
    grads = autograd_grad([o for o, _ in pairs], list(wrt), grad_outputs=[s.astype(o.dtype) for o, s in pairs],
                          retain_graph=True, allow_unused=True)
    return [np.zeros(x.shape) if g is None else np.asarray(g.data, dtype=np.float64) for g, x in zip(grads, wrt)]


def _locate(flat_index: int, outputs: Sequence[Tensor]) -> tuple[int | None, tuple[int, ...]]:
    for n, o in enumerate(outputs):
        if flat_index < o.size:
            index = tuple(int(v) for v in np.unravel_index(flat_index, o.shape))
            return (n if len(outputs) > 1 else None), index
        flat_index -= o.size
    raise IndexError(flat_index)


# ---------------------------------------------------------------------------------------------------------------
# Jacobians
# ---------------------------------------------------------------------------------------------------------------


def numerical_jacobian(
    fn: Callable, inputs: Sequence[Any], eps: float = 1e-6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Central-difference Jacobians d out / d input_i, shape (out.size, input_i.size), one per input that
    requires grad, and per element |right - left| of the one-sided differences (large at a kink).

    Outputs of several tensors are flattened and concatenated. The step actually taken, (x + ε) - (x - ε)
    in floating point, is the divisor, which removes the rounding of x ± ε from the result.
    """
    jacobians, asymmetries = [], []
    center = _evaluate(fn, inputs)
    for _, x in _wrt(inputs):
        flat = _perturbable(x)
        jac = np.zeros((center.size, flat.size))
        asym = np.zeros((center.size, flat.size))
        for j in range(flat.size):
            original = flat[j]
            try:
                flat[j] = original + eps
                up = flat[j] - original
                plus = _evaluate(fn, inputs)
                flat[j] = original - eps
                down = original - flat[j]
                minus = _evaluate(fn, inputs)
            finally:
                flat[j] = original
            with np.errstate(invalid="ignore"):
                jac[:, j] = (plus - minus) / (up + down)
                asym[:, j] = np.abs((plus - center) / up - (center - minus) / down)
        jacobians.append(jac)
        asymmetries.append(asym)
    return jacobians, asymmetries


def analytical_jacobian(fn: Callable, inputs: Sequence[Any]) -> list[np.ndarray]:
    """Jacobians from backward, shape (out.size, input_i.size): one backward pass per output element with a
    one-hot output gradient (row k of J is e_kᵀ J)."""
    wrt = [x for _, x in _wrt(inputs)]
    outputs = _outputs(fn, inputs)
    total = sum(o.size for o in outputs)
    jacobians = [np.zeros((total, x.size)) for x in wrt]
    k = 0
    for n, o in enumerate(outputs):
        for e in range(o.size):
            seeds = [np.zeros(p.shape) for p in outputs]
            seeds[n].reshape(-1)[e] = 1.0
            for jac, g in zip(jacobians, _vjp(outputs, wrt, seeds)):
                jac[k] = g.reshape(-1)
            k += 1
    return jacobians


def _compare(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Per element: the error |a - n| and error / tolerance (inf where either value is not finite)."""
    with np.errstate(invalid="ignore"):
        error = np.abs(a - n)
        ratio = error / (atol + rtol * np.abs(n))
    ratio = np.where(np.isfinite(ratio), ratio, np.inf)
    return error, ratio


def _full_checks(fn: Callable, inputs: Sequence[Any], eps: float, atol: float, rtol: float) -> list[InputCheck]:
    outputs = _outputs(fn, inputs)
    analytical = analytical_jacobian(fn, inputs)
    numerical, asymmetries = numerical_jacobian(fn, inputs, eps)
    checks = []
    for (i, x), a, n, asym in zip(_wrt(inputs), analytical, numerical, asymmetries):
        if a.size == 0:
            continue
        error, ratio = _compare(a, n, atol, rtol)
        k, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        out, out_index = _locate(int(k), outputs)
        tolerance = atol + rtol * abs(n[k, j])
        checks.append(InputCheck(
            input_index=i, name=x.name, shape=x.shape, dtype=str(x.dtype), mode="full",
            index=tuple(int(v) for v in np.unravel_index(j, x.shape)), output=out, output_index=out_index,
            analytical=float(a[k, j]), numerical=float(n[k, j]), error=float(error[k, j]),
            tolerance=float(tolerance), kink=bool(asym[k, j] > tolerance),
        ))
    return checks


def _fast_checks(
    fn: Callable, inputs: Sequence[Any], eps: float, atol: float, rtol: float, rng: np.random.Generator,
    num_directions: int,
) -> list[InputCheck]:
    outputs = _outputs(fn, inputs)
    wrt = _wrt(inputs)
    worst: dict[int, InputCheck] = {}
    for _ in range(num_directions):
        u = [rng.standard_normal(o.shape) for o in outputs]
        u_flat = _flat([Tensor._wrap(s) for s in u])
        grads = _vjp(outputs, [x for _, x in wrt], u)
        center = u_flat @ _evaluate(fn, inputs)
        for (i, x), g in zip(wrt, grads):
            if x.size == 0:
                continue
            v = rng.standard_normal(x.size)
            v /= np.linalg.norm(v)  # a unit step: its length is eps, as in full mode
            flat = _perturbable(x)
            original = flat.copy()
            try:
                flat[:] = original + eps * v
                plus = u_flat @ _evaluate(fn, inputs)
                flat[:] = original - eps * v
                minus = u_flat @ _evaluate(fn, inputs)
            finally:
                flat[:] = original
            a = float(g.reshape(-1) @ v)
            n = float((plus - minus) / (2 * eps))
            asym = abs((plus - center) / eps - (center - minus) / eps)
            error, ratio = _compare(np.array(a), np.array(n), atol, rtol)
            tolerance = atol + rtol * abs(n)
            check = InputCheck(
                input_index=i, name=x.name, shape=x.shape, dtype=str(x.dtype), mode="fast", index=None,
                output=None, output_index=None, analytical=a, numerical=n, error=float(error),
                tolerance=float(tolerance), kink=bool(asym > tolerance),
            )
            previous = worst.get(i)
            if previous is None or float(ratio) > previous.error / max(previous.tolerance, 1e-300):
                worst[i] = check
    return [worst[i] for i, _ in wrt if i in worst]


def _extra_checks(
    fn: Callable, inputs: Sequence[Any], rng: np.random.Generator, nondet_tol: float,
    check_zero_grad: bool, check_determinism: bool,
) -> list[ExtraCheck]:
    wrt = [x for _, x in _wrt(inputs)]
    outputs = _outputs(fn, inputs)
    checks = []
    if check_determinism:
        again = _evaluate(fn, inputs)
        diff = float(np.max(np.abs(again - _flat(outputs)), initial=0.0))
        checks.append(ExtraCheck("forward twice gives the same output", bool(diff <= nondet_tol),
                                 "" if diff <= nondet_tol else f"outputs differ by {diff:.3g} > nondet_tol={nondet_tol:g}"))
        seeds = [rng.standard_normal(o.shape) for o in outputs]
        first, second = _vjp(outputs, wrt, seeds), _vjp(outputs, wrt, seeds)
        diffs = [float(np.max(np.abs(p - q), initial=0.0)) for p, q in zip(first, second)]
        bad = [(i, d) for i, d in enumerate(diffs) if not d <= nondet_tol]
        detail = "" if not bad else (f"two backward passes with the same output gradient differ by {bad[0][1]:.3g} "
                                     f"for input #{_wrt(inputs)[bad[0][0]][0]}; is backward random or stateful?")
        checks.append(ExtraCheck("backward twice gives the same gradients", not bad, detail))
    if check_zero_grad:
        grads = _vjp(outputs, wrt, [np.zeros(o.shape) for o in outputs])
        bad = [(i, float(np.max(np.abs(g), initial=0.0))) for i, g in enumerate(grads) if not np.all(g == 0)]
        detail = "" if not bad else (f"input #{_wrt(inputs)[bad[0][0]][0]} gets a gradient of magnitude "
                                     f"{bad[0][1]:.3g}: does backward multiply by its `grad` argument?")
        checks.append(ExtraCheck("zero output gradient gives zero input gradients", not bad, detail))
    return checks


# ---------------------------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------------------------


def _warn_dtypes(inputs: Sequence[Any], stacklevel: int) -> list[str]:
    messages = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            message = _DTYPE_WARNING.format(i=i)
            warnings.warn(message, stacklevel=stacklevel + 1)
            messages.append(message.strip())
    return messages


def _choose_mode(fast_mode: bool | None, inputs: Sequence[Any], fn: Callable) -> str:
    if fast_mode is not None:
        return "fast" if fast_mode else "full"
    in_size = sum(x.size for _, x in _wrt(inputs))
    out_size = int(_evaluate(fn, inputs).size)
    return "fast" if max(in_size, out_size) > FULL_MODE_MAX_SIZE else "full"


def _check(
    fn: Callable, inputs: Any, eps: float, atol: float, rtol: float, fast_mode: bool | None, seed: int,
    num_directions: int, nondet_tol: float, check_zero_grad: bool, check_determinism: bool, stacklevel: int,
) -> GradcheckReport:
    inputs = _as_inputs(inputs)
    if not _wrt(inputs):
        raise ValueError("gradcheck needs at least one input Tensor with requires_grad=True")
    if eps <= 0 or atol < 0 or rtol < 0:
        raise ValueError(f"gradcheck needs eps > 0, atol >= 0 and rtol >= 0, got eps={eps}, atol={atol}, rtol={rtol}")
    found = _warn_dtypes(inputs, stacklevel + 1)
    with enable_grad():
        mode = _choose_mode(fast_mode, inputs, fn)
    rng = np.random.default_rng(seed)
    report = GradcheckReport(fn_name=_fn_name(fn), mode=mode, eps=eps, atol=atol, rtol=rtol, seed=seed,
                             warnings=found)
    with enable_grad():  # a check called under no_grad() still needs the graph
        if mode == "full":
            report.inputs = _full_checks(fn, inputs, eps, atol, rtol)
        else:
            report.inputs = _fast_checks(fn, inputs, eps, atol, rtol, rng, num_directions)
        report.checks = _extra_checks(fn, inputs, rng, nondet_tol, check_zero_grad, check_determinism)
    return report


def check_gradients(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    fast_mode: bool | None = None,
    seed: int = 0,
    num_directions: int = 2,
    nondet_tol: float = 0.0,
    check_zero_grad: bool = True,
    check_determinism: bool = True,
) -> GradcheckReport:
    """The non-raising form of `gradcheck`: run every check and return a `GradcheckReport`
    (truthy when everything passed; a table when printed; an HTML table in Jupyter)."""
    return _check(fn, inputs, eps, atol, rtol, fast_mode, seed, num_directions, nondet_tol, check_zero_grad,
                  check_determinism, stacklevel=2)


def gradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    fast_mode: bool | None = None,
    seed: int = 0,
    num_directions: int = 2,
    nondet_tol: float = 0.0,
    check_zero_grad: bool = True,
    check_determinism: bool = True,
) -> bool:
    """Check backward against central finite differences; True, or raise GradcheckError.

    fn:              takes `inputs` positionally, returns a Tensor or a tuple of Tensors. Inputs that are
                     Tensors with requires_grad=True are checked; others (constants, settings) are passed as is.
    eps:             the finite-difference step.
    atol, rtol:      an element passes when |analytical - numerical| <= atol + rtol·|numerical|.
    raise_exception: False returns False instead of raising (`check_gradients` returns the full report).
    fast_mode:       None: full Jacobian up to FULL_MODE_MAX_SIZE elements, random projections above;
                     True/False force the mode.
    seed:            seeds the random directions (fast mode) and output gradients (determinism check).
    num_directions:  random directions per input in fast mode (each costs 1 backward + 2 forward passes).
    nondet_tol:      how much two runs of forward, or of backward on the same graph, may differ.
    check_zero_grad, check_determinism: turn the extra checks off.

    Inputs should be float64 (a warning says so otherwise): in float32 the finite differences themselves
    are too inaccurate to judge a gradient.
    """
    report = _check(fn, inputs, eps, atol, rtol, fast_mode, seed, num_directions, nondet_tol, check_zero_grad,
                    check_determinism, stacklevel=2)
    if report.passed:
        return True
    if raise_exception:
        raise GradcheckError(report.message(), report)
    return False


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    *,
    fast_mode: bool | None = None,
    seed: int = 0,
    num_directions: int = 2,
    nondet_tol: float = 0.0,
    check_zero_grad: bool = True,
    check_determinism: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, g) -> gᵀ ∂fn/∂inputs, computed with
    `grad(..., create_graph=True)`, with respect to the inputs and the output gradient g.

    `grad_outputs` (one per output of fn) defaults to seeded random normal tensors that require grad, so
    that the backward pass is checked as a function of its `grad` argument too (it must be linear in it).
    Other arguments as in `gradcheck`.
    """
    inputs = _as_inputs(inputs)
    wrt_positions = [i for i, _ in _wrt(inputs)]
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor(rng.standard_normal(o.shape).astype(o.dtype), requires_grad=True) for o in outputs]
    else:
        grad_outputs = _as_inputs(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"fn has {len(outputs)} outputs but {len(grad_outputs)} grad_outputs were given")
    count = len(inputs)

    def first_derivative(*args: Any) -> tuple[Tensor, ...]:
        xs, gs = list(args[:count]), args[count:]
        wrt = [xs[i] for i in wrt_positions]
        outs = _outputs(fn, xs)
        pairs = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
        if not pairs:
            return tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) for x in wrt)
        grads = autograd_grad([o for o, _ in pairs], wrt, grad_outputs=[g for _, g in pairs],
                              create_graph=True, allow_unused=True)
        return tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) if g is None else g for g, x in zip(grads, wrt))

    first_derivative.__qualname__ = f"grad of {_fn_name(fn)}"
    report = _check(first_derivative, [*inputs, *grad_outputs], eps, atol, rtol, fast_mode, seed, num_directions,
                    nondet_tol, check_zero_grad, check_determinism, stacklevel=2)
    if report.passed:
        return True
    if raise_exception:
        raise GradcheckError(report.message(), report)
    return False
