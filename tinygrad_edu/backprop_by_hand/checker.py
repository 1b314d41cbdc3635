"""The chapter's δ-equations against automatic differentiation, layer by layer.

This is the one module that brings the two sides together: `equations.py` (plain numpy, the hand-derived
backpropagation of the chapter) and the engine (autograd through the model's own layers). They share no
code, so agreement to ~1e-12 in float64 is evidence that both are right.

    report = check(model, X, Y)            # the δ-equations vs autograd, per layer
    print(report)                          # a table with the shapes of ã^{l-1}, W^l, z^l, δ^l and ∂C/∂W^l
    report = check_student(my_grads, model, X, Y)   # your own δ-implementation against autograd, its
                                                     # mistakes named (mistakes.py)

`model` is an MLP-like object with `linears` (layers with `weight` (out, in) and `bias` (out,), PyTorch's
layout), `activation` and `output_activation` (names). The chapter's W^l is [weight | bias[:, None]], and
its ∂C/∂W^l has the shape of W^lᵀ: autograd's [weight.grad | bias.grad[:, None]] transposed.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..functional import one_hot
from . import equations as eq
from .mistakes import MISTAKES, mistake_variants

__all__ = ["CheckReport", "LayerRow", "autograd_gradients", "chapter_weights", "check", "check_student",
           "relative_error"]

TINY = 1e-300


def relative_error(manual: np.ndarray, auto: np.ndarray) -> float:
    """max|G_manual − G_auto| / max(max|G_auto|, tiny): one number per layer, scale-free."""
    if manual.shape != auto.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(auto), initial=0.0)), TINY)
    return float(np.max(np.abs(manual - auto), initial=0.0)) / scale


@dataclass
class LayerRow:
    layer: int
    shapes: dict[str, tuple[int, ...]]
    delta_error: float
    grad_error: float
    ok: bool
    diagnosis: str = ""


@dataclass
class CheckReport:
    """Per-layer comparison; `ok` is True when every layer agrees within `tolerance`."""

    title: str
    rows: list[LayerRow]
    tolerance: float
    output_error: float
    cost_manual: float
    cost_auto: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and self.output_error <= self.tolerance

    @property
    def max_error(self) -> float:
        return max([self.output_error] + [max(r.grad_error, r.delta_error) for r in self.rows])

    @property
    def first_wrong_layer(self) -> int | None:
        """The first layer that disagrees in backpropagation order (from l = L down to 1): an error there
        flows into every layer below, so it is the one to fix first."""
        return next((r.layer for r in reversed(self.rows) if not r.ok), None)

    def verdict(self) -> str:
        """One line: AGREE or DISAGREE, the largest error against the tolerance, the layer to fix first."""
        if self.ok:
            return f"AGREE: max error {self.max_error:.1e} ≤ tolerance {self.tolerance:.0e}"
        first = self.first_wrong_layer
        return (f"DISAGREE: max error {self.max_error:.1e} > tolerance {self.tolerance:.0e}"
                + (f", first wrong layer l = {first}" if first is not None else ", at the network's output"))

    def __repr__(self) -> str:  # the table is print(report)'s, or Jupyter's (HTML)
        return f"<CheckReport {len(self.rows)} layers, {self.verdict()}>"

    def _table(self) -> tuple[list[str], list[list[str]]]:
        head = ["l", "ã^{l-1}", "W^l", "z^l", "δ^l", "∂C/∂W^l", "error δ", "error ∂C/∂W", "verdict"]
        body = []
        for r in self.rows:
            s = r.shapes
            verdict = "ok" if r.ok else "WRONG" + (f": {r.diagnosis}" if r.diagnosis else "")
            delta = "-" if np.isnan(r.delta_error) else f"{r.delta_error:.1e}"
            body.append([str(r.layer), _fmt(s["a_prev_aug"]), _fmt(s["W"]), _fmt(s["z"]), _fmt(s["delta"]),
                         _fmt(s["grad"]), delta, f"{r.grad_error:.1e}", verdict])
        return head, body

    def __str__(self) -> str:
        head, body = self._table()
        widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
        lines = [self.title, "  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
        lines.append(f"cost C: equations {self.cost_manual:.12g}, autograd {self.cost_auto:.12g}; network output "
                     f"error {self.output_error:.1e}")
        lines.append(self.verdict())
        lines += self.notes
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head, body = self._table()
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
        )
        colour = "green" if self.ok else "red"
        notes = "".join(f"<br>{html.escape(n)}" for n in self.notes)
        return (
            f"<b>{html.escape(self.title)}</b><table><tr>{cells}</tr>{rows}</table>"
            f"<span style='color:{colour}'>{html.escape(self.verdict())}</span>{notes}"
        )


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def chapter_weights(model: Any) -> list[np.ndarray]:
    """The chapter's W^l = [weight | bias[:, None]] for each linear layer of `model` (float64 copies)."""
    return [eq.weights_from_linear(np.asarray(lin.weight.data, np.float64), np.asarray(lin.bias.data, np.float64))
            for lin in _linears(model)]


