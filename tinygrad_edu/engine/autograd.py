"""Reverse-mode differentiation: walk the graph from the outputs back to the leaves.

1. Order the nodes so that every node comes before the nodes that made its inputs (a topological order,
   found with an explicit stack: a chain of 100 000 operations needs no recursion).
2. Visit them in that order. A node's gradient is complete when it is visited, because every node that used
   its output has already added its contribution: this is how re-used values (`x * x`, diamonds) get
   summed gradients.
3. Call the node's backward and add each input's gradient to what that input (a node or a leaf) has so far.

Without `create_graph` the walk runs with grad mode off and the gradients are numpy arrays, so each backward
formula is plain numpy and only the results become Tensors. With it, the gradients are Tensors and the
formulas are recorded like any other computation, so that they can be differentiated again.

Accumulation, one rule. A sum of gradients is always a new array, never an update in place: `a + b` hands a
and b the very same g, which must not change under either. A leaf's `.grad` takes the first gradient that
reaches it as it is when backward made that array for this leaf alone (it owns all of its memory, is
writeable, and no other tensor got it, nor any node keeps it, in this call); anything else is stored as a
copy. Later gradients are added into a new array. The caller's `gradient=` is copied on the way in; an intermediate tensor's retained
`.grad`, and any `.grad` made with create_graph, is always a copy.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import numpy as np

from .function import Context, check_finite
from .tensor import Tensor, _state, check_can_require_grad, set_grad_enabled


def topological_order(roots: Sequence[Context]) -> list[Context]:
    """All nodes reachable from `roots`, each before the nodes that produced its inputs."""
    order: list[Context] = []
    visited: set[Context] = set()  # nodes hash by identity
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if isinstance(edge, Context) and edge not in visited:
                    visited.add(edge)
                    stack.append((edge, iter(edge.edges)))
                    break
            else:  # all inputs done: the node goes after them (post-order)
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def run_backward(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None, retain_graph: bool | None,
                 create_graph: bool, capture: set[Context] | frozenset = frozenset(),
                 taken: set[int] | None = None) -> dict[Any, Any]:
    """The walk. Returns the gradient of every leaf reached, keyed by the leaf, and of every node in `capture`
    (intermediate tensors asked for by `grad()`), keyed by the node: arrays, or Tensors with create_graph.
    A node that keeps its output's value keeps its gradient too; those arrays go into `taken` (no leaf may
    own one: a leaf's .grad can be changed in place)."""
    grads = _seed_gradients(outputs, grad_outputs, create_graph)  # node or leaf -> its gradient so far
    order = topological_order([t.grad_fn for t in outputs if t.grad_fn is not None])
    captured = {}
    keep = create_graph if retain_graph is None else retain_graph
    anomaly = _state.detect_anomaly
    with set_grad_enabled(create_graph), _CollectorPaused(len(order)):
        for node in order:
            grad = grads.pop(node, None)
            if grad is None:  # every path from the outputs to this node carried no gradient
                continue
            if node._hooks or node.retains_grad:  # Tensor.register_hook, Tensor.retain_grad
                grad = _observe(node, grad)
            if node in capture:
                captured[node] = grad
            if node.output_data is not None:  # keep the gradient beside the value (a sum of 0-d arrays is a scalar)
                kept = node.output_grad = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
                if taken is not None:
                    taken.add(id(kept if kept.base is None else kept.base))
            for edge, g in zip(node.edges, _input_gradients(node, grad, anomaly)):
                if edge is not None and g is not None:
                    grads[edge] = grads[edge] + g if edge in grads else g
            if not keep:
                node.release()
    grads.update(captured)  # every node was popped: what is left are the leaves
    return grads


