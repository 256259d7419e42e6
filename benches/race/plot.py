"""Renders the proxy race's results (benches/race/latest.json) as a PNG: for each
configuration, requests per second and p99 latency against connections for Envoy and
mesh-proxy (HTTP/1.1 at 4, 64 and 256 connections as lines; h2c at 4 connections x 32
streams as a separate point at 128 requests in flight).

    python3 benches/race/plot.py [RESULTS_JSON] [OUT_PNG]
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

H1 = {"h1-4": 4, "h1-64": 64, "h1-256": 256}
H2 = {"h2-4x32": 128}
COLORS = {"envoy": "#c0392b", "mesh": "#2471a3"}
NAMES = {"envoy": "Envoy", "mesh": "mesh-proxy"}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "latest.json")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "race.png")
    results = json.load(open(src))
    cells = results["cells"]
    configs = []
    for c in cells:
        if c["config"] not in configs:
            configs.append(c["config"])
    if not configs:
        sys.exit("plot: no measured cells")
    fig, axes = plt.subplots(2, len(configs), figsize=(max(8.0, 3.0 * len(configs)), 6.6), squeeze=False)
    for col, name in enumerate(configs):
        mine = [c for c in cells if c["config"] == name]
        for row, (metric, label) in enumerate([("rps", "requests/s"), ("p99", "p99 latency, ms")]):
            ax = axes[row][col]
            for proxy in ("envoy", "mesh"):
                pts = sorted((H1[c["load"]], c[proxy][metric]) for c in mine if c["load"] in H1)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                            color=COLORS[proxy], label=f"{NAMES[proxy]} HTTP/1.1")
                h2 = [(H2[c["load"]], c[proxy][metric]) for c in mine if c["load"] in H2]
                if h2:
                    ax.scatter([p[0] for p in h2], [p[1] for p in h2], marker="D", s=40,
                               facecolors="none", edgecolors=COLORS[proxy],
                               label=f"{NAMES[proxy]} h2c 4x32")
            ax.set_xscale("log", base=2)
            ax.set_xlim(3, 360)
            ax.set_xticks([4, 64, 128, 256])
            ax.set_xticklabels(["4", "64", "h2c\n4x32", "256"])
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.set_title(name, fontsize=9)
            else:
                ax.set_xlabel("connections (in flight)", fontsize=8)
            if col == 0:
                ax.set_ylabel(label)
            ax.tick_params(labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    meta = results["meta"]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(f"mesh-proxy ({meta.get('mesh_commit', '?')}) vs Envoy {meta['envoy']}, "
                 f"{meta['concurrency']} workers each, {meta['cores']} cores, median of "
                 f"{meta['rounds']} x {meta['duration_s']:g} s\n{meta['date']}, load average "
                 f"{meta['loadavg_start'][0]} before, {meta['loadavg_end'][0]} after",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 0.93))
    fig.savefig(out, dpi=110)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
