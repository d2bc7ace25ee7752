"""Draw the book's method diagrams (one per chapter) into ``book/figures/`` as SVG.

    python book/diagrams.py            (then commit book/figures/*.svg)

Each diagram shows what flows through a method in one training step: which images, which
network (student, teacher, EMA), which target, which loss. Boxes are data or networks, arrows
what is computed; dashed arrows carry no gradient. Drawn with matplotlib so that a reader can
change a diagram with the same tools as the book's figures.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
COLORS = {"data": "#dbeafe", "net": "#fde68a", "target": "#dcfce7", "loss": "#fecaca", "bank": "#e9d5ff"}
plt.rcParams.update({"svg.fonttype": "path", "font.size": 10})


class Diagram:
    """A canvas of boxes and arrows in data coordinates (x 0-10, y 0-``height``)."""

    def __init__(self, title: str, height: float = 4.0) -> None:
        self.fig, self.ax = plt.subplots(figsize=(8, 0.8 * height))
        self.ax.set(xlim=(0, 10), ylim=(0, height), title=title)
        self.ax.axis("off")
        self.boxes: dict[str, tuple[float, float, float, float]] = {}

    def box(self, name: str, x: float, y: float, text: str, kind: str, w: float = 1.7, h: float = 0.7) -> None:
        self.ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                         facecolor=COLORS[kind], edgecolor="#334155"))
        self.ax.text(x, y, text, ha="center", va="center", fontsize=9)
        self.boxes[name] = (x, y, w, h)

    def arrow(self, a: str, b: str, text: str = "", dashed: bool = False, bend: float = 0.0) -> None:
        (xa, ya, wa, ha), (xb, yb, wb, hb) = self.boxes[a], self.boxes[b]
        start = (xa + wa / 2, ya) if abs(xb - xa) > abs(yb - ya) else (xa, ya - ha / 2 if yb < ya else ya + ha / 2)
        end = (xb - wb / 2, yb) if abs(xb - xa) > abs(yb - ya) else (xb, yb + hb / 2 if yb < ya else yb - hb / 2)
        if xb < xa and abs(xb - xa) > abs(yb - ya):
            start, end = (xa - wa / 2, ya), (xb + wb / 2, yb)
        self.ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#334155",
                                          linestyle="--" if dashed else "-", connectionstyle=f"arc3,rad={bend}"))
        if text:  # beside a vertical arrow, above a horizontal one
            vertical = abs(end[0] - start[0]) < abs(end[1] - start[1])
            x, y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            self.ax.text(x + 0.12 if vertical else x, y if vertical else y + 0.12, text, fontsize=8, color="#334155",
                         ha="left" if vertical else "center", va="center" if vertical else "bottom")

    def save(self, name: str, legend: str = "dashed: no gradient") -> Path:
        self.ax.text(10, 0.05, legend, ha="right", fontsize=7, color="#64748b")
        OUT.mkdir(exist_ok=True)
        path = OUT / f"{name}.svg"
        self.fig.savefig(path, bbox_inches="tight", metadata={"Date": None})
        plt.close(self.fig)
        return path


def setting() -> Path:
    d = Diagram("The semi-supervised setting: one split per seed, a floor and a ceiling", 4.0)
    d.box("train", 1.2, 2.0, "training images", "data", h=1.2)
    d.box("lab", 3.8, 3.3, "labeled\n10 per class", "data")
    d.box("val", 3.8, 2.0, "validation\n50 per class", "data")
    d.box("unl", 3.8, 0.7, "unlabeled\nthe rest", "data")
    d.box("floor", 6.6, 3.3, "floor: labels only", "net", w=2.2)
    d.box("method", 6.6, 0.7, "a method: labels\n+ unlabeled", "net", w=2.2)
    d.box("choose", 9.0, 2.0, "choices made\nhere, not on test", "target", w=1.8)
    for b in ("lab", "val", "unl"):
        d.arrow("train", b)
    d.arrow("lab", "floor")
    d.arrow("unl", "method")
    d.arrow("lab", "method", bend=-0.2)
    d.arrow("val", "choose")
    return d.save("setting", legend="the ceiling trains on every label; the test set scores all of them once")


def pseudo_label() -> Path:
    d = Diagram("Pseudo-labeling: the model labels the images it is confident about", 3.4)
    d.box("x", 1.0, 2.6, "labeled x, y", "data")
    d.box("u", 1.0, 0.8, "unlabeled u", "data")
    d.box("f", 3.6, 1.7, "network f", "net")
    d.box("p", 6.0, 0.8, "argmax f(u)\nif max >= tau", "target", w=1.9)
    d.box("lx", 8.6, 2.6, "CE(f(x), y)", "loss")
    d.box("lu", 8.6, 0.8, "alpha(t) CE(f(u),\npseudo-label)", "loss", w=2.0)
    d.arrow("x", "f")
    d.arrow("u", "f")
    d.arrow("f", "lx")
    d.arrow("f", "p", dashed=True)
    d.arrow("p", "lu")
    return d.save("pseudo_label")


def pi_model() -> Path:
    d = Diagram("The Pi-model: two random views should get the same prediction", 3.4)
    d.box("u", 1.0, 1.7, "image", "data")
    d.box("v1", 3.3, 2.6, "random view 1", "data")
    d.box("v2", 3.3, 0.8, "random view 2", "data")
    d.box("f1", 5.6, 2.6, "network f", "net")
    d.box("f2", 5.6, 0.8, "network f", "net")
    d.box("l", 8.4, 1.7, "w(t) |f(v1) - f(v2)|^2", "loss", w=2.3)
    d.arrow("u", "v1")
    d.arrow("u", "v2")
    d.arrow("v1", "f1")
    d.arrow("v2", "f2")
    d.arrow("f1", "l")
    d.arrow("f2", "l", dashed=True)
    return d.save("pi_model", legend="dashed: no gradient; w(t) ramps up; labeled images also get CE")


def mean_teacher() -> Path:
    d = Diagram("Mean Teacher: the target comes from an average of the student's weights", 3.6)
    d.box("v1", 1.2, 2.7, "view 1", "data")
    d.box("v2", 1.2, 0.9, "view 2", "data")
    d.box("s", 4.0, 2.7, "student theta", "net")
    d.box("t", 4.0, 0.9, "teacher theta'", "net")
    d.box("l", 8.6, 1.8, "w(t) |student -\nteacher|^2", "loss", w=2.0)
    d.arrow("v1", "s")
    d.arrow("v2", "t")
    d.arrow("s", "l")
    d.arrow("t", "l", dashed=True)
    d.arrow("s", "t", "EMA after each step:\ntheta' <- a theta' + (1 - a) theta", dashed=True)
    return d.save("mean_teacher")


def mixmatch() -> Path:
    d = Diagram("MixMatch: guess over K views, sharpen, then MixUp everything", 3.8)
    d.box("u", 0.9, 1.0, "unlabeled u", "data")
    d.box("k", 2.9, 1.0, "K weak views", "data")
    d.box("g", 5.0, 1.0, "mean of f\n(the guess)", "target")
    d.box("sh", 7.0, 1.0, "sharpen\n(temperature T)", "target")
    d.box("x", 0.9, 3.0, "labeled x, y", "data")
    d.box("mix", 5.0, 3.0, "MixUp of all\n(lambda' >= 0.5)", "data", w=1.9)
    d.box("l", 8.7, 3.0, "CE (labeled)\n+ lambda_U L2", "loss", w=1.8)
    d.arrow("u", "k")
    d.arrow("k", "g", dashed=True)
    d.arrow("g", "sh", dashed=True)
    d.arrow("sh", "mix", "targets", dashed=True)
    d.arrow("x", "mix")
    d.arrow("mix", "l")
    return d.save("mixmatch")


def fixmatch() -> Path:
    d = Diagram("FixMatch: the weak view labels, the strong view learns", 3.4)
    d.box("u", 1.0, 1.7, "unlabeled u", "data")
    d.box("w", 3.3, 2.6, "weak view\n(flip, shift)", "data")
    d.box("s", 3.3, 0.8, "strong view\n(RandAugment,\nCutout)", "data", h=0.9)
    d.box("pw", 5.9, 2.6, "argmax f(weak)\nif max >= tau", "target", w=1.9)
    d.box("ps", 5.9, 0.8, "f(strong)", "net")
    d.box("l", 8.6, 1.7, "CE(f(strong), pseudo)\n/ (mu B)", "loss", w=2.4)
    d.arrow("u", "w")
    d.arrow("u", "s")
    d.arrow("w", "pw", dashed=True)
    d.arrow("s", "ps")
    d.arrow("pw", "l", dashed=True)
    d.arrow("ps", "l")
    return d.save("fixmatch", legend="dashed: no gradient; labeled images get CE on weak views")


def simmatch() -> Path:
    d = Diagram("SimMatch: FixMatch plus similarity to a bank of labeled embeddings", 4.2)
    d.box("w", 0.9, 3.3, "weak view", "data", w=1.5)
    d.box("t", 3.1, 3.3, "EMA teacher:\nclass, embedding", "net", w=1.9)
    d.box("bank", 5.6, 3.3, "similarity to the\nlabeled bank", "bank", w=1.9)
    d.box("cal", 8.4, 3.3, "unfold, aggregate:\ncalibrated target", "target", w=2.1)
    d.box("s", 0.9, 0.9, "strong view", "data", w=1.5)
    d.box("st", 3.1, 0.9, "student", "net")
    d.box("l", 8.4, 0.9, "CE (class) +\nCE (instance)", "loss", w=2.1)
    d.arrow("w", "t", dashed=True)
    d.arrow("t", "bank", dashed=True)
    d.arrow("bank", "cal", dashed=True)
    d.arrow("s", "st")
    d.arrow("st", "l")
    d.arrow("cal", "l", dashed=True)
    return d.save("simmatch", legend="dashed: no gradient; a = 1 turns the label propagation off")


def label_budgets() -> Path:
    d = Diagram("Reading the grid: pair by labeled set, apply the tie rule, keep the top group", 3.6)
    d.box("runs", 1.0, 1.8, "runs: method,\nbudget, seed", "data", w=1.9)
    d.box("pairs", 3.9, 1.8, "two methods:\ndifferences by seed", "data", w=2.3)
    d.box("rule", 6.5, 1.8, "tie rule:\n|mean| > 2 sd ?", "target", w=1.7)
    d.box("group", 8.9, 2.8, "top group: the\nbest and its ties", "net", w=2.0)
    d.box("pick", 8.9, 0.8, "pick its cheapest\n(seconds a run)", "loss", w=2.0)
    d.arrow("runs", "pairs", "paired")
    d.arrow("pairs", "rule")
    d.arrow("rule", "group", bend=0.15)
    d.arrow("group", "pick")
    return d.save("label_budgets", legend="a tie says the seeds cannot rank two methods, not that they are equal")


DIAGRAMS = (setting, pseudo_label, pi_model, mean_teacher, mixmatch, fixmatch, simmatch, label_budgets)

if __name__ == "__main__":
    for draw in DIAGRAMS:
        print(draw())
