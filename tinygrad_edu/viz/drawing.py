"""What every drawing shares: the `Drawing` graph object, its no-`dot` fallback, label escaping, number summaries.

`Drawing` is a `graphviz.Digraph` (so `.source`, `.pipe()`, `.render()` behave as graphviz documents them) that
  - shows itself in Jupyter as SVG and PNG (the PNG for where SVG is not shown: untrusted notebooks, GitHub)
    when graphviz's `dot` program is installed, and as its DOT source with a one-line install hint when it is
    not (graphviz's own display raises `ExecutableNotFound` instead);
  - saves by file suffix with `write("graph.svg" | ".png" | ".pdf" | ".dot")`: without `dot` it writes the
    DOT source next to the requested file and raises one clear `DotNotFoundError`.

Labels are graphviz "HTML-like" labels built here from escaped text only, so names such as `<AddBackward>`,
`a & b` or `"x"` are shown as they are and can never break the DOT syntax.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from .._atomic import atomic_writer

HOW_TO_INSTALL = "install it with `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` or `conda install graphviz`"
INSTALL_HINT = f"graphviz's `dot` program is not installed, so here is the DOT source instead of the picture; {HOW_TO_INSTALL}"
MISSING_DOT = f"graphviz's `dot` program is not installed (it turns DOT into pictures): {HOW_TO_INSTALL}"

FORMATS = ("svg", "png", "pdf", "dot", "gv")
PNG_DPI = 96  # graphviz's: a drawing's PNG has as many pixels as its SVG has CSS pixels
PNG_SCALE = 1.5  # the notebook PNG's pixels per CSS pixel: sharp on a high-density screen at 70 % of 2x's bytes


class DotNotFoundError(graphviz.ExecutableNotFound):
    """Raised instead of graphviz's ExecutableNotFound, with a message that says what to do (still catchable as it)."""

    def __init__(self, message: str) -> None:  # ExecutableNotFound formats a command list; we have a sentence
        RuntimeError.__init__(self, message)


def dot_available() -> bool:
    """True when graphviz's `dot` program is on PATH."""
    return shutil.which("dot") is not None


