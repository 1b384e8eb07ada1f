"""Rich output: one stdout console for results, one stderr console for messages."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from builder.plan import Plan

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)


def plan_table(plan: Plan, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("target", no_wrap=True)
    table.add_column("base")
    table.add_column("platforms")
    table.add_column("tag", overflow="fold")
    for d in plan.deps:
        table.add_row(d.name, plan.deps_base, ", ".join(d.platforms), d.ref)
    limit = int(os.environ.get("OH_BUILDER_TABLE_ROWS", "50"))
    for r in plan.runtime[:limit]:
        table.add_row(r.name, r.base, ", ".join(r.platforms), r.ref)
    if len(plan.runtime) > limit:
        table.add_row(f"… {len(plan.runtime) - limit} more", "", "", "")
    return table
