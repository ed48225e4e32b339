"""Do the explorers behind the notebooks' widgets and figures tell the truth: the shapes PyTorch
computes, the losses a real training run gives, the graph autograd builds, the losses' own
values? And do the widgets redraw when a control moves, without a browser?"""

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from autograde.course import REPO
from explore.graph import autograd_graph, draw_graph
from explore.losses import cross_entropy_curve, draw_losses, regression_curve
from explore.lr import EXAMPLES, draw_runs, run_lr
from explore.shapes import trace_net
from explore.widgets import lr_explorer, shape_explorer
from solutions.backprop import grad_fn_chain
from solutions.losses import l1_loss, mse_loss
from solutions.network import Net


def torch_trace(size, kernel_size=3, padding=0, stride=1, pool_size=2, pool_stride=None, ceil_mode=False):
    """What PyTorch itself does with these settings: the side lengths and flat features, or the error."""
    x = torch.zeros(1, 1, size, size)
    sizes = [size]
    with torch.no_grad():
        for c_in, c_out in ((1, 6), (6, 16)):
            x = F.relu(nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding)(x))
            sizes.append(x.shape[-1])
            x = F.max_pool2d(x, pool_size, pool_stride, ceil_mode=ceil_mode)
            sizes.append(x.shape[-1])
        return sizes, torch.flatten(x, 1).shape[1]


# -- the dimension explorer ----------------------------------------------------------------------
def test_does_the_seeds_net_trace_32_30_15_13_6_576_and_fit_fc1():
    trace = trace_net()
    assert trace.sizes == (32, 30, 15, 13, 6) and trace.flat == 576 and trace.ok
    shapes = {step.name: step.shape for step in trace.steps}
    assert shapes["pool2"] == (1, 16, 6, 6) and shapes["flatten"] == (1, 576) and shapes["fc3"] == (1, 10)


def test_does_a_28x28_input_give_400_features_and_say_what_pytorch_says_at_fc1():
    trace = trace_net(size=28)
    assert trace.flat == 400 and not trace.ok and trace.broken == "fc1"
    with pytest.raises(RuntimeError) as error:
        Net()(torch.zeros(1, 1, 28, 28))
    assert trace.torch_says in str(error.value)
    assert "nn.Linear(400, 120)" in trace.problem


def test_does_ceil_mode_turn_13_into_7():
    trace = trace_net(ceil_mode=True)
    assert trace.sizes[-2:] == (13, 7) and trace.flat == 16 * 7 * 7 and trace.broken == "fc1"


@pytest.mark.parametrize(("settings", "layer"), [({"size": 2}, "conv1"), ({"size": 8}, "pool2"),
                                                  ({"size": 10, "kernel_size": 7}, "conv2")])
def test_does_a_window_bigger_than_its_map_collapse_where_pytorch_fails(settings, layer):
    trace = trace_net(**settings)
    assert trace.broken == layer and trace.flat is None and trace.sizes[-1] < 1
    assert "✗" in trace.table().splitlines()[-1]
    with pytest.raises(RuntimeError):
        torch_trace(**settings)


def test_does_every_trace_agree_with_pytorch():
    """Over a grid of 576 settings: the same sizes and features, and a break exactly where PyTorch fails."""
    wrong = []
    for settings in itertools.product([3, 8, 13, 28, 32, 33], [1, 3, 5], [0, 2], [1, 2], [2, 3], [None, 1], [False, True]):
        trace = trace_net(*settings)
        try:
            sizes, flat = torch_trace(*settings)
        except RuntimeError:
            sizes, flat = None, None
        if (trace.flat, trace.ok) != (flat, flat == 576) or (flat is not None and list(trace.sizes) != sizes):
            wrong.append((settings, trace.summary(), sizes, flat))
    assert not wrong, wrong[:5]


def test_does_the_table_mark_the_layer_that_breaks():
    lines = {line.split()[0]: line for line in trace_net(size=28).table().splitlines()[1:10]}
    assert "✗" in lines["fc1"] and "(1, 400)" in lines["flatten"] and "✗" not in lines["flatten"]
    red = [row for row in trace_net(size=28).html().split("<tr") if "#c00" in row.split(">")[0]]
    assert len(red) == 1 and "fc1" in red[0]
    assert "#c00" not in trace_net().html().split("</table>")[0]


