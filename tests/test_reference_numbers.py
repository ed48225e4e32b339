"""Are the numbers the course prints right? Checked against PyTorch itself, not against
the formulas the course teaches."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from solutions import network, shapes


def test_does_the_seed_net_hold_81194_values_in_10_tensors():
    net = network.Net()
    assert len(list(net.parameters())) == 10
    assert network.count_parameters(net) == 81_194


def test_are_the_parameter_shapes_those_of_the_seed():
    assert network.parameter_shapes(network.Net()) == {
        "conv1.weight": (6, 1, 3, 3), "conv1.bias": (6,), "conv2.weight": (16, 6, 3, 3), "conv2.bias": (16,),
        "fc1.weight": (120, 576), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
        "fc3.weight": (10, 84), "fc3.bias": (10,),
    }


def test_is_the_shape_trace_32_30_15_13_6_576():
    x = torch.zeros(1, 1, 32, 32)
    net = network.Net()
    a = net.conv1(x)
    b = F.max_pool2d(a, 2)
    c = net.conv2(b)
    d = F.max_pool2d(c, 2)
    assert [a.shape[-1], b.shape[-1], c.shape[-1], d.shape[-1], torch.flatten(d, 1).shape[1]] == [30, 15, 13, 6, 576]
    assert shapes.trace_shapes(net, (1, 1, 32, 32)) == [
        ("conv1", (1, 6, 30, 30)), ("conv2", (1, 16, 13, 13)), ("fc1", (1, 120)), ("fc2", (1, 84)), ("fc3", (1, 10))]


def test_does_a_28x28_input_give_400_flat_features():
    net = shapes.Net28()
    assert net.fc1.in_features == 400
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_does_pooling_turn_13_into_6_and_7_with_ceil_mode():
    assert shapes.pool2d_output_size(13, 2) == 6 == F.max_pool2d(torch.zeros(1, 13, 13), 2).shape[-1]
    assert shapes.pool2d_output_size(13, 2, ceil_mode=True) == 7


CONV_CASES = [
    (n, k, s, p, d)
    for n, k, s, p, d in itertools.product([1, 5, 8, 13, 32], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2])
    if n + 2 * p >= d * (k - 1) + 1
]


@pytest.mark.parametrize("n,k,s,p,d", CONV_CASES)
def test_does_the_conv_formula_match_pytorch(n, k, s, p, d):
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert shapes.conv2d_output_size(n, k, s, p, d) == out.shape[-1]


@pytest.mark.parametrize("n,k,s,p,ceil", [c for c in itertools.product([1, 2, 5, 6, 7, 13, 30], [2, 3, 4], [None, 1, 2, 3],
                                                                       [0, 1, 2], [False, True])
                                          if c[3] <= c[1] // 2 and c[0] + 2 * c[3] >= c[1]])
def test_does_the_pool_formula_match_pytorch(n, k, s, p, ceil):
    out = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=ceil)
    assert shapes.pool2d_output_size(n, k, s, p, ceil) == out.shape[-1]
