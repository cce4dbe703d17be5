"""Draw the project's diagrams into `images/`.

Usage:
    python -m tools.draw_figures [--out DIR]

Writes four PNG files (default folder: `images/` beside this script's parent):
    plain_vs_residual.png    a plain two-layer block next to the same block with a skip connection
    identity_block.png       the identity block: three components on the main path, identity shortcut
    convolutional_block.png  the convolutional block: stride s in the first 1x1 conv and in the shortcut conv
    resnet50_stages.png      ResNet50 stage by stage, with tensor shapes for a 64x64x3 input

The output is byte-for-byte reproducible on the versions pinned in requirements.txt: every figure has a fixed
size and dpi, is drawn by the Agg backend with matplotlib's default style and bundled DejaVu Sans font, and is
saved without PNG metadata (no software name, no timestamp).

Drawing coordinates are inches: each figure has one axes covering the whole canvas, with x from 0 to the width
and y from 0 to the height, so box sizes and font sizes can be reasoned about together.
"""

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch, Patch, Rectangle  # noqa: E402

from checking import RESNET50_STAGES  # noqa: E402
from signs.constants import PROJECT_DIR  # noqa: E402

DEFAULT_OUT_DIR = PROJECT_DIR / "images"
# Height and width of the stem's output for a 64x64x3 input, where stage 2 starts.
STEM_OUTPUT_SIDE = 15
DPI = 110

# One fill colour per layer kind, shared by every figure and named in each legend.
COLOURS = {
    "input": "#ffffff",
    "conv": "#9ecae1",
    "batchnorm": "#fdd49e",
    "relu": "#c7e9c0",
    "add": "#e0e0e0",
    "reshape": "#dadaeb",
    "dense": "#fcbba1",
    "conv_block": "#6baed6",
    "identity_block": "#deebf7",
}
LEGEND_NAMES = {
    "conv": "Conv2D",
    "batchnorm": "BatchNormalization",
    "relu": "ReLU",
    "add": "Add",
    "reshape": "padding / pooling / flatten",
    "dense": "Dense (softmax)",
    "conv_block": "convolutional block",
    "identity_block": "identity block(s)",
}
EDGE = "#404040"
ARROW = "#303030"
SHORTCUT = "#c0392b"
NOTE = "#555555"
STRIDE_EDGE_WIDTH = 2.6

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "mathtext.fontset": "dejavusans",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}


@dataclass(frozen=True)
class Box:
    """Where a drawn shape sits, in inches: its centre and half sizes."""

    x: float
    y: float
    half_width: float
    half_height: float

    @property
    def left(self):
        return (self.x - self.half_width, self.y)

    @property
    def right(self):
        return (self.x + self.half_width, self.y)

    @property
    def top(self):
        return (self.x, self.y + self.half_height)

    @property
    def bottom(self):
        return (self.x, self.y - self.half_height)


def new_canvas(width, height):
    """Create a figure of `width` x `height` inches whose data coordinates are inches.

    Returns:
        (figure, axes) with the axes covering the whole figure and hidden.
    """
    figure = plt.figure(figsize=(width, height), dpi=DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_axis_off()
    return figure, axes


def draw_layer(axes, x, y, kind, label, width=0.8, height=0.9, edge_width=1.0, fontsize=9):
    """Draw one layer as a rounded box filled with its kind's colour, centred on (x, y).

    Returns:
        the `Box` it occupies.
    """
    axes.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0,rounding_size=0.05",
            facecolor=COLOURS[kind],
            edgecolor=EDGE,
            linewidth=edge_width,
            zorder=2,
        )
    )
    axes.text(x, y, label, ha="center", va="center", fontsize=fontsize, linespacing=1.25, zorder=3)
    return Box(x, y, width / 2, height / 2)


def draw_component(axes, x_left, y, layers, width=0.8, height=0.9):
    """Draw layers side by side with touching edges, the way one component (conv, norm, activation) reads.

    Args:
        layers: list of (kind, label, edge_width) tuples, drawn left to right starting at `x_left`.

    Returns:
        the list of `Box`es, one per layer.
    """
    boxes = []
    for index, (kind, label, edge_width) in enumerate(layers):
        centre_x = x_left + width * (index + 0.5)
        boxes.append(draw_layer(axes, centre_x, y, kind, label, width, height, edge_width))
    return boxes


def draw_add(axes, x, y, radius=0.2):
    """Draw the element-wise addition node, a circle with a plus sign, centred on (x, y).

    Returns:
        the `Box` it occupies.
    """
    axes.add_patch(Circle((x, y), radius, facecolor=COLOURS["add"], edgecolor=EDGE, linewidth=1.0, zorder=2))
    axes.text(x, y, "+", ha="center", va="center", fontsize=14, fontweight="bold", zorder=3)
    return Box(x, y, radius, radius)


