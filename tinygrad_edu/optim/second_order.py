"""Beyond gradient descent: Newton-Raphson, Hessian-free Newton, nonlinear conjugate gradient and L-BFGS.

The chapter's descent step is w ← w − λ ∇C. These methods choose a better direction d and step length t, using
the curvature of C: exactly (the Hessian H, from the engine's second derivatives), through products H v only
(Hessian-vector products, HVPs), or estimated from how the gradient changed between steps (CG, L-BFGS).

Each needs to evaluate C several times per step (a line search tries step lengths), so `step` takes a
`closure` that recomputes the cost, as `torch.optim.LBFGS` does:

    opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    def closure():
        return mse(model(X), Y)       # the cost; it may call .backward() first, as PyTorch's closures do
    for _ in range(10):
        opt.step(closure)             # up to max_iter iterations, fewer once the gradient is ~0

A closure that only returns the cost works with all four: the optimizer takes the gradient itself
(Newton and NewtonCG need that: they differentiate the gradient again, so the cost's graph must be intact).
LBFGS and CG also accept PyTorch's closure, which calls `optimizer.zero_grad()` and `loss.backward()`.

What one iteration costs, n parameters:

    method     per iteration                                   memory
    Newton     1 gradient + n HVPs (the Hessian), an n×n solve  n² numbers
    NewtonCG   1 gradient + up to cg_max_iter HVPs               a few n-vectors
    CG         1 gradient per line-search trial (usually 1-3)    3 n-vectors
    LBFGS      1 gradient per line-search trial (usually 1)      2 · history_size n-vectors

The parameters are treated as one flat vector w. `self.state["n_iter"]`, `["func_evals"]` (closure calls)
and `["hvp_evals"]` count the work done, over all calls of `step` (PyTorch's LBFGS keeps the first two).
A step stops early when max |∇C| ≤ tolerance_grad, or when w or C changes by less than tolerance_change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine.autograd import grad
from ..engine.tensor import Tensor, bump_version, enable_grad, no_grad, note_untraceable
from .first_order import Optimizer

__all__ = ["CG", "LBFGS", "Newton", "NewtonCG", "strong_wolfe"]

Closure = Callable[[], Tensor]


# ---------------------------------------------------------------------------------------------------------------
# The line search: a step length t along d with enough decrease and a flatter slope (the strong Wolfe conditions)
# ---------------------------------------------------------------------------------------------------------------


def _cubic_minimum(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (t1, f1) and (t2, f2) with slopes g1 and g2, kept within `bounds`
    (default: between t1 and t2); the middle of the bounds when the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(t1, t2), max(t1, t2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (t1 - t2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (low + high) / 2
    d2 = math.sqrt(square)
    if t1 <= t2:
        t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, low), high)


def strong_wolfe(evaluate: Callable[[float], tuple[float, np.ndarray]], f: float, g: np.ndarray, d: np.ndarray,
                 t: float, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_evals: int = 25) -> tuple[float, np.ndarray, float, int]:
    """Find t with C(w + t d) ≤ C(w) + c1 t ∇Cᵀd (enough decrease) and |∇C(w + t d)ᵀd| ≤ c2 |∇Cᵀd| (the slope
    flattened): first grow t until a step brackets such a point, then shrink the bracket by cubic
    interpolation (Nocedal & Wright, algorithms 3.5 and 3.6; the same rules as PyTorch's LBFGS, from minFunc).

    `evaluate(t)` returns (C, ∇C) at w + t d. Returns (C, ∇C, t, evaluations) for the step found (the best
    one seen if max_evals runs out first)."""
    slope0 = float(g @ d)
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evals, slope_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, slope_prev = 0.0, f, g, slope0
    done, bracket = False, None
    while evals < max_evals + 1:  # phase 1: bracketing
        if f_new > f + c1 * t * slope0 or (evals > 2 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, slope_prev], [t, f_new, g_new, slope_new]]
            break
        if abs(slope_new) <= -c2 * slope0:
            bracket, done = [[t, f_new, g_new, slope_new]], True
            break
        if slope_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, slope_prev], [t, f_new, g_new, slope_new]]
            break
        t_next = _cubic_minimum(t_prev, f_prev, slope_prev, t, f_new, slope_new,
                                bounds=(t + 0.01 * (t - t_prev), 10 * t))  # extrapolate
        t_prev, f_prev, g_prev, slope_prev = t, f_new, g_new, slope_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals, slope_new = evals + 1, float(g_new @ d)
    if bracket is None:  # never bracketed
        bracket = [[0.0, f, g, slope0], [t, f_new, g_new, slope_new]]
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stuck = False
    while not done and evals <= max_evals:  # phase 2: zoom
        (ta, fa, _, sa), (tb, fb, _, sb) = bracket
        if abs(tb - ta) * d_norm < tolerance_change or ta == tb:  # (a bracket of one point: nothing to zoom)
            break
        t = _cubic_minimum(ta, fa, sa, tb, fb, sb)
        top, bottom = max(ta, tb), min(ta, tb)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:  # too close to an end: the bracket would barely shrink
            if stuck or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f_new, g_new = evaluate(t)
        evals, slope_new = evals + 1, float(g_new @ d)
        if f_new > f + c1 * t * slope0 or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, slope_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(slope_new) <= -c2 * slope0:
                done = True
            elif slope_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new, slope_new]
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


# ---------------------------------------------------------------------------------------------------------------
# The parameters as one vector, and the closure
# ---------------------------------------------------------------------------------------------------------------


class _ClosureOptimizer(Optimizer):
    """What the four share: one parameter group seen as a flat vector w, the closure's evaluations counted."""

    takes_closure = True  # step(closure): `fit` passes one that recomputes the batch's loss

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} works on all its parameters as one vector: give one "
                             f"parameter group, not {len(self.param_groups)}")

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for name in ("max_iter", "max_eval"):
            if group.get(name) is not None and not (isinstance(group[name], int) and group[name] >= 1):
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {group[name]!r}")

    @property
    def counts(self) -> dict[str, Any]:
        """n_iter, func_evals, hvp_evals so far (and the optimizer's own buffers)."""
        return self.state.setdefault(id(self._params()[0]), {})  # (load_state_dict may have emptied state)

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def _get(self) -> np.ndarray:
        return np.concatenate([p.data.ravel() for p in self._params()])

    def _set(self, w: np.ndarray) -> None:
        offset = 0
        for p in self._params():
            p.data[...] = w[offset:offset + p.size].reshape(p.shape)
            bump_version(p.data)
            offset += p.size

    def _cost(self, closure: Closure, create_graph: bool = False) -> tuple[Tensor, np.ndarray, Any]:
        """Call the closure: (the cost, ∇C as a flat array, the gradient Tensors with their graph if asked)."""
        if not callable(closure):
            raise TypeError(f"{type(self).__name__}.step needs a closure, a function that recomputes and "
                            f"returns the cost (def closure(): return loss_fn(model(X), y)), got {closure!r}")
        note_untraceable(f"{type(self).__name__}.step decides in Python, from the cost's values, how far to go "
                         f"and how often to call the closure")
        params = self._params()
        for p in params:
            p.grad = None
        with enable_grad():
            cost = closure()
        self._count("func_evals")
        if not isinstance(cost, Tensor) or cost.size != 1:
            raise TypeError(f"{type(self).__name__}: the closure must return the cost as a one-element Tensor, "
                            f"got {cost._describe() if isinstance(cost, Tensor) else type(cost).__name__}")
        backed = any(p.grad is not None for p in params)
        if backed and create_graph:
            raise RuntimeError(
                f"{type(self).__name__} differentiates the gradient again, so it needs the cost's graph: the "
                f"closure called backward(), which frees it. Return the cost without calling backward() "
                f"(def closure(): return loss_fn(model(X), y))")
        if backed:
            grads: Any = None
            flat = [np.zeros(p.size, p.dtype) if p.grad is None else p.grad.data.ravel() for p in params]
        else:
            if not cost.requires_grad:
                raise RuntimeError(f"{type(self).__name__}: the closure's cost does not depend on the parameters "
                                   f"(it was computed under no_grad, or from other tensors)")
            with enable_grad():
                grads = grad(cost, params, create_graph=create_graph, allow_unused=True)
            flat = [np.zeros(p.size, p.dtype) if g is None else g.data.ravel() for g, p in zip(grads, params)]
        return cost, np.concatenate(flat), grads

    def _evaluator(self, closure: Closure, w: np.ndarray, d: np.ndarray, create_graph: bool = False,
                   last: dict[str, Any] | None = None) -> Callable[[float], tuple[float, np.ndarray]]:
        """t ↦ (C, ∇C) at w + t d, for the line search (it leaves the parameters at the last point tried;
        `last` receives that t and its gradient's graph)."""
        def evaluate(t: float) -> tuple[float, np.ndarray]:
            self._set(w + t * d)
            cost, g, grads = self._cost(closure, create_graph)
            if last is not None:
                last.update(t=t, grads=grads)
            return float(cost.item()), g
        return evaluate

    def _hvp(self, grads: Any, v: np.ndarray) -> np.ndarray:
        """H v: the gradient's graph (`grads`, made with create_graph) differentiated along v."""
        params = self._params()
        pieces, offset = [], 0
        for p in params:
            pieces.append(Tensor(v[offset:offset + p.size].reshape(p.shape).astype(p.dtype, copy=False)))
            offset += p.size
        live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        self._count("hvp_evals")
        if not live:  # the gradient does not depend on w: C is linear, H = 0
            return np.zeros_like(v)
        hv = grad([grads[i] for i in live], params, [pieces[i] for i in live], retain_graph=True, allow_unused=True)
        return np.concatenate([np.zeros(p.size, p.dtype) if h is None else h.data.ravel() for h, p in zip(hv, params)])

    def _converged(self, g: np.ndarray, group: dict[str, Any]) -> bool:
        return float(np.abs(g).max()) <= group["tolerance_grad"]