def _seed_gradients(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None, create_graph: bool) -> dict:
    """dC/d(output) for each output, keyed by its node (or itself, for a leaf): 1 for a scalar output."""
    grad_outputs = [None] * len(outputs) if grad_outputs is None else grad_outputs
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(outputs)} outputs but {len(grad_outputs)} gradients")
    seeds: dict[Any, Any] = {}
    for out, g in zip(outputs, grad_outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward needs Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(
                f"element 0 of tensors does not require grad and does not have a grad_fn: {out._describe()} "
                f"was not computed from any tensor with requires_grad=True (or it was computed under no_grad())")
        if g is None and out.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but {out._describe()} has "
                f"{out.size} elements: pass gradient=... (dC/d(output), of shape {out.shape})")
        if g is None:
            g = np.array(1, out.dtype).reshape(out.shape)  # (faster than np.ones for one element)
        elif not (create_graph and isinstance(g, Tensor)):  # (a Tensor seed may itself be differentiated)
            g = np.array(g.data if isinstance(g, Tensor) else g, dtype=out.dtype)  # a copy: it is handed on
        if g.shape != out.shape:
            raise RuntimeError(f"gradient has shape {g.shape}, but {out._describe()}: they must match")
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._wrap(g)
        elif g.dtype != out.dtype:  # a Tensor seed of another dtype: cast in the graph (.grad has out's dtype)
            g = g.astype(out.dtype)
        key = out if out.grad_fn is None else out.grad_fn
        seeds[key] = seeds[key] + g if key in seeds else g
    return seeds


def _input_gradients(node: Context, grad: Any, anomaly: bool) -> Sequence[Any]:
    """The node's backward, checked: one gradient per input (None where none is sent), each of the kind
    backward was given (array or Tensor), of its input's shape, cast to its input's dtype."""
    try:
        grads = node.function.backward(node, grad)
    except AttributeError as e:
        if isinstance(grad, Tensor) or "numpy" not in str(e):
            raise
        raise AttributeError(
            f"{node.function.__name__}.backward: {e}. Without create_graph, backward receives numpy arrays, "
            f"not Tensors: write it with arithmetic and numpy functions (np.exp(x) rather than x.exp()), which "
            f"work on both (see tinygrad_edu/engine/function.py)") from e
    if type(grads) is not tuple and type(grads) is not list:
        grads = (grads,)
    if len(grads) != len(node.edges):
        raise RuntimeError(
            f"{node.function.__name__}.backward returned {len(grads)} gradients, but forward had "
            f"{len(node.edges)} positional inputs (return None for inputs without a gradient)")
    kind = Tensor if isinstance(grad, Tensor) else np.ndarray
    for i, g in enumerate(grads):  # the usual case, all as expected, costs one test per input
        if g is not None and (type(g) is not kind or g.shape != node.input_shapes[i]
                              or g.dtype is not node.input_dtypes[i]) and node.edges[i] is not None:
            grads = [_checked(g, node, i, kind) for i, g in enumerate(grads)]
            break
    if anomaly:
        for i, g in enumerate(grads):
            if g is not None:
                check_finite(g, f"the gradient for input {i}", node)
    return grads


def _checked(g: Any, node: Context, i: int, kind: type) -> Any:
    """One gradient returned by backward as what the walk sends on, or an error that says what is wrong."""
    if g is None or node.edges[i] is None:
        return None
    if type(g) is not kind:  # a constant in a recorded backward, or a numpy scalar
        g = Tensor._wrap(g) if kind is Tensor else np.asarray(g.data if isinstance(g, Tensor) else g)
    if g.shape != node.input_shapes[i]:
        raise RuntimeError(
            f"{node.function.__name__}.backward returned a gradient of shape {g.shape} for input {i}, which has "
            f"shape {node.input_shapes[i]}: a gradient always has the shape of its input (reduce a broadcast "
            f"gradient with sum_to)")
    if g.dtype != node.input_dtypes[i]:
        check_can_require_grad(node.input_dtypes[i], f"input {i} of {node.function.__name__}")
        g = g.astype(node.input_dtypes[i])
    return g


def _observe(node: Context, grad: Any) -> Any:
    """Run the hooks of the node's output on its gradient, then keep a copy in its .grad if it retains it."""
    as_tensor = grad if isinstance(grad, Tensor) else Tensor._wrap(grad)
    if node._hooks:
        as_tensor = _call_hooks(node._hooks, as_tensor)
    output = node.output() if node.retains_grad else None
    if output is not None:
        _accumulate(output, as_tensor, taken=None)
    return as_tensor if isinstance(grad, Tensor) else as_tensor.data


def _call_hooks(hooks: list, grad: Tensor) -> Tensor:
    """Call each hook with the gradient; a hook that returns a Tensor (or an array) replaces it."""
    for hook in hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced if isinstance(replaced, Tensor) else Tensor._wrap(np.asarray(replaced))
    return grad