def draw_arrow(axes, start, end, colour=ARROW, width=1.3):
    """Draw a straight arrow from `start` to `end` (both (x, y) in inches)."""
    axes.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "linewidth": width,
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 12,
        },
        zorder=1,
    )


def draw_path(axes, points, colour=ARROW, width=1.3):
    """Draw a polyline through `points` with an arrow head at the last point (for paths with corners)."""
    xs = [point[0] for point in points[:-1]]
    ys = [point[1] for point in points[:-1]]
    axes.plot(xs, ys, color=colour, linewidth=width, solid_capstyle="butt", solid_joinstyle="miter", zorder=1)
    draw_arrow(axes, points[-2], points[-1], colour, width)


def draw_shape_label(axes, x, y, text, va="bottom"):
    """Write a tensor shape (or other small note) centred at (x, y)."""
    axes.text(x, y, text, ha="center", va=va, fontsize=8, color=NOTE, style="italic")


def draw_legend(axes, kinds, y, extra_handles=()):
    """Draw one row of legend entries (a colour swatch per layer kind) centred horizontally at height `y`."""
    handles = [
        Patch(facecolor=COLOURS[kind], edgecolor=EDGE, linewidth=1.0, label=LEGEND_NAMES[kind]) for kind in kinds
    ]
    handles.extend(extra_handles)
    axes.legend(
        handles=handles,
        loc="center",
        bbox_to_anchor=(axes.get_xlim()[1] / 2, y),
        bbox_transform=axes.transData,
        ncol=len(handles),
        frameon=False,
        fontsize=8.5,
        handlelength=1.6,
        columnspacing=1.4,
    )


def save(figure, path):
    """Save `figure` as a PNG without metadata, so the bytes depend only on the drawing, then close it."""
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)


def draw_bracket(axes, x_left, x_right, y, label):
    """Draw a square bracket over [x_left, x_right] at height `y` with `label` above its middle."""
    axes.plot([x_left, x_left, x_right, x_right], [y - 0.08, y, y, y - 0.08], color=NOTE, linewidth=1.0)
    axes.text((x_left + x_right) / 2, y + 0.05, label, ha="center", va="bottom", fontsize=10)


def draw_two_layer_row(axes, y, with_skip):
    """Draw conv-BN-ReLU then conv-BN, an optional skip connection, and the final ReLU on one row.

    Both rows use the same x positions, so the plain and residual blocks line up.

    Returns:
        the x coordinate where the row's output arrow ends.
    """
    input_box = draw_layer(axes, 0.55, y, "input", "x", width=0.5, height=0.5)
    first = draw_component(
        axes, 1.4, y, [("conv", "Conv2D", 1.0), ("batchnorm", "Batch\nNorm", 1.0), ("relu", "ReLU", 1.0)]
    )
    second = draw_component(
        axes, first[-1].right[0] + 0.45, y, [("conv", "Conv2D", 1.0), ("batchnorm", "Batch\nNorm", 1.0)]
    )
    draw_arrow(axes, input_box.right, first[0].left)
    draw_arrow(axes, first[-1].right, second[0].left)
    draw_bracket(axes, first[0].left[0], second[-1].right[0], y + 0.6, r"$F(x)$")
    add_x = second[-1].right[0] + 0.55
    relu = draw_layer(axes, add_x + 0.8, y, "relu", "ReLU")
    if with_skip:
        add = draw_add(axes, add_x, y)
        draw_arrow(axes, second[-1].right, add.left)
        draw_arrow(axes, add.right, relu.left)
        branch_x = input_box.right[0] + 0.18
        shortcut_y = y - 0.85
        draw_path(axes, [(branch_x, y), (branch_x, shortcut_y), (add.x, shortcut_y), add.bottom], SHORTCUT, 1.8)
        axes.plot([branch_x], [y], marker="o", markersize=4, color=SHORTCUT, zorder=3)
        draw_shape_label(axes, (branch_x + add.x) / 2, shortcut_y + 0.05, "shortcut: x skips the two conv layers")
    else:
        draw_arrow(axes, second[-1].right, relu.left)
    output_x = relu.right[0] + 0.45
    draw_arrow(axes, relu.right, (output_x, y))
    return output_x


def shortcut_handle():
    """Legend entry for the red shortcut path."""
    return Line2D([], [], color=SHORTCUT, linewidth=1.8, label="shortcut")


