"""Recording a forward pass so that a drawing can show every value and every gradient.

The graph alone is not enough to draw values: a node keeps only a weak reference to its output (`ctx.output()`
is None once the tensor is gone, which in `loss = mse(model(x), y)` is every intermediate), it does not
keep inputs that need no gradient (the batch `x`, the targets `y`), and backward keeps no gradient of an
intermediate unless asked (`retain_grad()`).

The choice made here: a context manager, `trace()`, that records while the forward runs.

    with viz.trace() as tr:
        loss = tg.mse(model(x), y)
    loss.backward()
    tg.draw(loss, trace=tr)      # or tg.draw(loss): the most recent trace is found by itself

Inside the block, every operation is seen as it is recorded: the trace keeps a strong reference to its
output tensor (so values stay drawable), its inputs (constants included) and its settings (axis=..., a
scalar exponent), and calls the engine's own `retain_grad()` on the output, so backward stores ∂C/∂(that
value) in `.grad` exactly as for a leaf. It listens through the engine's public observer list
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


@dataclass
class Record:
    """One operation seen by a trace: its positional inputs, its settings and its output."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Tensor


@dataclass(eq=False)  # a trace is compared by identity (it sits in a stack)
class Trace:
    """The operations recorded inside a `with trace():` block, keyed by their graph node."""

    retain_grads: bool = True
    records: dict[Context, Record] = field(default_factory=dict)

    def __enter__(self) -> Trace:
        global _last
        self._thread = threading.get_ident()  # the operations of other threads are theirs, not this block's
        function.observers.append(self._record)
        _last = self
        return self

    def __exit__(self, *exc: object) -> None:
        function.observers.remove(self._record)

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, node: object) -> bool:
        return node in self.records

    def get(self, node: Context) -> Record | None:
        return self.records.get(node)

    def clear(self) -> None:
        """Drop everything recorded (frees the values)."""
        self.records.clear()

    def _record(self, node: Context, args: tuple[Any, ...], kwargs: dict[str, Any], out: Tensor) -> None:
        if node in self.records or threading.get_ident() != self._thread:
            return
        self.records[node] = Record(args, dict(kwargs), out)
        if self.retain_grads:
            out.retain_grad()  # the engine's mechanism: backward will fill out.grad


def trace(retain_grads: bool = True) -> Trace:
    """Record the operations run inside `with trace():` (values, constant inputs, settings, and, with
    `retain_grads`, the gradient of every intermediate after backward). See the module docstring."""
    return Trace(retain_grads=retain_grads)


def last_trace() -> Trace | None:
    """The most recently entered trace (drawings use it when no trace= is given)."""
    return _last


def find_record(node: Context, trace: Trace | None = None) -> Record | None:
    """What `trace` (or else the most recent trace) recorded for `node`, if anything."""
    for t in (trace, _last):
        if t is not None:
            record = t.records.get(node)
            if record is not None:
                return record
    return None


_last: Trace | None = None
