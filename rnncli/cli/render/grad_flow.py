"""``rnn grad-flow`` for people: a log-scale sparkline of the gradient norms and a table at a few distances."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rnncli.cli.render.tables import log_sparkline, result_console

TABLE_DISTANCES = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)


def print_grad_flow(result: dict[str, Any], console: Console | None = None) -> None:
    """A title line, a log-scale sparkline of the norms and a table at a few distances."""
    console = result_console(console)
    model, norms = result["model"], result["norms"]
    state = "trained" if result["trained"] else "untrained"
    console.print(
        f"gradient flow: {model['cell']} ({model['impl']}, {model['num_layers']} x "
        f"{model['hidden_size']}), {state}; {result['windows']} windows of "
        f"{result['text']}",
        markup=False,
    )
    if result.get("note"):
        console.print(result["note"], markup=False)
    console.print(f"|d loss_T / d h_(T-k)|, k = 0..{len(norms) - 1}, log scale:", markup=False)
    console.print(log_sparkline(norms), markup=False)
    table = Table(show_edge=False)
    for name in ("k steps back", "mean norm", "relative to k=1"):
        table.add_column(name, justify="right")
    for k in TABLE_DISTANCES:
        if k < len(norms):
            rel = norms[k] / norms[1] if len(norms) > 1 and norms[1] > 0 else float("nan")
            table.add_row(str(k), f"{norms[k]:.3e}", f"{rel:.3e}")
    console.print(table)