def _line_search(group: dict[str, Any], who: str) -> str | None:
    fn = group["line_search_fn"]
    if fn not in (None, "strong_wolfe"):
        raise ValueError(f"{who}: line_search_fn must be None or 'strong_wolfe', got {fn!r}")
    return fn


# ---------------------------------------------------------------------------------------------------------------
# Newton-Raphson
# ---------------------------------------------------------------------------------------------------------------


class Newton(_ClosureOptimizer):
    """Newton-Raphson with the exact Hessian and Levenberg-Marquardt damping.

        d = −(H + μ I)⁻¹ ∇C              the Newton direction (μ = 0: the quadratic model's minimum)
        w ← w + λ d                      accepted if C fell by at least a fraction of what the model predicted
        ρ = (C(w) − C(w + λd)) / (−∇Cᵀλd − ½ λ² dᵀHd)
        μ ← μ / 3 if ρ > 0.75;  μ ← max(4μ, 10⁻³ max |Hᵢᵢ|) if ρ < 0.25;  the step is refused if ρ ≤ 1e-4

    H comes from the engine: the gradient with create_graph, then one Hessian-vector product per parameter
    (n HVPs, n² numbers), so Newton is for small problems: more than `max_params` parameters (default 1000)
    is refused. Near a minimum (H positive definite) it converges quadratically; where H is indefinite (a
    saddle, a non-convex cost) μ grows until H + μI is positive definite, and the step turns toward descent.
    λ = lr (default 1). μ starts at `damping` (default 0: pure Newton while it works).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20, damping: float = 0.0,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, max_params: int = 1000) -> None:
        if not damping >= 0:
            raise ValueError(f"Newton: damping must be >= 0, got {damping}")
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "damping": damping, "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change, "max_params": max_params})
        n = sum(p.size for p in self._params())
        if n > max_params:
            raise ValueError(f"Newton forms the {n}×{n} Hessian ({n} Hessian-vector products per step, {n * n:,} "
                             f"numbers): that is more than max_params={max_params} parameters. Use NewtonCG (HVPs "
                             f"only) or LBFGS for a network, or raise max_params")

    def _hessian(self, grads: Any) -> np.ndarray:
        """H from the gradient's graph, one HVP per unit vector (row i = H e_i; symmetrised against rounding)."""
        n = sum(p.size for p in self._params())
        H = np.empty((n, n))
        for i in range(n):
            unit = np.zeros(n)
            unit[i] = 1.0
            H[i] = self._hvp(grads, unit)
        return (H + H.T) / 2

    @no_grad()
    def step(self, closure: Closure | None = None) -> Tensor:
        group, state = self.param_groups[0], self.counts
        mu = state.get("mu", group["damping"])
        cost, g, grads = self._cost(closure, create_graph=True)
        first, f, H = cost, float(cost.item()), None
        for _ in range(group["max_iter"]):
            if self._converged(g, group):
                break
            self._count("n_iter")
            if H is None:  # (after a refused step, w, ∇C and H are those of before)
                H = self._hessian(grads)
            if not (np.all(np.isfinite(H)) and np.all(np.isfinite(g))):
                raise FloatingPointError(f"Newton: the gradient or the Hessian is not finite at step "
                                         f"{self.counts['n_iter']} (the cost overflowed?): w = {self._get()}")
            scale = max(float(np.abs(np.diag(H)).max()), 1e-12)
            while True:  # μ up until H + μI is positive definite (a Cholesky factor exists: any μ > −λ_min(H))
                try:
                    L = np.linalg.cholesky(H + mu * np.eye(len(g)))
                    break
                except np.linalg.LinAlgError:
                    mu = max(4 * mu, 1e-3 * scale)
            d = -np.linalg.solve(L.T, np.linalg.solve(L, g)) * group["lr"]
            predicted = -(g @ d + 0.5 * d @ H @ d)
            if not predicted > 0:  # the model promises no decrease: ∇C is 0 up to rounding
                break
            w = self._get()
            self._set(w + d)
            cost_new, g_new, grads_new = self._cost(closure, create_graph=True)
            f_new = float(cost_new.item())
            rho = (f - f_new) / predicted if predicted > 0 else -1.0
            if rho > 0.75:
                mu /= 3
            elif rho < 0.25:
                mu = max(4 * mu, 1e-3 * scale)
            small = float(np.abs(d).max()) <= group["tolerance_change"]
            if rho > 1e-4:  # accepted
                stalled = small or abs(f - f_new) < group["tolerance_change"]
                f, g, grads, H = f_new, g_new, grads_new, None
                if stalled:
                    break
            else:  # refused: back to w, with more damping (a shorter step, closer to steepest descent)
                self._set(w)
                if small:
                    break
        state["mu"] = mu
        return first