def draw_plain_vs_residual(path):
    """Draw a plain two-layer block above the same block with a skip connection, and save it to `path`."""
    figure, axes = new_canvas(9.7, 4.9)
    plain_y, residual_y = 3.55, 1.75
    axes.text(0.25, 4.6, "Plain block", fontsize=11, fontweight="bold", va="center")
    output_x = draw_two_layer_row(axes, plain_y, with_skip=False)
    axes.text(output_x + 0.08, plain_y, r"$\mathrm{ReLU}(F(x))$", fontsize=10, va="center")

    axes.text(0.25, 2.8, "Residual block", fontsize=11, fontweight="bold", va="center")
    output_x = draw_two_layer_row(axes, residual_y, with_skip=True)
    axes.text(output_x + 0.08, residual_y, r"$\mathrm{ReLU}(F(x)+x)$", fontsize=10, va="center")

    draw_legend(axes, ["conv", "batchnorm", "relu", "add"], 0.3, [shortcut_handle()])
    save(figure, path)


def draw_block(axes, y, strided):
    """Draw the three-component main path, the shortcut and the final ReLU of a ResNet50 block.

    Args:
        y: height of the main path, in inches.
        strided: False for the identity block (the shortcut is x itself); True for the convolutional block
            (the first 1x1 conv and a shortcut conv + BatchNorm use stride s).

    Returns:
        the x coordinate where the block's output arrow ends.
    """
    stride_edge = STRIDE_EDGE_WIDTH if strided else 1.0
    first_label = "Conv2D\n1×1, F1\nstride s" if strided else "Conv2D\n1×1, F1\nvalid"
    input_label = "x\n(n_H, n_W, n_C)" if strided else "x\n(n_H, n_W, F3)"
    input_box = draw_layer(axes, 0.75, y, "input", input_label, width=1.05, height=0.7, fontsize=8.5)

    component_gap = 0.5
    first = draw_component(
        axes,
        input_box.right[0] + 0.75,
        y,
        [("conv", first_label, stride_edge), ("batchnorm", "Batch\nNorm", 1.0), ("relu", "ReLU", 1.0)],
    )
    second = draw_component(
        axes,
        first[-1].right[0] + component_gap,
        y,
        [("conv", "Conv2D\nf×f, F2\nsame", 1.0), ("batchnorm", "Batch\nNorm", 1.0), ("relu", "ReLU", 1.0)],
    )
    third = draw_component(
        axes,
        second[-1].right[0] + component_gap,
        y,
        [("conv", "Conv2D\n1×1, F3\nvalid", 1.0), ("batchnorm", "Batch\nNorm", 1.0)],
    )
    for start, end in [(input_box.right, first[0].left), (first[-1].right, second[0].left)]:
        draw_arrow(axes, start, end)
    draw_arrow(axes, second[-1].right, third[0].left)
    for number, component in enumerate([first, second, third], start=1):
        centre = (component[0].x + component[-1].x) / 2
        axes.text(centre, y + 0.62, f"component {number}", ha="center", va="bottom", fontsize=9, fontweight="bold")

    add = draw_add(axes, third[-1].right[0] + 0.6, y)
    draw_arrow(axes, third[-1].right, add.left)
    draw_shape_label(axes, third[-1].x, y - 0.52, "no ReLU before the add", va="top")
    relu = draw_layer(axes, add.right[0] + 0.75, y, "relu", "ReLU")
    draw_arrow(axes, add.right, relu.left)
    output_x = relu.right[0] + 0.5
    draw_arrow(axes, relu.right, (output_x, y))

    branch_x = input_box.right[0] + 0.3
    shortcut_y = y - (1.35 if strided else 1.0)
    axes.plot([branch_x], [y], marker="o", markersize=4, color=SHORTCUT, zorder=3)
    if strided:
        shortcut_conv = draw_layer(axes, third[0].x - 0.4, shortcut_y, "conv", "Conv2D\n1×1, F3\nstride s", 0.8, 0.9,
                                   STRIDE_EDGE_WIDTH)
        shortcut_norm = draw_layer(axes, shortcut_conv.x + 0.8, shortcut_y, "batchnorm", "Batch\nNorm")
        draw_path(axes, [(branch_x, y), (branch_x, shortcut_y), shortcut_conv.left], SHORTCUT, 1.8)
        draw_path(axes, [shortcut_norm.right, (add.x, shortcut_y), add.bottom], SHORTCUT, 1.8)
        draw_shape_label(axes, (branch_x + shortcut_conv.left[0]) / 2, shortcut_y + 0.05,
                         "shortcut: 1×1 conv + BatchNorm\nmatch the main path's shape")
    else:
        draw_path(axes, [(branch_x, y), (branch_x, shortcut_y), (add.x, shortcut_y), add.bottom], SHORTCUT, 1.8)
        draw_shape_label(axes, (branch_x + add.x) / 2, shortcut_y + 0.05, "shortcut: x is added unchanged")
    return output_x


