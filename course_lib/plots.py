"""Plots that read histories (never a trainer), so they work on saved runs too, and result tables.

Every plot function takes ``ax=None`` (a new figure when missing) and returns the axes it drew on.
"""

from __future__ import annotations

from .training import statuses
from .training.history import History


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_curves(histories: dict[str, History], key: str = "valid_loss", ax=None, log_y: bool = False, **style):
    """One line per run of an epoch key (``"valid_loss"``, ``"train_accuracy"``, ...) against the epoch."""
    ax = _axes(ax)
    for name, history in histories.items():
        if key in history.epoch:
            ax.plot(history.epoch["epoch"], history.epoch[key], label=name, **style)
    ax.set(xlabel="epoch", ylabel=key.replace("_", " "), title=key.replace("_", " "))
    if log_y:
        ax.set_yscale("log")
    if histories:
        ax.legend()
    return ax


def plot_steps(histories: dict[str, History], key: str = "loss", ax=None, log_y: bool = True, smooth: int = 1):
    """A per-update key (``"loss"`` or ``"lr"``) against the update number; ``smooth`` averages a window."""
    ax = _axes(ax)
    for name, history in histories.items():
        values = history.step.get(key, [])
        if smooth > 1 and len(values) >= smooth:
            values = [sum(values[i - smooth + 1 : i + 1]) / smooth for i in range(smooth - 1, len(values))]
            steps = history.step["step"][smooth - 1 : smooth - 1 + len(values)]
        else:
            steps = history.step.get("step", [])[: len(values)]
        line = ax.plot(steps, values, label=name)[0]
        if history.status == statuses.DIVERGED and history.diverged_at_step is not None:
            ax.axvline(history.diverged_at_step, color=line.get_color(), linestyle=":", alpha=0.7)
    ax.set(xlabel="update (step)", ylabel=key, title=f"{key} per update")
    if log_y:
        ax.set_yscale("log")
    if histories:
        ax.legend()
    return ax


def plot_train_valid(history: History, metric: str = "loss", ax=None, title: str | None = None):
    """Training and validation ``metric`` of one run: the gap between them is the overfitting."""
    ax = _axes(ax)
    epochs = history.epoch["epoch"]
    for split, style in (("train", "-"), ("valid", "--")):
        key = f"{split}_{metric}"
        if key in history.epoch:
            ax.plot(epochs, history.epoch[key], style, label="training" if split == "train" else "validation")
    ax.set(xlabel="epoch", ylabel=metric, title=title or f"{metric}: training vs validation")
    ax.legend()
    return ax


def show_table(headers: list[str], rows: list[list]) -> str:
    """Show ``rows`` (lists of cells) under ``headers`` as a table in the notebook; return its markdown.

    Floats are shown with four significant digits; format them yourself (``f"{x:.1%}"``) for anything else.
    """
    if any(len(row) != len(headers) for row in rows):
        raise ValueError(
            f"every row needs {len(headers)} cells (one per header), got lengths {sorted({len(r) for r in rows})}"
        )
    cell = lambda value: f"{value:.4g}" if isinstance(value, float) else str(value)  # noqa: E731
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    text = "\n".join(lines)
    try:
        from IPython.display import Markdown, display
    except ImportError:  # plain Python: print it
        print(text)
    else:
        display(Markdown(text))
    return text
