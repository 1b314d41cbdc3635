"""`Module` and `Parameter`: the bookkeeping that turns tensors into a network.

A module owns parameters (the leaf tensors an optimizer updates), buffers (state that is saved but not
trained) and sub-modules, all registered by attribute assignment, as in PyTorch:

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.fc = Linear(4, 3)              # a sub-module: its parameters are "fc.weight", "fc.bias"
            self.scale = Parameter(np.ones(3))  # a parameter: "scale"

        def forward(self, x):
            return self.fc(x) * self.scale

What is registered as a parameter: a `Parameter` (a `Tensor` subclass that requires grad by default, shown
as "Parameter containing: ..."), and also any plain leaf `Tensor` with `requires_grad=True` assigned to an
attribute (so `self.w = tg.randn(3, 2, requires_grad=True)` works, where PyTorch would silently ignore it).
Other tensors are ordinary attributes unless registered with `register_buffer`.

Calling a module runs `forward` inside `tg.name_scope(...)`, so every graph node it creates records where it
came from: the outermost module opens a scope named after its class, and each module it calls opens one
named by its path from there, e.g. ("MLP", "layers.0") for the first Linear of an MLP. Containers
(`Sequential`, `ModuleList`) open no scope of their own when nested, so their children are not boxed twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..engine.tensor import Tensor, bump_version, name_scope

__all__ = ["IncompatibleKeys", "Module", "ModuleList", "Parameter", "Sequential", "StateDictError"]


class Parameter(Tensor):
    """A tensor that is a parameter of a module: a leaf that requires grad (unless told otherwise).

    `Parameter(np.zeros((3, 2)))` copies its data like `tg.tensor`; arithmetic on it gives ordinary Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None) -> None:
        if isinstance(data, Tensor) and data.grad_fn is not None:
            raise ValueError(
                f"a Parameter must be a leaf, but the given tensor was computed by {data.grad_fn.name()}; "
                f"pass its .detach() (or its values) instead"
            )
        super().__init__(data, dtype=dtype, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(RuntimeError):
    """`load_state_dict` found missing or unexpected keys, or shapes that do not match."""


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(..., strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _is_parameter(value: Any) -> bool:
    return isinstance(value, Parameter) or (
        isinstance(value, Tensor) and value.grad_fn is None and value.requires_grad
    )


class _Calls(threading.local):
    """The modules being called right now in this thread, outermost first, with their path from the outermost
    one ("" for it): one stack per thread, like the engine's grad mode and name scopes."""

    def __init__(self) -> None:
        self.stack: list[tuple[Module, str]] = []


_calls = _Calls()


class Module:
    """Base class of layers and networks: subclass it, assign parameters and sub-modules in `__init__`,
    and write `forward`. See the module docstring for what gets registered and the name scopes."""

    # Containers are transparent in name scopes when they are called from another module.
    _transparent_scope: bool = False

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration by attribute assignment -------------------------------------------------------------------

    def _check_initialised(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran: call super().__init__() first in "
                f"{type(self).__name__}.__init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Module, Tensor)) or (value is None and self._is_registered(name)):
            self._check_initialised(name)
        params, buffers, modules = (self.__dict__.get(k) for k in ("_parameters", "_buffers", "_modules"))
        if _is_parameter(value):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of {type(self).__name__}: "
                    f"use a Parameter (or a leaf tensor with requires_grad=True), or None"
                )
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module {name!r}: use a Module or None")
            modules[name] = None
        elif buffers is not None and name in buffers:
            buffers[name] = None if value is None else _as_buffer(value, name)
        else:
            object.__setattr__(self, name, value)

    def _is_registered(self, name: str) -> bool:
        return any(name in self.__dict__.get(k, ()) for k in ("_parameters", "_buffers", "_modules"))

    def _forget(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            self.__dict__[key].pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the registered things live in the three dicts.
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if self._is_registered(name):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Register `param` (a leaf tensor, made to require grad unless it is a Parameter) or None under `name`."""
        self._check_initialised(name)
        _check_name(name)
        if param is not None:
            if not isinstance(param, Tensor) or param.grad_fn is not None:
                raise TypeError(f"parameter {name!r} must be a leaf Tensor (or None), got {type(param).__name__}")
            if not isinstance(param, Parameter):
                param.requires_grad = True
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, value: Any) -> None:
        """Register state that is saved in `state_dict` but not trained (e.g. running statistics)."""
        self._check_initialised(name)
        _check_name(name)
        self._forget(name)
        self._buffers[name] = None if value is None else _as_buffer(value, name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under `name` (needed when the name is not an identifier, e.g. "0")."""
        self._check_initialised(name)
        _check_name(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}, ...) needs a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    # -- traversal ----------------------------------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every sub-module, depth first, each once, with dotted paths."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, parameter) pairs with PyTorch's dotted names, e.g. ("layers.0.weight", W); shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def _named_members(self, kind: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for path, module in owners:
            for name, value in getattr(module, kind).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{path}.{name}" if path else name), value

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many numbers the parameters hold (only those requiring grad with `trainable_only`)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- training state -----------------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: `.grad = None` for every parameter (zeros with set_to_none=False)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def train(self, mode: bool = True) -> Module:
        """Set `.training` on this module and every sub-module (layers such as dropout would read it)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """`train(False)`."""
        return self.train(False)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call `fn` on every sub-module, then on this one (e.g. to re-initialise layers); returns self."""
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- state dict ---------------------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and buffers by dotted name, as numpy copies (a snapshot: training on does not change it)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for path, module in self.named_modules():
            for kind in ("_parameters", "_buffers"):
                for name, value in getattr(module, kind).items():
                    if value is not None:
                        state[f"{path}.{name}" if path else name] = value.data.copy()
        return state

    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = OrderedDict()
        for path, module in self.named_modules():
            for kind in ("_parameters", "_buffers"):
                for name, value in getattr(module, kind).items():
                    if value is not None:
                        out[f"{path}.{name}" if path else name] = value
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from `state_dict` into the parameters and buffers, in place (optimizers keep working).

        strict=True (default): every key must match exactly, or nothing is changed and a StateDictError lists
        the missing and unexpected keys. Shapes must always match; values are cast to each parameter's dtype.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict needs a mapping of name -> array, got {type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        values: dict[str, np.ndarray] = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            raw = state_dict[key]
            value = np.asarray(raw.data if isinstance(raw, Tensor) else raw)
            if value.shape != target.shape:
                problems.append(
                    f"size mismatch for {key!r}: the state has shape {value.shape}, this model has {target.shape}"
                )
            elif value.dtype.kind not in "biuf" or (value.dtype.kind == "f" and target.dtype.kind in "biu"):
                problems.append(f"dtype mismatch for {key!r}: cannot load {value.dtype} into {target.dtype}")
            else:
                values[key] = value
        if problems:
            raise StateDictError(f"error(s) loading state_dict into {type(self).__name__}: " + "; ".join(problems))
        for key, value in values.items():  # all checked first: a failing load changes nothing
            target = own[key]
            np.copyto(target.data, value, casting="unsafe")
            bump_version(target.data)  # graphs that saved the old values must notice (as an in-place update)
        return IncompatibleKeys(missing, unexpected)

    # -- calling ------------------------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        path, scope = self._scope_name()
        stack = _calls.stack
        stack.append((self, path))
        try:
            if scope is None:
                return self.forward(*args, **kwargs)
            with name_scope(scope):
                return self.forward(*args, **kwargs)
        finally:
            stack.pop()

    def _scope_name(self) -> tuple[str, str | None]:
        """(path from the outermost module being called, scope label or None for a transparent container)."""
        stack = _calls.stack
        if not stack:
            return "", type(self).__name__
        parent, parent_path = stack[-1]
        name = next((n for n, m in parent._modules.items() if m is self), None)
        if name is not None:
            path = f"{parent_path}.{name}" if parent_path else name
        else:  # not a direct child (e.g. a layer passed in as an argument): look for it from the outermost module
            root = stack[0][0]
            path = next((p for p, m in root.named_modules() if m is self and p), type(self).__name__)
        return path, (None if self._transparent_scope else path)

    # -- printing -----------------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr (e.g. "in_features=3, out_features=2")."""
        return ""

    def _repr_body(self) -> str:
        lines = [f"({name}): " + _indent(repr_short(m)) for name, m in self._modules.items() if m is not None]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __repr__(self) -> str:
        n = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        count = f"{n:,} parameters" + ("" if trainable == n else f", {trainable:,} trainable")
        return f"{self._repr_body()}  # {count}"


def repr_short(module: Module) -> str:
    """A module's repr without the parameter count (used for sub-modules)."""
    return module._repr_body()


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"a parameter/buffer/module name must be a non-empty string without '.', got {name!r}")


def _as_buffer(value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.grad_fn is not None:
            value = value.detach()
        return value
    try:
        return Tensor(value)
    except TypeError as e:
        raise TypeError(f"buffer {name!r} must be an array or a Tensor: {e}") from None


# ---------------------------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------------------------


class Sequential(Module):
    """Modules applied one after the other: Sequential(Linear(2, 3), Sigmoid(), Linear(3, 1)).

    Children are named "0", "1", ... (so parameters read "0.weight", or "layers.0.weight" inside an MLP);
    an OrderedDict argument names them yourself. Indexing gives a child; a slice, a new Sequential sharing them.
    """

    _transparent_scope = True

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential takes Modules, argument {i} is {type(m).__name__}")
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            if m is not None:
                x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except (IndexError, TypeError):
            raise IndexError(f"index {index!r} out of range for a Sequential of {len(items)} modules") from None


class ModuleList(Module):
    """A list of modules whose parameters are registered ("0.weight", "1.weight", ...); call them yourself."""

    _transparent_scope = True

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int) -> Module:
        try:
            return list(self._modules.values())[index]
        except (IndexError, TypeError):
            raise IndexError(f"index {index!r} out of range for a ModuleList of {len(self)} modules") from None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a ModuleList is not callable: iterate over it and call its modules")