def draw_identity_block(path):
    """Draw the identity block (input and output shapes equal) and save it to `path`."""
    figure, axes = new_canvas(13.0, 3.3)
    y = 2.0
    axes.text(0.25, 3.05, "Identity block", fontsize=11, fontweight="bold", va="center")
    axes.text(2.05, 3.05, "input and output have the same shape, so the shortcut needs no layers",
              fontsize=9, va="center")
    output_x = draw_block(axes, y, strided=False)
    axes.text(output_x + 0.08, y, "(n_H, n_W, F3)", fontsize=8.5, va="center")
    draw_legend(axes, ["conv", "batchnorm", "relu", "add"], 0.3, [shortcut_handle()])
    save(figure, path)


def draw_convolutional_block(path):
    """Draw the convolutional block (stride s, shortcut conv + BatchNorm) and save it to `path`."""
    figure, axes = new_canvas(13.0, 3.9)
    y = 2.55
    axes.text(0.25, 3.65, "Convolutional block", fontsize=11, fontweight="bold", va="center")
    axes.text(2.65, 3.65, "stride s is applied in two places only: the first 1×1 conv and the shortcut conv",
              fontsize=9, va="center")
    output_x = draw_block(axes, y, strided=True)
    axes.text(output_x + 0.08, y, "(n_H', n_W', F3)", fontsize=8.5, va="center")
    axes.text(output_x + 0.08, y - 0.3, "n_H' = ⌈n_H / s⌉", fontsize=8, va="center", color=NOTE)
    stride_handle = Patch(facecolor="#ffffff", edgecolor=EDGE, linewidth=STRIDE_EDGE_WIDTH, label="uses stride s")
    draw_legend(axes, ["conv", "batchnorm", "relu", "add"], 0.3, [shortcut_handle(), stride_handle])
    save(figure, path)


def draw_frame(axes, x_left, y_bottom, width, height, title):
    """Draw a dashed grey frame that groups layers, with `title` centred near its top edge."""
    axes.add_patch(
        Rectangle((x_left, y_bottom), width, height, facecolor="#f7f7f7", edgecolor="#999999", linestyle="--",
                  linewidth=1.0, zorder=0)
    )
    axes.text(x_left + width / 2, y_bottom + height - 0.17, title, ha="center", va="center", fontsize=10,
              fontweight="bold")


def draw_stage(axes, x_left, y_centre, title, filters, stride, identity_count, output_shape):
    """Draw one ResNet50 stage: a frame holding its convolutional block, its identity blocks and output shape.

    Returns:
        (entry_point, exit_point): where the incoming arrow ends and the outgoing arrow starts.
    """
    width, height = 1.75, 2.4
    x_centre = x_left + width / 2
    draw_frame(axes, x_left, y_centre - height / 2, width, height, title)
    filter_text = ", ".join(str(count) for count in filters)
    conv_block = draw_layer(axes, x_centre, y_centre + 0.42, "conv_block",
                            f"conv block\n[{filter_text}]\ns = {stride}", width=1.45, height=0.78, fontsize=8.5)
    identity_blocks = draw_layer(axes, x_centre, y_centre - 0.5, "identity_block",
                                 f"identity block × {identity_count}\n[{filter_text}]", width=1.45, height=0.6,
                                 fontsize=8.5)
    draw_arrow(axes, conv_block.bottom, identity_blocks.top)
    draw_shape_label(axes, x_centre, y_centre - height / 2 + 0.15, f"output {output_shape}", va="center")
    return (conv_block.left[0], conv_block.y), (identity_blocks.right[0], identity_blocks.y)


