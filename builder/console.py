"""Rich output: one stdout console for results, one stderr console for messages."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from builder.plan import Plan
from builder.run import TargetResult

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


def summary_table(results: Sequence[TargetResult]) -> Table:
    table = Table(title="summary", title_justify="left")
    for col in ("target", "platforms", "image", "digest", "cached", "time", "status"):
        table.add_column(col, overflow="fold")
    colours = {"built": "green", "exists": "cyan", "failed": "red", "pending": "yellow"}
    for r in results:
        status = "exists (skipped)" if r.status == "exists" else r.status
        table.add_row(
            r.name,
            ", ".join(r.platforms),
            r.ref,
            r.digest.removeprefix("sha256:")[:12],
            f"{len(r.cached)}/{len(r.steps)}" if r.steps else "",
            f"{r.seconds:.0f} s" if r.seconds else "",
            f"[{colours.get(r.status, 'white')}]{status}[/]",
        )
    for r in results:
        if r.status == "failed" and r.log:
            table.caption = (table.caption or "") + f"\n{r.name}: " + " | ".join(r.log[-5:])
    return table
