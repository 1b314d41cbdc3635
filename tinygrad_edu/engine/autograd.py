"""Reverse-mode differentiation: walk the graph from the outputs back to the leaves.

1. Order the nodes so that every node comes after all the nodes that consume its output (a topological
   order, found with an explicit stack: a chain of 100 000 operations needs no recursion).
2. Visit them in that order. A node's gradient is complete when it is visited, because every consumer has
   already added its contribution: this is how re-used values (`x * x`, diamonds) get summed gradients.
3. Call the node's `backward` and add each input's gradient to that input's node (or leaf).

Without `create_graph` the backward formulas run under `no_grad()`: plain numpy work, nothing recorded (and
where an operation has `backward_arrays`, the formula runs on the arrays directly, see function.py). With it,
they are recorded like any other computation, so the gradients can be differentiated again.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import numpy as np

from .function import Context, as_grad
from .tensor import Tensor, set_grad_enabled


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


def _seed_gradient(output: Tensor, gradient: Any) -> Tensor:
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but {output._describe()} has "
                f"{output.size} elements: pass gradient=... (dC/d(output), of shape {output.shape})"
            )
        return Tensor._wrap(np.array(1, output.dtype).reshape(output.shape))  # (np.ones is slower for 1 value)
    g = gradient if isinstance(gradient, Tensor) else Tensor._wrap(np.asarray(gradient, dtype=output.dtype))
    if g.shape != output.shape:
        raise RuntimeError(f"gradient has shape {g.shape}, but {output._describe()}: they must match")
    return g


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Any] | None,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    stored: set[int] | None = None,
) -> dict[Any, Tensor]:
    """The engine. Returns the gradient of every leaf reached (keyed by the leaf Tensor) and, for `inputs`
    that are intermediate tensors, their gradient keyed by their node. `stored` collects the ids of the
    arrays put into a `.grad` (of retained intermediates), so that no two `.grad` share one array.

    With create_graph the gradients are Tensors all the way, recorded in a new graph. Without it nobody will
    differentiate them, so during the walk they are plain numpy arrays (`arrays`), and only the results are
    made Tensors: this saves a Tensor per edge, the largest cost of a small graph's backward.
    """
    if stored is None:
        stored = set()
    if retain_graph is None:
        retain_graph = create_graph
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(outputs)} outputs but {len(grad_outputs)} gradients")
    arrays = not create_graph

    # The gradient summed so far for each node (Context) and each leaf (Tensor) reached: both hash by identity.
    grads: dict[Any, Any] = {}
    for out, g in zip(outputs, grad_outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward needs Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(
                f"element 0 of tensors does not require grad and does not have a grad_fn: {out._describe()} "
                f"was not computed from any tensor with requires_grad=True (or it was computed under no_grad())"
            )
        seed = _seed_gradient(out, g)
        if g is not None and arrays:  # the caller's own array: no `.grad` may share it, nor any view of it
            seed = Tensor._wrap(seed.data.copy())
        elif g is not None:  # (with create_graph views are always copied: its id is enough)
            stored.add(id(seed.data))
        seed = seed.data if arrays else seed
        target = out.grad_fn if out.grad_fn is not None else out
        grads[target] = grads[target] + seed if target in grads else seed

    wanted = {t.grad_fn for t in inputs or () if t.grad_fn is not None}
    captured: dict[Any, Any] = {}
    order = topological_order([o.grad_fn for o in outputs if o.grad_fn is not None])
    with set_grad_enabled(create_graph), _CollectorPaused(len(order) > LARGE_GRAPH):
        for node in order:
            grad = grads.pop(node, None)
            if grad is None:  # no gradient reached this node (all paths to it carried None)
                continue
            if node._hooks:  # the private fields: reading the public lists would create them
                grad = _call_hooks(node._hooks, grad, arrays)
            if node._retained and inputs is None:
                for ref in node._retained:
                    tensor = ref()
                    if tensor is not None:
                        _accumulate(tensor, Tensor._wrap(grad) if arrays else grad, create_graph, stored)
            if node in wanted:
                captured[node] = grad
            function = node.function
            if arrays and function.backward_arrays is not None:  # the formula on the arrays (function.py)
                input_grads = function.backward_arrays(node, grad)
            else:  # the definition, on Tensors (recorded only with create_graph)
                input_grads = function.backward(node, Tensor._wrap(grad) if arrays else grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if len(input_grads) != len(node.edges):
                raise RuntimeError(
                    f"{node.function.__name__}.backward returned {len(input_grads)} gradients, but forward "
                    f"had {len(node.edges)} positional inputs (return None for inputs without a gradient)"
                )
            for index, (edge, g) in enumerate(zip(node.edges, input_grads)):
                if edge is None or g is None:
                    continue
                g = as_grad(g, node, index, arrays)
                grads[edge] = grads[edge] + g if edge in grads else g  # a new sum: never added in place
            if not retain_graph:
                node.release()
    # Every node was visited and popped: what is left are the leaves' gradients.
    captured.update(grads)
    if arrays:
        return {key: Tensor._wrap(g) for key, g in captured.items()}
    return captured


def _call_hooks(hooks: list, grad: Any, arrays: bool) -> Any:
    """Call each hook with the gradient as a Tensor; a hook that returns a Tensor replaces it."""
    tensor = Tensor._wrap(grad) if arrays else grad
    for hook in hooks:
        replaced = hook(tensor)
        if replaced is not None:
            tensor = replaced if isinstance(replaced, Tensor) else Tensor._wrap(np.asarray(replaced))
    return tensor.data if arrays else tensor


LARGE_GRAPH = 1000  # nodes; below this the collector's pause costs more than it saves


class _CollectorPaused:
    """Python's cyclic garbage collector paused during the walk of a large graph. Backward allocates many
    short-lived arrays while the whole graph is alive, and every collection of the oldest generation would
    scan all its nodes again: a 100 000-operation backward took 1.4 s instead of 0.73 s. The walk creates no
    reference cycles of its own; the collector resumes (and catches up) as soon as it ends."""

    __slots__ = ("pause",)

    def __init__(self, pause: bool) -> None:
        self.pause = pause and gc.isenabled()

    def __enter__(self) -> None:
        if self.pause:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.pause:
            gc.enable()


def _accumulate(tensor: Tensor, grad: Tensor, create_graph: bool, stored: set[int]) -> None:
    """Add `grad` to `tensor.grad`, never keeping an array that something else may share or write to.

    Backward formulas pass gradients through unchanged where they can (y = a + b gives both a and b the
    very array g), so the first gradient is copied if it is a view, read-only, or already another `.grad`
    in this backward call (ids in `stored`). A view that is the whole of its base in the same layout is
    taken as that base (and checked as such): a layer's weight gradient arrives that way, and copying it
    cost ~12 % of a 784-300-10 training step."""
    if not create_graph and grad.grad_fn is not None:
        grad = grad.detach()
    if tensor.grad is None:
        data = grad.data
        if not create_graph and data.base is not None and _spans_its_base(data):
            data = data.base  # e.g. P.mT.mT, the gradient of a layer's weight: P itself, under another name
            grad = Tensor._wrap(data, grad.grad_fn)
        if data.base is not None or not data.flags.writeable or id(data) in stored:
            grad = Tensor._wrap(data.copy(), grad.grad_fn)
        stored.add(id(grad.data))
        tensor._grad = grad
    else:
        new = tensor.grad + grad  # a new array: an earlier gradient may be referenced elsewhere
        tensor._grad = new if create_graph else new.detach()


def _spans_its_base(view: np.ndarray) -> bool:
    """True if `view` is all of its base array, element for element in the same layout."""
    base = view.base
    return (type(base) is np.ndarray and view.shape == base.shape and view.strides == base.strides
            and view.dtype == base.dtype and view.ctypes.data == base.ctypes.data)


def backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(outputs)/d(leaf) into `.grad` of every leaf that requires grad (see Tensor.backward)."""
    stored: set[int] = set()  # two leaves can receive the very same array (y = a + b): each gets its own
    leaf_grads = run_backward(outputs, grad_outputs, retain_graph, create_graph, stored=stored)
    for leaf, grad in leaf_grads.items():
        if leaf._hooks:
            grad = _call_hooks(leaf._hooks, grad, arrays=False)
        _accumulate(leaf, grad, create_graph, stored)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any `.grad` (like `torch.autograd.grad`).

    `inputs` may be leaves or intermediate tensors. With `create_graph=True` the results are part of a new
    graph and can be differentiated again (Hessian-vector products, second derivatives).
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and (isinstance(grad_outputs, (Tensor, np.ndarray)) or np.isscalar(grad_outputs)):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"input {i} of grad() does not require grad, so it has no gradient")
    found = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    results: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = found.get(t.grad_fn if t.grad_fn is not None else t)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} of grad() ({t._describe()}) was not used to compute the outputs; "
                f"pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph:
            g = g.detach()
        results.append(g)
    return tuple(results)
