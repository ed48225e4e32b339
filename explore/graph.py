"""Notebook 3's drawing of the autograd graph: the nodes behind a tensor, as torch names them.

The graph is read from ``tensor.grad_fn`` and each node's ``next_functions``; nothing is
re-derived. An ``AccumulateGrad`` node stands for a leaf tensor (here, a parameter), labelled
with the parameter's name when the model is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
import torch.nn as nn
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch


@dataclass(frozen=True)
class Node:
    """One autograd node: torch's class name, the parameter it accumulates into, its place."""

    name: str
    parameter: str | None
    depth: int  # rows below the tensor's own grad_fn (the longest path, so inputs sit below users)
    x: float  # column, 0 for the path that carries the data, left and right for the others


@dataclass(frozen=True)
class Graph:
    """The nodes (index 0 is the tensor's grad_fn) and edges (node, input) in next_functions order."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[int, int], ...]
    first_inputs: tuple[int, ...]  # the chain that follows next_functions[0][0] from the top

    def names(self) -> list[str]:
        return [node.name for node in self.nodes]


def autograd_graph(tensor: torch.Tensor, model: nn.Module | None = None) -> Graph:
    """Walk the graph behind ``tensor`` and give every node a row and a column to draw it in."""
    if tensor.grad_fn is None:
        return Graph((), (), ())
    params = {id(p): name for name, p in model.named_parameters()} if model is not None else {}
    order, inputs = _walk(tensor.grad_fn)
    index = {id(fn): i for i, fn in enumerate(order)}

    @cache
    def size(i: int) -> int:
        """How many nodes hang below node ``i`` (itself included): the data path is the biggest branch."""
        return 1 + sum(size(index[id(child)]) for child in inputs[i])

    depth = [0] * len(order)
    for i in range(len(order)):  # _walk lists every node after all of its users
        for child in inputs[i]:
            depth[index[id(child)]] = max(depth[index[id(child)]], depth[i] + 1)
    x: dict[int, float] = {0: 0.0}
    taken: set[tuple[int, float]] = {(0, 0.0)}
    for i in range(len(order)):
        children = [index[id(child)] for child in inputs[i] if index[id(child)] not in x]
        spine = max(children, key=size, default=None)
        if len(children) > 1 and size(spine) == 1:
            spine = None  # only leaves below: spread them out, none straight underneath
        sides = iter([-1, 1, -2, 2, -3, 3])  # the other inputs: left, right, further left...
        for j in children:
            offset = 0 if j == spine else next(sides, 4)
            want = x[i] + offset
            while (depth[j], want) in taken:  # another branch is there already: move outwards
                want += 1 if want >= x[i] else -1
            x[j] = want
            taken.add((depth[j], want))
    nodes = tuple(
        Node(type(fn).__name__, params.get(id(getattr(fn, "variable", None))), depth[i], x[i]) for i, fn in enumerate(order)
    )
    edges = tuple((i, index[id(child)]) for i in range(len(order)) for child in inputs[i])
    chain = [0]
    while inputs[chain[-1]] and order[chain[-1]].next_functions[0][0] is not None:
        chain.append(index[id(order[chain[-1]].next_functions[0][0])])
    return Graph(nodes, edges, tuple(chain))


def draw_graph(graph: Graph, fig: Figure | None = None) -> Figure:
    """Boxes for the nodes, arrows from each node to its inputs; parameters in blue, the first-input chain in orange."""
    fig = fig or Figure()
    rows = max(node.depth for node in graph.nodes) + 1
    fig.set_size_inches(8, 0.45 * rows + 0.6)
    ax = fig.add_axes((0, 0, 1, 1))
    xs = [node.x for node in graph.nodes]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.axis("off")
    chain = set(graph.first_inputs)
    for i, node in enumerate(graph.nodes):
        label = node.name if node.parameter is None else f"{node.name}\n{node.parameter}"
        face = "#dbe9f6" if node.name == "AccumulateGrad" else "#eeeeee"
        edge = "#e07000" if i in chain else "#888888"
        ax.text(node.x, -node.depth, label, ha="center", va="center", fontsize=8, family="monospace",
                bbox={"boxstyle": "round,pad=0.3", "facecolor": face, "edgecolor": edge, "linewidth": 2 if i in chain else 1})
    for parent, child in graph.edges:
        a, b = graph.nodes[parent], graph.nodes[child]
        on_chain = parent in chain and child in chain and graph.first_inputs.index(child) == graph.first_inputs.index(parent) + 1
        ends = (-a.depth - (0.32 if a.parameter else 0.2), -b.depth + (0.32 if b.parameter else 0.2))  # box edges
        ax.add_patch(FancyArrowPatch((a.x, ends[0]), (b.x, ends[1]), arrowstyle="-|>", mutation_scale=9,
                                     color="#e07000" if on_chain else "#666666", linewidth=1.2, shrinkA=2, shrinkB=2))
    return fig


def _walk(root) -> tuple[list, list[list]]:
    """Every node reachable from ``root``, each after all the nodes that use it, and each node's inputs."""
    seen: dict[int, object] = {}
    post: list = []

    def visit(fn) -> None:
        seen[id(fn)] = fn
        for child, _ in fn.next_functions:
            if child is not None and id(child) not in seen:
                visit(child)
        post.append(fn)

    visit(root)
    order = post[::-1]  # reverse post-order: a topological order, users before their inputs
    return order, [[child for child, _ in fn.next_functions if child is not None] for fn in order]