# ---------------------------------------------------------------------------------------------------------------
# Hessian-free Newton
# ---------------------------------------------------------------------------------------------------------------


class NewtonCG(_ClosureOptimizer):
    """Hessian-free (truncated) Newton: solve (H + μI) d = −∇C by conjugate gradient with HVPs only.

        r ← −∇C − (H + μI) d,  p ← r,   repeat:   α = rᵀr / pᵀ(H + μI)p,  d ← d + α p,  r ← r − α (H + μI)p,
                                                  p ← r + (r_newᵀr_new / rᵀr) p
        until ‖r‖₁ ≤ min(0.5, √‖∇C‖₁) ‖∇C‖₁ (truncated: solving exactly far from the minimum is wasted work)
        or a direction of negative curvature pᵀHp ≤ 0 appears (then d so far; −∇C on the first inner step)
        w ← w + t d, t from a strong Wolfe line search starting at t = λ (lr, default 1)

    H is never formed: each inner step is one HVP (the gradient's graph differentiated along p), so memory
    is a few vectors of n numbers and the method scales to a network. `damping` μ (default 0) adds μI,
    Levenberg-Marquardt style, which keeps the steps short where the cost is not convex (try 1e-2 to 1 for
    a network). The inner loop stops after `cg_max_iter` HVPs (default 20·n, as scipy's Newton-CG).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20, damping: float = 0.0,
                 cg_max_iter: int | None = None, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 line_search_fn: str | None = "strong_wolfe") -> None:
        if not damping >= 0:
            raise ValueError(f"NewtonCG: damping must be >= 0, got {damping}")
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "damping": damping, "cg_max_iter": cg_max_iter,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "line_search_fn": line_search_fn})
        _line_search(self.param_groups[0], "NewtonCG")

    def _direction(self, g: np.ndarray, grads: Any, group: dict[str, Any]) -> np.ndarray:
        mu = group["damping"]
        g1 = float(np.abs(g).sum())
        tolerance = min(0.5, math.sqrt(g1)) * g1
        d, r = np.zeros_like(g), -g.copy()
        p, rr = r.copy(), float(r @ r)
        for i in range(group["cg_max_iter"] or 20 * len(g)):
            if float(np.abs(r).sum()) <= tolerance:
                break
            Hp = self._hvp(grads, p) + mu * p
            curvature = float(p @ Hp)
            if curvature <= 0:  # H is not positive definite along p: the quadratic model has no minimum there
                return -g if i == 0 else d
            alpha = rr / curvature
            d += alpha * p
            r -= alpha * Hp
            rr_new = float(r @ r)
            p = r + (rr_new / rr) * p
            rr = rr_new
        return d

    @no_grad()
    def step(self, closure: Closure | None = None) -> Tensor:
        group = self.param_groups[0]
        search = _line_search(group, "NewtonCG")
        cost, g, grads = self._cost(closure, create_graph=True)
        first, f = cost, float(cost.item())
        for _ in range(group["max_iter"]):
            if self._converged(g, group):
                break
            self._count("n_iter")
            d = self._direction(g, grads, group)
            w, t = self._get(), group["lr"]
            if search is None:
                self._set(w + t * d)
                cost, g, grads = self._cost(closure, create_graph=True)
                f_new = float(cost.item())
            else:
                last: dict[str, Any] = {}
                evaluate = self._evaluator(closure, w, d, create_graph=True, last=last)
                f_new, g, t, _ = strong_wolfe(evaluate, f, g, d, t, tolerance_change=group["tolerance_change"])
                if last["t"] == t:  # the parameters are still at the chosen point: its graph serves the HVPs
                    grads = last["grads"]
                else:
                    self._set(w + t * d)
                    cost, g, grads = self._cost(closure, create_graph=True)
            if abs(f_new - f) < group["tolerance_change"] or np.abs(t * d).max() <= group["tolerance_change"]:
                f = f_new
                break
            f = f_new
        return first


# ---------------------------------------------------------------------------------------------------------------
# Nonlinear conjugate gradient
# ---------------------------------------------------------------------------------------------------------------


class CG(_ClosureOptimizer):
    """Nonlinear conjugate gradient, Polak-Ribière+ with restarts, and a strong Wolfe line search.

        d ← −∇C (first step, and every `restart` steps: default n)
        w ← w + t d,   t from the line search; its first trial is the step that would repeat the last
                       decrease of C, 2 ΔC / ∇Cᵀd, at most λ (lr; 1/‖∇C‖ on the first step)
        β = max(0, ∇C_newᵀ(∇C_new − ∇C) / ‖∇C‖²)       (Polak-Ribière; β = 0 restarts with steepest descent)
        d ← −∇C_new + β d                              (−∇C_new again if that is not a descent direction)

    On a quadratic with exact line searches the directions are conjugate (dᵢᵀ H dⱼ = 0) and CG reaches the
    minimum of n parameters in at most n steps. With c2 = 0.4 (scipy's choice, the default) the line
    searches are inexact and a few more steps are usual; with c2 = 0.1 the first trial rarely passes and the
    second, the minimum of the cubic through two points, is exact on a quadratic (up to rounding: C's values
    enter the cubic, so at about √ε of C's scale the line search can do no better).
    Memory: three vectors of n numbers; no Hessian.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, c2: float = 0.4,
                 restart: int | None = None) -> None:
        if not 1e-4 < c2 < 1:
            raise ValueError(f"CG: c2 must lie in (1e-4, 1) (the strong Wolfe curvature condition), got {c2}")
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval or max_iter * 5,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "c2": c2, "restart": restart})

    @no_grad()
    def step(self, closure: Closure | None = None) -> Tensor:
        group, state = self.param_groups[0], self.counts
        cost, g, _ = self._cost(closure)
        first, f, evals = cost, float(cost.item()), 1
        restart = group["restart"] or len(g)
        d, previous_f = state.get("d"), state.get("previous_f")
        for _ in range(group["max_iter"]):
            if self._converged(g, group):
                break
            self._count("n_iter")
            k = state.setdefault("since_restart", 0)
            if d is None or k >= restart or g @ d >= 0:
                d, state["since_restart"] = -g, 0
            slope = float(g @ d)
            if previous_f is None:  # as if the last step had decreased C by ‖∇C‖/2
                t = min(1.0, 1.01 / float(np.sqrt(g @ g))) * group["lr"]
            else:
                t = min(group["lr"], 1.01 * 2 * (f - previous_f) / slope) if f != previous_f else group["lr"]
                t = t if t > 0 else group["lr"]
            w = self._get()
            f_new, g_new, t, used = strong_wolfe(self._evaluator(closure, w, d), f, g, d, t, c2=group["c2"],
                                                 tolerance_change=group["tolerance_change"],
                                                 max_evals=max(group["max_eval"] - evals, 1))
            evals += used
            self._set(w + t * d)
            beta = max(0.0, float(g_new @ (g_new - g)) / float(g @ g))
            stalled = abs(f_new - f) < group["tolerance_change"] or np.abs(t * d).max() <= group["tolerance_change"]
            previous_f, f, g = f, f_new, g_new
            d = -g + beta * d
            state["since_restart"] = state["since_restart"] + 1
            if stalled or evals >= group["max_eval"]:
                break
        state["d"], state["previous_f"] = d, previous_f
        return first