class Drawing(graphviz.Digraph):
    """A graphviz Digraph that degrades gracefully without `dot` and saves by file suffix.

    Extra attributes: `text` (a plain-text listing of the same graph, one line per node, or "" when the drawing
    has no listing) and `kind` (what was drawn: "forward", "backward", "chapter", "network").
    """

    text: str = ""
    kind: str = ""

    # -- display ------------------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> Any:
        """SVG for live notebooks, PNG beside it for where SVG is not shown (an untrusted notebook, GitHub),
        the DOT source as text. The PNG is drawn at PNG_SCALE times the resolution and displayed at the SVG's size."""
        try:
            svg = self.pipe(format="svg", encoding="utf-8")
            sharp = self.copy()
            sharp.attr(dpi=str(PNG_SCALE * PNG_DPI))
            png = sharp.pipe(format="png")
        except graphviz.ExecutableNotFound:
            return self._fallback_bundle()
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the PNG header
        bundle = {"image/svg+xml": svg, "image/png": png, "text/plain": self.source}
        return bundle, {"image/png": {"width": round(width / PNG_SCALE), "height": round(height / PNG_SCALE)}}

    def _repr_svg_(self) -> str | None:  # older IPython front-ends ask for this one
        try:
            return self.pipe(format="svg", encoding="utf-8")
        except graphviz.ExecutableNotFound:
            return None

    def _fallback_bundle(self) -> dict[str, str]:
        plain = f"{INSTALL_HINT}\n\n{self.source}"
        rich = f"<p><b>{html.escape(INSTALL_HINT)}</b></p><pre>{html.escape(self.source)}</pre>"
        return {"text/plain": plain, "text/html": rich}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind or 'graph'}: {self.source.count(chr(10))} lines of DOT>"

    # -- rendering ----------------------------------------------------------------------------------------------

    def pipe(self, *args: Any, **kwargs: Any) -> Any:  # same signature and result as graphviz's
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError(MISSING_DOT) from None

    def render(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError(MISSING_DOT) from None

    def write(self, path: str | Path, format: str | None = None) -> Path:  # noqa: A002 (graphviz's name)
        """Save to `path` in the format its suffix names (svg, png, pdf, dot/gv), or `format` if given.

        DOT needs nothing. The others need graphviz's `dot`: without it the DOT source is written to
        `path` with suffix .dot, and a DotNotFoundError says so. Each file is written atomically: a failure
        (a full disk, `dot` failing) leaves the file that was there as it was.
        """
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt not in FORMATS:
            raise ValueError(
                f"cannot save a graph as {path.name!r}: choose a file ending in one of "
                f"{', '.join('.' + f for f in FORMATS)} (or pass format=...)"
            )
        if fmt in ("dot", "gv"):
            _write(path, self.source.encode("utf-8"))
            return path
        if not dot_available():
            fallback = path.with_suffix(".dot")
            _write(fallback, self.source.encode("utf-8"))
            raise DotNotFoundError(
                f"cannot write {path}: graphviz's `dot` program is not installed; the DOT source was written to "
                f"{fallback} instead ({HOW_TO_INSTALL})"
            )
        _write(path, self.pipe(format=fmt))  # rendered first: a failing `dot` writes nothing
        return path


def _write(path: Path, data: bytes) -> None:
    with atomic_writer(path) as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------------------------
# Labels: HTML-like, built from escaped pieces
# ---------------------------------------------------------------------------------------------------------------

_SUPERSCRIPT = re.compile(r"\^\{([^{}]*)\}")
_SUBSCRIPT = re.compile(r"_\{([^{}]*)\}")
# Unicode has super- and subscript forms of the digits, signs and some letters: they render the same in every
# output format, where graphviz's HTML <SUP>/<SUB> are misplaced in SVG.
_SUPERSCRIPTS = str.maketrans("0123456789+-−=()ilLnNTBk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁱˡᴸⁿᴺᵀᴮᵏ")
_SUBSCRIPTS = str.maketrans("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")


def esc(text: Any) -> str:
    """Escape text for an HTML-like graphviz label (also & < > " and the ]] that would end the label early)."""
    return html.escape(str(text), quote=True)


def _script(table: dict[int, str], mark: str) -> Any:
    def replace(m: re.Match) -> str:
        body = m.group(1).replace(" ", "")
        if all(ord(c) in table for c in body):
            return body.translate(table)
        return mark + (body if len(body) == 1 else f"({body})")  # no Unicode form: x^(k+½)
    return replace


def math_text(text: str) -> str:
    """The mini-markup `a^{l-1}`, `y_{i}` as Unicode: `aˡ⁻¹`, `yᵢ` (`x^(…)` where a character has no such form)."""
    text = _SUPERSCRIPT.sub(_script(_SUPERSCRIPTS, "^"), text)
    return _SUBSCRIPT.sub(_script(_SUBSCRIPTS, "_"), text)


LINE_STYLES = {
    "title": ("", "", True),
    "meta": ("10", "#444444", False),
    "data": ("10", "#1f3a5f", False),
    "grad": ("10", "#b2182b", False),
    "note": ("9", "#666666", False),
}


def html_label(lines: list[tuple[str, str]], markup: bool = False) -> str:
    """An HTML-like label from (style, text) lines; style is one of LINE_STYLES."""
    parts = []
    for style, text in lines:
        size, colour, bold = LINE_STYLES[style]
        pieces = [esc(math_text(t) if markup else t) for t in text.split("\n")]
        if bold:
            pieces = [f"<B>{p}</B>" for p in pieces]
        if size or colour:
            attrs = (f' POINT-SIZE="{size}"' if size else "") + (f' COLOR="{colour}"' if colour else "")
            pieces = [f"<FONT{attrs}>{p}</FONT>" for p in pieces]
        body = "<BR/>".join(pieces)
        parts.append(body)  # a "\n" inside a text makes two lines in the same style
    return "<" + "<BR/>".join(parts) + ">"


# ---------------------------------------------------------------------------------------------------------------
# Numbers: a few elements in full, statistics for more
# ---------------------------------------------------------------------------------------------------------------


def fmt_number(v: Any) -> str:
    """4 significant digits, no trailing noise: 0.1235, -3, 1.2e-05, nan."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{v:.4g}"
    return f"{float(v):.4g}"


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "?"
    return "scalar" if shape == () else str(tuple(shape))


def summarize(array: np.ndarray | None, limit: int = 4, kind: str = "data", sep: str = ", ") -> str:
    """`[1, 2, 3]` for up to `limit` elements; otherwise statistics (`sep` goes before min/max: "\n" in labels).

    kind="data": mean, std, min, max.  kind="grad": the norm ‖g‖ (the size of the step a gradient asks for),
    mean, min, max. Non-finite entries are counted first ("2 nan"), and the statistics use the finite ones.
    """
    if array is None:
        return "?"
    a = np.asarray(array)
    if a.dtype.kind == "c":
        a = np.abs(a)
    if a.size == 0:
        return "[] (empty)"
    if a.ndim == 0:
        return fmt_number(a.item())
    if a.size <= limit:
        return "[" + ", ".join(fmt_number(v) for v in a.ravel()) + "]"
    a = a.astype(np.float64, copy=False)
    finite = np.isfinite(a)
    prefix = ""
    if not finite.all():
        counts = []
        for what, mask in (("nan", np.isnan(a)), ("inf", np.isinf(a))):
            if mask.any():
                counts.append(f"{int(mask.sum())} {what}")
        prefix = ", ".join(counts) + "! "
        a = a[finite]
        if a.size == 0:
            return prefix.rstrip("! ")
    first = f"norm {_g3(np.sqrt((a * a).sum()))}" if kind == "grad" else f"mean {_g3(a.mean())}, std {_g3(a.std())}"
    if kind == "grad":
        first += f", mean {_g3(a.mean())}"
    return prefix + first + sep + f"min {_g3(a.min())}, max {_g3(a.max())}"


def _g3(v: float) -> str:
    """Statistics need 3 significant digits, not more (they are read, not recomputed)."""
    return f"{float(v):.3g}"