def _accumulate(tensor: Tensor, grad: Any, taken: set[int] | None) -> None:
    """Add `grad` (an array or a Tensor) into `tensor.grad` by the rule of the module docstring; `taken` holds
    the ids of the arrays already given to a .grad in this call (None: always copy)."""
    grad_fn, data = (grad.grad_fn, grad.data) if isinstance(grad, Tensor) else (None, grad)
    if tensor._grad is not None:
        tensor._grad = tensor._grad + Tensor._wrap(data, grad_fn)  # a new array
        return
    owner = data if data.base is None else data.base
    whole = owner is data or (type(owner) is np.ndarray and owner.shape == data.shape and owner.dtype == data.dtype
                              and owner.strides == data.strides and owner.ctypes.data == data.ctypes.data)
    if taken is None or not whole or not data.flags.writeable or id(owner) in taken:
        owner = data.copy()
    else:  # a layer's weight gradient arrives as P.mT.mT, a view that is all of P: P itself is kept
        taken.add(id(owner))
    tensor._grad = Tensor._wrap(owner, grad_fn)


LARGE_GRAPH = 1000  # nodes


class _CollectorPaused:
    """Python's cyclic garbage collector paused while a large graph is walked. Backward allocates many
    short-lived arrays while the whole graph is alive, and each collection of the oldest generation would
    scan all its nodes again (a 100 000-operation backward took twice as long). Below about 1 000 nodes the
    pause costs more than it saves. The walk makes no reference cycles; the collector catches up after."""

    __slots__ = ("pause",)

    def __init__(self, nodes: int) -> None:
        self.pause = nodes > LARGE_GRAPH and gc.isenabled()

    def __enter__(self) -> None:
        if self.pause:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.pause:
            gc.enable()


def backward(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate d(outputs)/d(leaf) into `.grad` of every leaf that requires grad (see Tensor.backward)."""
    tracer = _state.tracer
    if tracer is not None:  # tinygrad_edu.compile: the walk is written down first, then run as usual
        tracer.backward(list(outputs), grad_outputs, create_graph)
        _state.tracer = None
        try:
            backward(outputs, grad_outputs, retain_graph, create_graph)
        finally:
            _state.tracer = tracer
        tracer.check_backward()
        return
    taken: set[int] | None = None if create_graph else set()  # (a recorded gradient is always copied)
    for leaf, grad in run_backward(outputs, grad_outputs, retain_graph, create_graph, taken=taken).items():
        if leaf._hooks:
            grad = _call_hooks(leaf._hooks, grad if isinstance(grad, Tensor) else Tensor._wrap(grad))
        _accumulate(leaf, grad, taken)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor], grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False, allow_unused: bool = False,
         ) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any leaf's `.grad` (like `torch.autograd.grad`).

    `inputs` may be leaves or intermediate tensors. With `create_graph=True` the results are part of a new
    graph and can be differentiated again (Hessian-vector products, second derivatives).
    """
    if _state.tracer is not None:
        _state.tracer.refuse("tinygrad_edu.grad() is not compiled yet: use loss.backward() in a compiled step")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and (isinstance(grad_outputs, (Tensor, np.ndarray)) or np.isscalar(grad_outputs)):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"input {i} of grad() does not require grad, so it has no gradient")
    capture = {t.grad_fn for t in inputs if t.grad_fn is not None}
    found = run_backward(outputs, grad_outputs, retain_graph, create_graph, capture)
    results: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = found.get(t if t.grad_fn is None else t.grad_fn)
        if g is None and not allow_unused:
            raise RuntimeError(f"input {i} of grad() ({t._describe()}) was not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
        results.append(g if g is None or isinstance(g, Tensor) else Tensor._wrap(g))
    return tuple(results)


def _tensor_backward(self: Tensor, gradient: Any = None, retain_graph: bool | None = None,
                     create_graph: bool = False) -> None:
    """Compute d(self)/d(leaf) for every leaf that requires grad and add it to `leaf.grad`.

    `gradient` is d(final)/d(self); it may be omitted when self is a scalar (it is then 1).
    Saved values are freed afterwards unless `retain_graph=True` (default: `create_graph`).
    With `create_graph=True` the gradients are themselves differentiable (higher-order derivatives).
    """
    backward([self], None if gradient is None else [gradient], retain_graph, create_graph)


Tensor.backward = _tensor_backward  # type: ignore[attr-defined]