# ---------------------------------------------------------------------------------------------------------------
# L-BFGS
# ---------------------------------------------------------------------------------------------------------------


class LBFGS(_ClosureOptimizer):
    """Limited-memory BFGS, with PyTorch's interface and rules (so code moves between the two unchanged).

        s = w_new − w,  y = ∇C_new − ∇C             kept for the last `history_size` steps (if yᵀs > 1e-10)
        d = −B ∇C, where B ≈ H⁻¹ is built from the kept (s, y) pairs by the two-loop recursion, starting
                   from B₀ = (yᵀs / yᵀy) I (the latest pair's curvature)
        w ← w + t d,   t = λ (lr), or from a strong Wolfe line search starting at λ
                       (the first step: t = min(1, 1/‖∇C‖₁) λ, since d = −∇C has no scale yet)

    A pair is kept when yᵀs > 1e-10, PyTorch's rule; that threshold ignores the scale of C, so close to a
    minimum (steps ~1e-5) the history stops being updated and convergence slows. `curvature_eps=ε` (not in
    PyTorch) keeps it when yᵀs > ε yᵀy instead, scale-free, as scipy's L-BFGS-B with ε = 2.2e-16 does.

    Each iteration costs one gradient per line-search trial (usually one) and 2·history_size vectors of n
    numbers. A `step` runs up to `max_iter` iterations and `max_eval` closure calls (default 1.25 max_iter);
    the history stays between calls.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None, curvature_eps: float | None = None) -> None:
        if not (isinstance(history_size, int) and history_size >= 1):
            raise ValueError(f"LBFGS: history_size must be a positive integer, got {history_size!r}")
        if curvature_eps is not None and not curvature_eps > 0:
            raise ValueError(f"LBFGS: curvature_eps must be None or > 0, got {curvature_eps}")
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval or max_iter * 5 // 4,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn,
                                  "curvature_eps": curvature_eps})
        _line_search(self.param_groups[0], "LBFGS")

    @staticmethod
    def _two_loop(g: np.ndarray, steps: list, changes: list, scale: float) -> np.ndarray:
        """−B ∇C from the pairs (s, y): B is the BFGS inverse Hessian of those pairs on top of scale · I."""
        q = -g
        alphas = []
        for s, y in zip(reversed(steps), reversed(changes)):
            alphas.append(float(s @ q) / float(y @ s))
            q = q - alphas[-1] * y
        r = q * scale
        for (s, y), alpha in zip(zip(steps, changes), reversed(alphas)):
            beta = float(y @ r) / float(y @ s)
            r = r + (alpha - beta) * s
        return r

    @no_grad()
    def step(self, closure: Closure | None = None) -> Tensor:
        group, state = self.param_groups[0], self.counts
        search = _line_search(group, "LBFGS")
        lr, change = group["lr"], group["tolerance_change"]
        cost, g, _ = self._cost(closure)
        first, f, evals = cost, float(cost.item()), 1
        if self._converged(g, group):
            return first
        steps, changes = state.setdefault("old_stps", []), state.setdefault("old_dirs", [])
        d, t, scale, g_prev = state.get("d"), state.get("t"), state.get("H_diag", 1.0), state.get("prev_flat_grad")
        for iteration in range(1, group["max_iter"] + 1):
            state["n_iter"] = state.get("n_iter", 0) + 1
            if state["n_iter"] == 1:
                d, scale = -g, 1.0
            else:
                y, s = g - g_prev, d * t
                ys, eps = float(y @ s), group["curvature_eps"]
                if ys > (1e-10 if eps is None else eps * float(y @ y)):  # positive curvature: B stays positive definite
                    if len(steps) == group["history_size"]:
                        steps.pop(0)
                        changes.pop(0)
                    steps.append(s)
                    changes.append(y)
                    scale = ys / float(y @ y)
                d = self._two_loop(g, steps, changes, scale)
            g_prev, f_prev = g, f
            t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr if state["n_iter"] == 1 else lr
            slope = float(g @ d)
            if slope > -change:  # not a descent direction any more
                break
            w = self._get()
            if search is not None:
                f, g, t, used = strong_wolfe(self._evaluator(closure, w, d), f, g, d, t, tolerance_change=change,
                                             max_evals=group["max_eval"] - evals)
                self._set(w + t * d)
            else:
                self._set(w + t * d)
                used = 0
                if iteration != group["max_iter"]:  # (the last iteration's gradient would be computed for nothing)
                    cost, g, _ = self._cost(closure)
                    f, used = float(cost.item()), 1
            evals += used
            if iteration == group["max_iter"] or evals >= group["max_eval"]:
                break
            if self._converged(g, group) or np.abs(d * t).max() <= change or abs(f - f_prev) < change:
                break
        state.update(d=d, t=t, H_diag=scale, prev_flat_grad=g_prev)
        return first
