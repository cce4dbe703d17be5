"""Measure how the SIGNS photos look, and how `camera_shift` moves them (`make photo-stats`).

For every photo: the background colour (median of the outermost 3-pixel border) and its red/blue ratio, the
brightness, the hand's area (pixels much redder than the background) and extent (their bounding box: its side as a
share of the photo's side and its centre), the sharpness (mean absolute Laplacian) and the corner-to-centre
brightness ratio (vignetting). Prints the median and 5th-95th percentiles over the training photos, and the same
over their camera-shifted copies, so the shift can be judged against the spread the training photos already have.

Usage: .venv/bin/python -m tools.photo_statistics
"""
import numpy as np

import signs.data
from signs.camera_shift import camera_shift

BORDER = 3
# A pixel belongs to the hand when its red/blue ratio is this many times the background's: skin is red-dominant,
# the SIGNS walls are grey, and a ratio to the background's own ratio still works under a warm white balance.
SKIN_REDNESS = 1.25
# A row or column belongs to the hand's bounding box when this share of its pixels is skin (ignores specks).
HAND_LINE_SHARE = 0.05


def photo_statistics(X):
    """Per-photo statistics of float photos (m, size, size, 3) in [0, 1]; dict name -> array (m,)."""
    size = X.shape[1]
    border = np.concatenate([X[:, :BORDER].reshape(len(X), -1, 3), X[:, -BORDER:].reshape(len(X), -1, 3),
                             X[:, :, :BORDER].reshape(len(X), -1, 3), X[:, :, -BORDER:].reshape(len(X), -1, 3)],
                            axis=1)
    background = np.median(border, axis=1)
    def red_blue(pixels):
        return (pixels[..., 0] + 0.02) / (pixels[..., 2] + 0.02)

    hand = red_blue(X) / red_blue(background)[:, None, None] > SKIN_REDNESS
    rows, columns = hand.mean(axis=2) > HAND_LINE_SHARE, hand.mean(axis=1) > HAND_LINE_SHARE
    extent, centre_x, centre_y = [], [], []
    for row_mask, column_mask in zip(rows, columns):
        ys, xs = np.flatnonzero(row_mask), np.flatnonzero(column_mask)
        if len(ys) == 0:
            ys = xs = np.array([0, size - 1])
        extent.append(max(ys[-1] - ys[0] + 1, xs[-1] - xs[0] + 1) / size)
        centre_y.append((ys[0] + ys[-1]) / 2 / (size - 1))
        centre_x.append((xs[0] + xs[-1]) / 2 / (size - 1))
    grey = X.mean(axis=3)
    laplacian = (4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1]
                 - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:])
    quarter = size // 4
    corners = np.concatenate([grey[:, :quarter, :quarter], grey[:, :quarter, -quarter:],
                              grey[:, -quarter:, :quarter], grey[:, -quarter:, -quarter:]], axis=1)
    return {
        "background brightness": background.mean(axis=1),
        "background red/blue": background[:, 0] / np.maximum(background[:, 2], 1e-3),
        "photo red/blue": X[..., 0].mean(axis=(1, 2)) / np.maximum(X[..., 2].mean(axis=(1, 2)), 1e-3),
        "photo brightness": grey.mean(axis=(1, 2)),
        "hand pixels (share of photo)": hand.mean(axis=(1, 2)),
        "hand extent (share of side)": np.array(extent),
        "hand centre x (0 left, 1 right)": np.array(centre_x),
        "hand centre y (0 top, 1 bottom)": np.array(centre_y),
        "sharpness (mean |Laplacian|)": np.abs(laplacian).mean(axis=(1, 2)),
        "corner / whole brightness": corners.mean(axis=(1, 2)) / np.maximum(grey.mean(axis=(1, 2)), 1e-3),
    }


def format_table(columns):
    """Median [5th, 95th percentile] of each statistic, one column per set of photos."""
    names = list(next(iter(columns.values())))
    width = max(len(name) for name in names)
    lines = [f"{'statistic':<{width}}  " + "  ".join(f"{title:<24}" for title in columns)]
    for name in names:
        cells = []
        for statistics in columns.values():
            low, median, high = np.percentile(statistics[name], [5, 50, 95])
            cells.append(f"{median:6.3f} [{low:6.3f}, {high:6.3f}]")
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell:<24}" for cell in cells))
    return "\n".join(lines)


def main():
    X_train_orig, _, _, _, _ = signs.data.load_dataset()
    X_train = signs.data.scale_images(X_train_orig)
    print(f"{len(X_train)} SIGNS training photos: median [5th, 95th percentile]")
    print(format_table({"SIGNS training photos": photo_statistics(X_train),
                        "camera_shift of them": photo_statistics(camera_shift(X_train))}))


if __name__ == "__main__":
    main()
