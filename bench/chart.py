#!/usr/bin/env python3
"""Draw a run's chart: one group per cell, one bar per client, log scale, httpr highlighted.

    <peers venv>/bin/python bench/chart.py bench/results/<tag>.json bench/results/<tag>.png

Runs in the peers venv (matplotlib); run.py calls it after every run. The C floor is drawn as
a black line across the groups of the cells it ran; above httpr's bar, its time ÷ the fastest
peer's; where httpr could not run a cell, a "n/s" (not supported yet) or "ERR" mark.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

OURS, FLOOR = "httpr_local", "floor"
OURS_COLOR = "#d62728"
PEER_COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#98df8a",
    "#c5b0d5",
]
PANELS = [
    ("Sequential GETs, one client reused", ("seq",)),
    ("A new client per request; threads sharing one client", ("nosession", "threads")),
    (
        "Async (requests in flight); POST 1 MiB; stream 50 MiB (µs per download)",
        ("async", "post", "stream"),
    ),
]


def main(src: str, dst: str) -> None:
    with open(src) as f:
        run = json.load(f)
    rows, cells = run["rows"], run["cells"]
    clients = []
    for r in rows:
        if r["client"] not in clients and r["client"] != FLOOR:
            clients.append(r["client"])
    clients.sort(key=lambda c: c != OURS)  # ours first in every group
    colors = {
        c: OURS_COLOR if c == OURS else PEER_COLORS[i % len(PEER_COLORS)]
        for i, c in enumerate(x for x in clients if x != OURS)
    }
    colors[OURS] = OURS_COLOR
    get = {(r["cell"], r["client"]): r for r in rows}

    panels = [(t, [c for c in cells if c["mode"] in modes]) for t, modes in PANELS]
    panels = [(t, cs) for t, cs in panels if cs]
    widest = max(len(cs) for _, cs in panels)
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(max(12, 1.15 * widest * max(1, len(clients)) / 5), 5.2 * len(panels)),
        squeeze=False,
    )
    width = 0.84 / max(1, len(clients))
    for ax, (title, pcells) in zip(axes[:, 0], panels):
        ymin = min(
            (
                r["us_per_req"]
                for c in pcells
                for r in rows
                if r["cell"] == c["name"] and r["status"] == "ok"
            ),
            default=1,
        )
        for gi, cell in enumerate(pcells):
            for ci, client in enumerate(clients):
                x = gi - 0.42 + width * (ci + 0.5)
                r = get.get((cell["name"], client))
                if r is None:
                    continue
                if r["status"] != "ok":
                    if client == OURS or r["status"] == "error":
                        mark = {"n/s": "n/s", "error": "ERR"}.get(r["status"], "–")
                        ax.text(
                            x,
                            ymin * 0.75,
                            mark,
                            rotation=90,
                            ha="center",
                            va="bottom",
                            fontsize=8,
                            color=colors[client],
                            fontweight="bold",
                        )
                    continue
                ours = client == OURS
                ax.bar(
                    x,
                    r["us_per_req"],
                    width,
                    color=colors[client],
                    edgecolor="black" if ours else "none",
                    linewidth=1.2 if ours else 0,
                    zorder=3,
                )
                if ours and r.get("x_fastest_peer"):
                    ax.text(
                        x,
                        r["us_per_req"] * 1.08,
                        f"×{r['x_fastest_peer']:.2f}",
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        color=OURS_COLOR,
                        fontweight="bold",
                        zorder=4,
                    )
            fl = get.get((cell["name"], FLOOR))
            if fl and fl["status"] == "ok":
                ax.hlines(
                    fl["us_per_req"], gi - 0.45, gi + 0.45, colors="black", linewidth=2, zorder=5
                )
        ax.set_yscale("log")
        ax.set_ylim(bottom=ymin * 0.5)
        ax.set_xticks(range(len(pcells)))
        ax.set_xticklabels([c["name"] for c in pcells], fontsize=9)
        ax.set_xlim(-0.55, len(pcells) - 0.45)
        ax.set_ylabel("µs per request (log scale)")
        ax.set_title(title, fontsize=11, loc="left")
        ax.grid(axis="y", which="both", alpha=0.25, zorder=0)
        for gi in range(1, len(pcells)):
            ax.axvline(gi - 0.5, color="#dddddd", linewidth=0.8, zorder=1)
    handles = [
        Patch(
            facecolor=colors[c],
            edgecolor="black" if c == OURS else "none",
            label=c + (" (this checkout)" if c == OURS else ""),
        )
        for c in clients
    ]
    if any(r["client"] == FLOOR and r["status"] == "ok" for r in rows):
        handles.append(Line2D([], [], color="black", linewidth=2, label="C floor (libcurl alone)"))
    height = fig.get_size_inches()[1]
    m = run["machine"]
    kind = "quick run" if run.get("quick") else "full run"
    fig.suptitle(
        f"httpr vs Python HTTP clients — {m['date']} ({kind}), nginx on 127.0.0.1, "
        f"{m['cores']} cores; median of rounds, lower is better; ×: httpr ÷ fastest peer",
        y=1 - 0.1 / height,
        va="top",
        fontsize=11,
    )
    fig.legend(
        handles=handles,
        loc="upper center",
        ncol=min(len(handles), 6),
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.38 / height),
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / height))
    fig.savefig(dst, dpi=100)
    print(f"chart: {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