def _linears(model: Any) -> list[Any]:
    linears = getattr(model, "linears", None)
    if not linears:
        raise TypeError(
            f"check needs an MLP-like model with .linears (its Linear layers in order), .activation and "
            f".output_activation; got {type(model).__name__}"
        )
    for i, lin in enumerate(linears):
        if getattr(lin, "bias", None) is None:
            raise ValueError(f"layer {i + 1} has no bias: the chapter's W^l absorbs the bias as its last column")
    return list(linears)


def autograd_gradients(model: Any, X: np.ndarray, Y: np.ndarray, loss: str) -> dict[str, Any]:
    """Run the model's own layers with the engine and read autograd's ∂C/∂Z^l and ∂C/∂W^l (chapter layout)."""
    import tinygrad_edu as tg
    from tinygrad_edu import functional as F

    linears = _linears(model)
    hidden, output = model.activation, model.output_activation
    for lin in linears:
        lin.weight.grad = None
        lin.bias.grad = None
    a = tg.tensor(X, dtype=linears[0].weight.dtype)
    zs = []
    for l, lin in enumerate(linears, start=1):
        z = lin(a)
        z.retain_grad()  # Δ^l = ∂C/∂Z^l, an intermediate: keep its gradient
        zs.append(z)
        name = output if l == len(linears) else hidden
        if loss == "ce" and l == len(linears):
            a = z  # softmax is folded into cross_entropy
        else:
            a = z if name == "identity" else getattr(F, name)(z)
    if loss == "ce":
        out = F.softmax(a, axis=1)
        cost = F.cross_entropy(a, tg.tensor(Y, dtype=a.dtype))
    else:
        out = a
        cost = F.mse(a, tg.tensor(Y, dtype=a.dtype), reduction="chapter")
    cost.backward()
    grads = [eq.weights_from_linear(lin.weight.grad.data, lin.bias.grad.data).T for lin in linears]
    deltas = [z.grad.data.astype(np.float64) for z in zs]
    for lin in linears:  # leave the model as we found it
        lin.weight.grad = None
        lin.bias.grad = None
    return {"grads": grads, "deltas": deltas, "cost": float(cost.item()), "output": out.data.astype(np.float64)}


def _default_tolerance(model: Any) -> float:
    dtype = _linears(model)[0].weight.dtype
    return 1e-10 if dtype == np.float64 else 1e-4


def _inputs(model: Any, X: Any, Y: Any, loss: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X.data if hasattr(X, "data") and not isinstance(X, np.ndarray) else X, dtype=np.float64)
    Y = np.asarray(Y.data if hasattr(Y, "data") and not isinstance(Y, np.ndarray) else Y)
    n_out = _linears(model)[-1].weight.shape[0]
    if Y.ndim == 1 and np.issubdtype(Y.dtype, np.integer):
        Y = one_hot(Y, n_out).numpy()  # labels -> one-hot rows, the chapter's targets
    return X, np.asarray(Y, dtype=np.float64)


