"""The explorers as ipywidgets: controls on top of the plain functions in this package.

Each explorer is a ``VBox`` whose plain-text form says what it is, which is what a reader sees
where widgets cannot run (a static page, a terminal). It needs no live front end to be built
or updated: changing a control's ``value`` from Python redraws it too.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from matplotlib.figure import Figure

from explore.lr import EXAMPLES, draw_runs, run_lr
from explore.shapes import trace_net
from explore.text import say

DPI = 80  # the figure's pixels are shown one to one (its width in inches times this)


class Explorer(widgets.VBox):
    """A VBox with a short plain-text description instead of the repr of all its children."""

    def __init__(self, children: list[widgets.Widget], description: str, **parts: object):
        super().__init__(children)
        self.description_text = description
        for name, part in parts.items():
            setattr(self, name, part)

    def __repr__(self) -> str:
        return self.description_text


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (no pyplot, so nothing is left open and no backend is needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def shape_explorer() -> Explorer:
    """Sliders for the conv and pool settings, and the shapes of the course's network under them."""
    style = {"description_width": "8em"}
    controls = {
        "size": widgets.IntSlider(32, min=4, max=64, description=say("input size", "입력 크기"), style=style),
        "kernel_size": widgets.IntSlider(3, min=1, max=7, description=say("conv kernel", "합성곱 커널"), style=style),
        "padding": widgets.IntSlider(0, min=0, max=3, description=say("conv padding", "합성곱 패딩"), style=style),
        "stride": widgets.IntSlider(1, min=1, max=3, description=say("conv stride", "합성곱 스트라이드"), style=style),
        "pool_size": widgets.IntSlider(2, min=1, max=4, description=say("pool kernel", "풀링 커널"), style=style),
        "pool_stride": widgets.IntSlider(2, min=1, max=4, description=say("pool stride", "풀링 스트라이드"), style=style),
        "ceil_mode": widgets.Checkbox(False, description="ceil_mode", style=style),
    }
    table = widgets.HTML()

    def update(_change: object = None) -> None:
        table.value = trace_net(**{name: control.value for name, control in controls.items()}).html()

    for control in controls.values():
        control.observe(update, "value")
    update()
    items = list(controls.values())
    columns = widgets.HBox([widgets.VBox(items[:4]), widgets.VBox(items[4:])])
    description = say("Dimension explorer: input size, convolution and pooling sliders (a widget: open it in JupyterLab)",
                      "차원 탐색기: 입력 크기, 합성곱, 풀링 슬라이더 (위젯: JupyterLab에서 열어 보세요)")
    return Explorer([columns, table], description, controls=controls, table=table)


def lr_explorer() -> Explorer:
    """A log-scale learning-rate slider; each move re-trains for a few steps and redraws the loss curve."""
    slider = widgets.FloatLogSlider(0.01, base=10, min=-4, max=0.5, step=0.1, readout_format=".3g",
                                    description=say("learning rate", "학습률"), continuous_update=False,
                                    style={"description_width": "8em"}, layout={"width": "32em"})
    plot = widgets.Image(format="png", layout={"width": f"{7 * DPI}px"})
    verdict = widgets.HTML()
    examples = [run_lr(lr) for lr in EXAMPLES.values()]

    def update(_change: object = None) -> None:
        run = run_lr(slider.value)
        plot.value = png(draw_runs([*examples, run], highlight=run))
        verdict.value = f"<p class='lr-verdict'><b>{run.describe()}</b></p>"

    slider.observe(update, "value")
    update()
    description = say("Learning-rate explorer: a log-scale slider and the loss curve (a widget: open it in JupyterLab)",
                      "학습률 탐색기: 로그 눈금 슬라이더와 손실 곡선 (위젯: JupyterLab에서 열어 보세요)")
    return Explorer([slider, verdict, plot], description, slider=slider, plot=plot, verdict=verdict)
