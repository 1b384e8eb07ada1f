"""Print the compatibility matrix (Markdown) from `oh-builder verify --json` results.

Usage: python tests/tools/compat_table.py RESULTS_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CHECKS = ("alive", "bash", "files", "python", "tools", "browser", "base programs", "environment")


def main(results: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    print("| base | platform | " + " | ".join(CHECKS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in CHECKS) + " |")
    for r in rows:
        by = {c["name"]: c for c in r["checks"]}
        cells = []
        for name in CHECKS:
            c = by.get(name)
            if c is None:
                cells.append("-")
            elif c["detail"] == "skipped":
                cells.append("skip")
            else:
                mark = "pass" if c["ok"] else "FAIL"
                cells.append(f"{mark} ({c['seconds']:.1f} s)" if name == "alive" else mark)
        print(f"| `{r['base']}` | {r['platform']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
