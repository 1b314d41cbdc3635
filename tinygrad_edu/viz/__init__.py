"""Seeing what the engine does: computation graphs (graphviz), neuron diagrams, and the chapter's plots.

    from tinygrad_edu import viz
    loss = tg.mse(model(x), y)
    loss.backward()
    viz.draw_graph(loss, view="chapter", params=model)      # tg.draw: the same function

graph.py    draw_graph / graph_text: forward, backward and chapter views of a computation graph
tracing.py  trace(): record a forward pass, for values and gradients too large for the graph to keep
network.py  network_diagram: neurons and links of an MLP from its layer sizes
plots.py    matplotlib figures: digits, weights as images, convolution filters and feature maps, activations, curves, confusion matrix, descent and
            the optimizers beyond it
drawing.py  the Drawing object (a graphviz.Digraph that works without `dot`), label escaping, summaries

Importing this package imports graphviz's Python package (pure Python); matplotlib loads when a plot is made.
"""

from .drawing import DotNotFoundError, Drawing, dot_available, summarize
from .graph import build_model, draw_graph, graph_text
from .network import network_diagram
from .plots import (
    activation_functions,
    confusion_matrix,
    default_optimizers,
    descend,
    feature_maps,
    filters,
    gradient_descent,
    image_grid,
    misclassified,
    optimizer_comparison,
    optimizer_paths,
    rosenbrock,
    show_image,
    training_curves,
    weight_images,
)
from .tracing import Trace, trace

__all__ = [
    "DotNotFoundError", "Drawing", "Trace", "activation_functions", "build_model", "confusion_matrix", "default_optimizers", "descend", "dot_available", "feature_maps", "filters", "draw_graph", "gradient_descent", "graph_text",
    "image_grid", "misclassified", "network_diagram", "optimizer_comparison", "optimizer_paths", "rosenbrock", "show_image", "summarize", "trace", "training_curves",
    "weight_images",
]