def draw_resnet50_stages(path):
    """Draw ResNet50 as a stem, four stages and a classification head, with shapes for a 64x64x3 input."""
    figure, axes = new_canvas(10.6, 7.5)
    axes.text(0.25, 7.25, "ResNet50 on 64×64×3 images, 6 classes", fontsize=11, fontweight="bold", va="center")
    axes.text(0.25, 6.95, "[F1, F2, F3]: filters of each block's three components;  "
              "s: stride of the stage's convolutional block", fontsize=9, va="center")

    # Row 1: the input and the stem.
    stem_y = 5.85
    stem_layers = [
        ("input", "input\n64×64×3"),
        ("reshape", "ZeroPad\n(3, 3)"),
        ("conv", "Conv2D\n7×7, 64\nstride 2"),
        ("batchnorm", "Batch\nNorm"),
        ("relu", "ReLU"),
        ("reshape", "MaxPool\n3×3\nstride 2"),
    ]
    # Label of the arrow into box i: the shape that leaves box i - 1.
    stem_shapes = ["", "", "(70, 70, 3)", "(32, 32, 64)", "", ""]
    draw_frame(axes, 1.95, stem_y - 0.62, 8.4, 1.55, "Stage 1 (stem)")
    stem_boxes = [
        draw_layer(axes, 0.7 + index * 1.75, stem_y - 0.1, kind, label, width=0.95, height=0.85)
        for index, (kind, label) in enumerate(stem_layers)
    ]
    for index in range(1, len(stem_boxes)):
        start, end = stem_boxes[index - 1].right, stem_boxes[index].left
        draw_arrow(axes, start, end)
        draw_shape_label(axes, (start[0] + end[0]) / 2, start[1] + 0.06, stem_shapes[index])

    # Row 2: stages 2 to 5; the stem's output comes down into stage 2.
    stage_y = 3.4
    stage_specs, side = [], STEM_OUTPUT_SIDE
    for name, filters, stride, blocks in RESNET50_STAGES:
        side = math.ceil(side / stride)
        # One convolutional block, then identity blocks.
        stage_specs.append((name.capitalize(), tuple(filters), stride, blocks - 1, f"({side}, {side}, {filters[2]})"))
    last_stem = stem_boxes[-1]
    elbow_y = stem_y - 0.95
    previous_exit = None
    for index, (title, filters, stride, identity_count, shape) in enumerate(stage_specs):
        entry, exit_point = draw_stage(axes, 0.55 + index * 2.55, stage_y, title, filters, stride, identity_count,
                                       shape)
        if previous_exit is None:
            draw_path(axes, [last_stem.bottom, (last_stem.x, elbow_y), (0.3, elbow_y), (0.3, entry[1]), entry])
            draw_shape_label(axes, last_stem.x - 0.75, elbow_y + 0.05, "(15, 15, 64)")
        else:
            turn_x = previous_exit[0] + 0.4
            draw_path(axes, [previous_exit, (turn_x, previous_exit[1]), (turn_x, entry[1]), entry])
        previous_exit = exit_point

    # Row 3: the classification head.
    head_y = 1.05
    head_layers = [
        ("reshape", "AvgPool\n2×2"),
        ("reshape", "Flatten"),
        ("dense", "Dense 6\nsoftmax"),
    ]
    head_shapes = ["(1, 1, 2048)", "(2048,)", "(6,)"]
    head_boxes = [
        draw_layer(axes, 1.2 + index * 2.0, head_y, kind, label, width=0.95, height=0.75)
        for index, (kind, label) in enumerate(head_layers)
    ]
    turn_x = previous_exit[0] + 0.3
    elbow_y = stage_y - 1.5
    draw_path(axes, [previous_exit, (turn_x, previous_exit[1]), (turn_x, elbow_y), (0.3, elbow_y), (0.3, head_y),
                     head_boxes[0].left])
    for index in range(1, len(head_boxes)):
        start, end = head_boxes[index - 1].right, head_boxes[index].left
        draw_arrow(axes, start, end)
        draw_shape_label(axes, (start[0] + end[0]) / 2, head_y + 0.06, head_shapes[index - 1])
    output_x = head_boxes[-1].right[0] + 0.9
    draw_arrow(axes, head_boxes[-1].right, (output_x, head_y))
    draw_shape_label(axes, (head_boxes[-1].right[0] + output_x) / 2, head_y + 0.06, head_shapes[-1])
    axes.text(output_x + 0.08, head_y, "probability of\neach sign 0–5", fontsize=9, va="center")

    draw_legend(axes, ["conv", "batchnorm", "relu", "reshape", "dense", "conv_block", "identity_block"], 0.25)
    save(figure, path)


FIGURES = {
    "plain_vs_residual.png": draw_plain_vs_residual,
    "identity_block.png": draw_identity_block,
    "convolutional_block.png": draw_convolutional_block,
    "resnet50_stages.png": draw_resnet50_stages,
}


def draw_all(out_dir):
    """Draw every figure into `out_dir` (created if needed).

    Returns:
        the list of written paths, in the order of `FIGURES`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.style.context("default"), matplotlib.rc_context(STYLE):
        for name, draw in FIGURES.items():
            path = out_dir / name
            draw(path)
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="Redraw the project's diagrams.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="folder to write the PNG files into")
    args = parser.parse_args(argv)
    for path in draw_all(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