# -- the learning-rate explorer ------------------------------------------------------------------
def test_does_run_lr_repeat_the_notebooks_training_run():
    torch.manual_seed(0)
    net = Net()
    image, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    expected = []
    for _ in range(10):
        optimizer.zero_grad()
        loss = nn.MSELoss()(net(image), target)
        loss.backward()
        optimizer.step()
        expected.append(loss.item())
    assert run_lr(0.01).losses[:10] == pytest.approx(expected)
    assert round(expected[0], 4) == 1.0354  # what notebook 4 prints


def test_does_a_good_rate_bring_the_loss_down_at_every_step():
    run = run_lr(EXAMPLES["good"])
    assert all(b < a for a, b in zip(run.losses, run.losses[1:]))
    assert run.losses[-1] < 0.001 * run.losses[0] and run.verdict == "good"


def test_does_a_tiny_rate_barely_move_the_loss():
    run = run_lr(EXAMPLES["slow"])
    assert 0.9 * run.losses[0] < run.losses[-1] < run.losses[0] and run.verdict == "slow"


def test_does_a_diverging_rate_blow_up_and_stop_at_the_first_inf_or_nan():
    run = run_lr(EXAMPLES["diverging"])
    assert not math.isfinite(run.losses[-1]) and all(math.isfinite(v) for v in run.losses[:-1])
    assert run.losses[1] > run.losses[0] and len(run.losses) < run.steps and run.verdict == "diverging"
    assert "diverging" in run.describe() and f"step {len(run.losses)}" in run.describe()


def test_does_run_lr_leave_the_notebooks_random_numbers_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run_lr(0.02)
    assert torch.equal(torch.rand(3), expected)


def test_does_the_lr_figure_draw_one_line_a_run_and_mark_where_one_diverged():
    runs = [run_lr(lr) for lr in EXAMPLES.values()]
    ax = draw_runs(runs).axes[0]
    assert len(ax.get_legend().get_texts()) == 3
    assert any(text.get_text() in ("inf", "nan") for text in ax.texts)


# -- the autograd graph --------------------------------------------------------------------------
@pytest.fixture
def seed_loss():
    torch.manual_seed(0)
    net = Net()
    return nn.MSELoss()(net(torch.randn(1, 1, 32, 32)), torch.randn(1, 10)), net


