"""Recording a forward pass so that a drawing can show every value and every gradient, whatever their size.

Without a trace a drawing already shows what the graph keeps: every node keeps the inputs that get no
gradient, its settings, and, for an output of at most `engine.function.KEEP_ELEMENTS` elements, its value and
the gradient backward sent through it. A larger intermediate (a layer's activations for a batch of 128, say)
lives only as long as its tensor: in `loss = mse(model(x), y)` that is until the line ends. A trace keeps them:

    with viz.trace() as tr:
        loss = tg.mse(model(x), y)
    loss.backward()
    tg.draw(loss, trace=tr)      # or tg.draw(loss): the most recent trace is found by itself

Inside the block, every operation is seen as it is recorded: the trace keeps a strong reference to its
output tensor (so its value stays drawable) and calls the engine's own `retain_grad()` on it, so backward
stores ∂C/∂(that value) in `.grad` exactly as for a leaf. It listens through the engine's public observer list
(`tinygrad_edu.engine.function.observers`) for the duration of the block only. The cost is memory:
everything recorded lives as long as the trace, so trace one batch, not a training loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..engine import function
from ..engine.function import Context
from ..engine.tensor import Tensor


@dataclass(eq=False)  # a trace is compared by identity
class Trace:
    """The output tensors of the operations recorded inside a `with trace():` block, keyed by their graph node."""

    retain_grads: bool = True
    outputs: dict[Context, Tensor] = field(default_factory=dict)

    def __enter__(self) -> Trace:
        global _last
        self._thread = threading.get_ident()  # the operations of other threads are theirs, not this block's
        function.observers.append(self._record)
        _last = self
        return self

    def __exit__(self, *exc: object) -> None:
        function.observers.remove(self._record)

    def __len__(self) -> int:
        return len(self.outputs)

    def __contains__(self, node: object) -> bool:
        return node in self.outputs

    def get(self, node: Context) -> Tensor | None:
        return self.outputs.get(node)

    def clear(self) -> None:
        """Drop everything recorded (frees the values)."""
        self.outputs.clear()

    def _record(self, node: Context, args: tuple[Any, ...], kwargs: dict[str, Any], out: Tensor) -> None:
        if node in self.outputs or threading.get_ident() != self._thread:
            return
        self.outputs[node] = out
        if self.retain_grads:
            out.retain_grad()  # the engine's mechanism: backward will fill out.grad


def trace(retain_grads: bool = True) -> Trace:
    """Record the operations run inside `with trace():` (every output, and, with `retain_grads`, the gradient
    of every intermediate after backward). See the module docstring."""
    return Trace(retain_grads=retain_grads)


def last_trace() -> Trace | None:
    """The most recently entered trace (drawings use it when no trace= is given)."""
    return _last


def traced_output(node: Context, trace: Trace | None = None) -> Tensor | None:
    """The output of `node` as `trace` (or else the most recent trace) recorded it, if it did."""
    for t in (trace, _last):
        if t is not None:
            out = t.outputs.get(node)
            if out is not None:
                return out
    return None


_last: Trace | None = None
