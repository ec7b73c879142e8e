"""Draw docs/distillation_heightmap.png: validation measures per epoch of the distillation rows
(read from their run folders' metrics.csv, written by
`grasp-seg ablation --config config/distillation_heightmap.yaml`).

    python docs/make_distillation_figure.py
"""

import csv
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "distillation_heightmap"
ROWS = {"r50_teacher": "R50 teacher", "r18_distilled": "R18 distilled",
        "r18_labels": "R18 labels alone"}
MEASURES = {"val_top1_accuracy": "validation top-1", "val_direction_pairs":
            "validation: bin pairs ordered right", "val_loss": "validation loss"}


def main() -> None:
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(13, 3.6))
    for row, label in ROWS.items():
        with open(RUNS / row / "metrics.csv") as f:
            epochs = list(csv.DictReader(f))
        x = [int(e["epoch"]) for e in epochs]
        for ax, key in zip(axes, MEASURES):
            ax.plot(x, [float(e[key]) for e in epochs], marker="o", label=label)
    for ax, title in zip(axes, MEASURES.values()):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("PSPNets on height maps, 6 epochs each from scratch (same data and optimiser)")
    fig.tight_layout()
    out = ROOT / "docs" / "distillation_heightmap.png"
    fig.savefig(out, dpi=90)
    logging.getLogger("make_distillation_figure").info("wrote %s", out)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