def test_are_the_graphs_nodes_named_and_linked_as_torch_names_and_links_them(seed_loss):
    loss, net = seed_loss
    graph = autograd_graph(loss, net)
    # An independent walk over next_functions: every node once, with torch's class name.
    seen, stack, names = set(), [loss.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.append(type(fn).__name__)
        stack.extend(child for child, _ in fn.next_functions)
    assert sorted(graph.names()) == sorted(names)
    assert len(graph.edges) == sum(1 for fn in seen for child, _ in fn.next_functions if child is not None)
    assert {"MseLossBackward0", "AddmmBackward0", "ConvolutionBackward0", "ReluBackward0"} <= set(graph.names())


def test_does_the_graph_hold_one_accumulategrad_per_parameter_tensor(seed_loss):
    loss, net = seed_loss
    leaves = [node.parameter for node in autograd_graph(loss, net).nodes if node.name == "AccumulateGrad"]
    assert sorted(leaves) == sorted(name for name, _ in net.named_parameters()) and len(leaves) == 10


def test_is_the_orange_path_the_chain_grad_fn_chain_follows(seed_loss):
    loss, net = seed_loss
    graph = autograd_graph(loss, net)
    chain = [graph.nodes[i] for i in graph.first_inputs]
    assert [node.name for node in chain] == grad_fn_chain(loss, 10)
    assert chain[-1].parameter == "fc3.bias"


def test_is_every_node_drawn_below_its_users_in_a_place_of_its_own(seed_loss):
    loss, net = seed_loss
    graph = autograd_graph(loss, net)
    assert all(graph.nodes[child].depth > graph.nodes[parent].depth for parent, child in graph.edges)
    places = [(node.depth, node.x) for node in graph.nodes]
    assert len(places) == len(set(places))
    assert len(draw_graph(graph).axes[0].texts) == len(graph.nodes)


def test_is_a_leaf_an_empty_graph():
    assert autograd_graph(torch.zeros(3, requires_grad=True)).nodes == ()


# -- the loss curves -----------------------------------------------------------------------------
def test_do_the_regression_curves_hold_the_losses_and_their_gradients():
    errors = torch.tensor([-2.0, 0.0, 3.0])
    assert regression_curve(mse_loss, errors) == ([4.0, 0.0, 9.0], [-4.0, 0.0, 6.0])
    assert regression_curve(l1_loss, errors) == ([2.0, 0.0, 3.0], [-1.0, 0.0, 1.0])


def test_is_cross_entropy_minus_log_p_with_gradient_p_minus_1():
    values, slopes = cross_entropy_curve(torch.tensor([0.1, 0.5, 1.0]))
    assert values == pytest.approx([math.log(10), math.log(2), 0.0], abs=1e-6)
    assert slopes == pytest.approx([-0.9, -0.5, 0.0], abs=1e-6)


def test_are_the_three_losses_side_by_side():
    axes = draw_losses().axes
    assert len(axes) == 3 and len({round(ax.get_position().x0, 2) for ax in axes}) == 3


# -- the widgets, driven from Python -------------------------------------------------------------
def test_does_the_shape_explorer_redraw_its_table_when_a_control_moves():
    explorer = shape_explorer()
    assert "(1, 576)" in explorer.table.value and "✓" in explorer.table.value
    explorer.controls["size"].value = 28
    assert "(1, 400)" in explorer.table.value and "✗" in explorer.table.value
    explorer.controls["size"].value = 32
    explorer.controls["ceil_mode"].value = True
    assert "(1, 16, 7, 7)" in explorer.table.value


def test_does_the_lr_explorer_retrain_and_redraw_when_the_slider_moves():
    explorer = lr_explorer()
    before = bytes(explorer.plot.value)
    assert before.startswith(b"\x89PNG") and "good" in explorer.verdict.value
    explorer.slider.value = 2.0
    assert bytes(explorer.plot.value) != before and "diverging" in explorer.verdict.value


def test_do_the_explorers_speak_korean_to_a_korean_learner(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "ko")
    assert "모든 계층이 맞습니다" in shape_explorer().table.value
    assert "발산" in run_lr(EXAMPLES["diverging"]).describe()


def test_do_the_explorers_run_in_plain_ipython_without_writing_to_stderr(tmp_path):
    """Where no front end is connected (a terminal, a converter), a widget cell must still run quietly."""
    code = ("from explore.widgets import shape_explorer, lr_explorer\n"
            "e = shape_explorer(); display(e); e.controls['size'].value = 8\n"
            "l = lr_explorer(); display(l); l.slider.value = 1.5\n"
            "print('pool2 breaks' in e.table.value, 'diverging' in l.verdict.value)\n")
    ipython = Path(sys.executable).parent / "ipython"
    done = subprocess.run([ipython, "--no-banner", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"), "COURSE_LANG": "en"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "Dimension explorer" in done.stdout and "Learning-rate explorer" in done.stdout
    assert done.stdout.strip().endswith("True True")


# -- the notebooks -------------------------------------------------------------------------------
NOTEBOOKS = [REPO / edition / name / f"{name}.ipynb" for edition in ("notebooks", "notebooks-ko")
             for name in ("02_losses", "03_backprop", "04_update", "05_shapes")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[f"{p.parent.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_does_every_widget_cell_sit_next_to_a_static_output_and_outside_the_graded_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    widgets = [i for i, c in enumerate(cells) if c.cell_type == "code" and "_explorer()" in c.source]
    for i in widgets:
        assert "nbgrader" not in cells[i].metadata
        shown = [o for c in cells[:i] if c.cell_type == "code" and "explore" in c.source for o in c.outputs]
        assert any(o.output_type == "stream" or "image/png" in o.get("data", {}) for o in shown)
    drawn = [c for c in cells if c.cell_type == "code" and "from explore" in c.source]
    assert drawn and all("nbgrader" not in c.metadata for c in drawn)