def check(model: Any, X: Any, Y: Any, loss: str = "mse", tolerance: float | None = None) -> CheckReport:
    """Compare the δ-equations (equations.py) with autograd for `model` on the batch (X, Y), layer by layer.

    Error per layer = max|G_manual − G_auto| / max(max|G_auto|, tiny), for ∂C/∂W^l and for δ^l (autograd's
    ∂C/∂Z^l, which includes the 1/B). Tolerance: 1e-10 in float64 (1e-4 for a float32 model).
    Y may be one-hot rows (the chapter) or integer labels.
    """
    X, Y = _inputs(model, X, Y, loss)
    tolerance = _default_tolerance(model) if tolerance is None else tolerance
    Ws = chapter_weights(model)
    manual = eq.backprop(Ws, X, Y, model.activation, model.output_activation if loss == "mse" else None, loss)
    auto = autograd_gradients(model, X, Y, loss)
    rows = []
    for l, (W, Gm, Ga, Dm, Da, Z) in enumerate(
        zip(Ws, manual.grads, auto["grads"], manual.deltas, auto["deltas"], manual.Z), start=1
    ):
        delta_error, grad_error = relative_error(Dm, Da), relative_error(Gm, Ga)
        rows.append(LayerRow(l, _shapes(X.shape[0], W, Z, Ga), delta_error, grad_error,
                             ok=max(delta_error, grad_error) <= tolerance))
    return CheckReport(
        title=f"δ-equations vs autograd ({loss}, batch of {X.shape[0]}, {model.activation} hidden, "
              f"{manual.activation if len(Ws) == 1 else manual.output_activation} output)",
        rows=rows, tolerance=tolerance, output_error=relative_error(manual.A[-1], auto["output"]),
        cost_manual=manual.cost, cost_auto=auto["cost"],
        notes=["δ^l is autograd's ∂C/∂z^l for the batch: it includes the 1/B of the mean cost."],
    )


def _shapes(batch: int, W: np.ndarray, Z: np.ndarray, G: np.ndarray) -> dict[str, tuple[int, ...]]:
    return {"a_prev_aug": (batch, W.shape[1]), "W": W.shape, "z": Z.shape, "delta": Z.shape, "grad": G.shape}


def check_student(
    fn: Callable[..., Sequence[Any]], model: Any, X: Any, Y: Any, loss: str = "mse", tolerance: float | None = None
) -> CheckReport:
    """Check a student's backpropagation against autograd and name the first wrong layer.

    `fn(Ws, X, Y)` receives the chapter's weights [W^1, ..., W^L] (W^l = [weight | bias], float64), the
    batch X (B × n_0) and one-hot targets Y (B × n_L), uses the model's activations, and returns
    [∂C/∂W^1, ..., ∂C/∂W^L] in the chapter's layout (each the shape of W^lᵀ) for C = 1/B Σ‖y_i − a^L_i‖².
    A wrong layer is compared with the usual mistakes (transposed result, missing 1/B, bias column kept,
    Σ' omitted, sign) and the one it matches is named.
    """
    X, Y = _inputs(model, X, Y, loss)
    tolerance = _default_tolerance(model) if tolerance is None else tolerance
    Ws = chapter_weights(model)
    auto = autograd_gradients(model, X, Y, loss)
    student = fn([W.copy() for W in Ws], X.copy(), Y.copy())
    if len(student) != len(Ws):
        raise ValueError(f"the student's function returned {len(student)} gradients for a network of {len(Ws)} layers")
    student = [np.asarray(G, dtype=np.float64) for G in student]
    fwd = eq.forward(Ws, X, model.activation, model.output_activation if loss == "mse" else "softmax")
    variants = mistake_variants(Ws, fwd, Y, loss)
    rows = []
    for l, (W, Gs, Ga, Z) in enumerate(zip(Ws, student, auto["grads"], fwd.Z), start=1):
        error = relative_error(Gs, Ga)
        ok = error <= max(tolerance, 1e-8)
        diagnosis = ""
        if not ok:
            if Gs.shape != Ga.shape:
                diagnosis = f"shape {Gs.shape}, expected {Ga.shape} (the shape of W^lᵀ)"
            matches = [name for name, grads in variants.items()
                       if relative_error(Gs, grads[l - 1]) <= 1e-6 and relative_error(grads[l - 1], Ga) > 1e-6]
            if matches:
                diagnosis = "looks like " + " / ".join(f"{m} ({MISTAKES[m].split(':')[0]})" for m in matches)
        rows.append(LayerRow(l, _shapes(X.shape[0], W, Z, Ga), float("nan"), error, ok, diagnosis))
    report = CheckReport(
        title=f"your gradients vs autograd ({loss}, batch of {X.shape[0]})", rows=rows, tolerance=max(tolerance, 1e-8),
        output_error=0.0, cost_manual=eq.cost(fwd, Y, loss), cost_auto=auto["cost"],
    )
    first = report.first_wrong_layer
    report.notes.append("all layers agree with autograd" if first is None else
                        f"first wrong layer in backpropagation order (l = L down to 1): l = {first}; its error "
                        f"flows into the layers below, so fix it first")
    return report
