"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with PyTorch's names and formulas.

An optimizer holds the parameters and, after `loss.backward()`, moves them with `step()`:

    opt = SGD(model.parameters(), lr=0.5)       # gradient descent: W ← W − λ ∂C/∂W (the chapter, λ = lr)
    for X, Y in batches:
        opt.zero_grad()
        loss_fn(model(X), Y).backward()
        opt.step()

Updates are numpy operations on each parameter's `.data` done in place (no graph, no new arrays beyond one
temporary, the parameters keep their identity), as if inside `tg.no_grad()`. Parameters whose `.grad` is None
are skipped. Each parameter's version counter is bumped, so a graph built before the step and used after it
is reported by backward, as for any in-place change.

`params` may also be a list of dicts ("parameter groups"), each with its own settings:
`SGD([{"params": body}, {"params": head, "lr": 0.01}], lr=0.1)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor, _state, bump_version, note_untraceable

__all__ = [
    "SGD", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "MultiStepLR",
    "Optimizer", "StepLR",
]


class Optimizer:
    """Base class: keeps `param_groups` (lists of parameters with their settings) and per-parameter `state`."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[int, dict[str, Any]] = {}  # id(param) -> e.g. {"momentum_buffer": array}
        self.param_groups: list[dict[str, Any]] = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list (did you pass model.parameters() of a model with no parameters, or an exhausted generator?)")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group is a dict with a 'params' list")
        params = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} ({p._describe()}) was computed by {p.grad_fn.name()}; "
                    f"an optimizer updates leaf tensors"
                )
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: parameter {i} has dtype {p.dtype}; only float tensors can be optimized")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} appears twice")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown setting(s) {sorted(unknown)}; valid: {sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        if not group["lr"] >= 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be >= 0, got {group['lr']}")
        if not group.get("weight_decay", 0) >= 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {group['weight_decay']}")

    @property
    def lr(self) -> float:
        """The learning rate of the first group (setting it sets every group's)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: `.grad = None` (or zeros with set_to_none=False) for every parameter."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None  # (whether or not there was one: a compiled step then needs no guard on it)
                elif p._grad is not None:
                    note_untraceable("zero_grad(set_to_none=False) zeroes the gradients' arrays in place; "
                                     "compile the default, zero_grad()")
                    p._grad.data[...] = 0

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        if _state.tracer is not None:  # tinygrad_edu.compile writes the updates down as it makes them
            return _state.tracer.optimizer_step(self)
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                self._update(p.data, grad.data, self._state_of(p), group)
                bump_version(p.data)  # an in-place change: graphs that saved the old value must notice

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Move a parameter's array `data` in place, given its gradient, its buffers (`state`, kept between
        steps) and its group's settings. Written with numpy operations on these alone, so that a compiled
        step (tinygrad_edu.compile) can replay it."""
        raise NotImplementedError

    def _state_of(self, p: Tensor) -> dict[str, Any]:
        """The per-parameter buffers (momentum, Adam's averages), created on first use: plain SGD keeps none."""
        state = self.state.get(id(p))
        if state is None:  # (not setdefault(id(p), {}): that makes a new dict every step)
            state = self.state[id(p)] = {}
        return state

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array copy or number}}, "param_groups": [settings with "params": indices]}."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[k]: {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in s.items()}
                 for k, s in self.state.items() if k in index}
        groups, start = [], 0
        for g in self.param_groups:
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(start, start + len(g["params"])))})
            start += len(g["params"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and buffers saved by `state_dict` (for the same parameters, in the same order)."""
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)
        ):
            raise ValueError("optimizer state_dict: its parameter groups do not match this optimizer's")
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            restored = {}
            for n, v in s.items():
                if n == "step" and isinstance(v, (int, float, np.integer, np.floating)):
                    v = np.array(v, np.float64)  # a count saved as a number (an older state_dict)
                if isinstance(v, np.ndarray) and v.ndim == 0:  # a count: kept in its own dtype
                    v = v.copy()
                elif isinstance(v, np.ndarray):
                    if v.shape != p.shape:
                        raise ValueError(f"optimizer state_dict: {n} of parameter {i} has shape {v.shape}, expected {p.shape}")
                    v = v.astype(p.dtype, copy=True)
                restored[n] = v
            self.state[id(p)] = restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (PyTorch's formulation).

        g ← ∂C/∂p + weight_decay · p
        with momentum μ:  b ← g (first step), then b ← μ b + (1 − dampening) g;   g ← g + μ b (nesterov) or b
        p ← p − lr · g
    Without momentum and weight decay this is the chapter's W ← W − λ ∂C/∂W.
    """

    def __init__(
        self, params: Iterable[Any], lr: float, momentum: float = 0.0, dampening: float = 0.0,
        weight_decay: float = 0.0, nesterov: bool = False,
    ) -> None:
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            grad = grad + wd * data  # a new array: never modify .grad itself
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = grad.astype(data.dtype, copy=True)
                state["momentum_buffer"] = buf
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * grad if group["dampening"] else grad
            grad = grad + mu * buf if group["nesterov"] else buf
        data -= lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's formulation; weight_decay adds weight_decay·p to the gradient (L2).

        g ← ∂C/∂p + weight_decay · p;   m ← β₁ m + (1 − β₁) g;   v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ);   v̂ = v / (1 − β₂ᵗ);   p ← p − lr · m̂ / (√v̂ + eps)
    """

    _decoupled = False

    def __init__(
        self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: eps must be >= 0, got {eps}")
        super().__init__(params, {"lr": lr, "betas": (b1, b2), "eps": eps, "weight_decay": weight_decay})

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if self._decoupled:
                data *= 1 - lr * wd  # AdamW: shrink the weights directly, not through the gradient
            else:
                grad = grad + wd * data
        if not state:  # the step count is a 0-d array, as PyTorch keeps a tensor: counted in place, so that a
            state["step"] = np.zeros_like(data, dtype=np.float64, shape=())  # compiled step counts it too
            state["exp_avg"] = np.zeros_like(data)
            state["exp_avg_sq"] = np.zeros_like(data)
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        t += 1
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * (grad * grad)
        # The bias corrections in float64, then in the parameter's dtype (as a Python float would be used).
        denom = np.sqrt(v / (1 - b2**t).astype(v.dtype))
        denom += eps
        data -= (lr / (1 - b1**t)).astype(m.dtype) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p (1 − lr·weight_decay) before the Adam step."""

    _decoupled = True

    def __init__(
        self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# ---------------------------------------------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------------------------------------------


class LRScheduler:
    """Sets each group's lr from its initial lr and the epoch count; call `step()` once per epoch (after
    the optimizer's steps), as in PyTorch. Building the scheduler applies the epoch-0 value."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The lr of each group at epoch `self.last_epoch` (closed form)."""
        return [self.lr_at(base, self.last_epoch) for base in self.base_lrs]

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float], last_epoch: int = -1) -> None:
        if not callable(lr_lambda):
            raise TypeError("LambdaLR needs a function epoch -> factor")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.lr_lambda(epoch)


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^⌊epoch / step_size⌋ (divide by 1/gamma every step_size epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = initial_lr · gamma^(number of milestones ≤ epoch)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** sum(m <= epoch for m in self.milestones)


class ExponentialLR(LRScheduler):
    """lr = initial_lr · gamma^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2: from initial_lr down to eta_min
    at epoch T_max (and back up after, as PyTorch's)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = int(T_max), eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
