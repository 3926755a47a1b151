#!/usr/bin/env python3
"""Prints the markdown tables of benches/scale.sh from its results.tsv (group, command,
size, median wall s, peak RSS KiB, median CPU s).

Each cell: median wall time [median CPU time, user+sys] (CPU growth from the previous
size). "worst growth" is the largest ratio, between neighbouring sizes, of the time
growth to the size growth (1.0 = linear; a quadratic command shows about 4 for 4x the
size), for wall and for CPU time. On a shared machine wall time includes waiting for a
core; CPU time does not."""
import collections
import sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = collections.OrderedDict()
for g, name, size, t, rss, cpu in rows:
    groups.setdefault(g, collections.OrderedDict()).setdefault(name, {})[int(size)] = (float(t), int(rss), float(cpu))


def label(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def growth(a, b, sa, sb):
    # times under 0.05 s are mostly process start-up: floor them so noise is not growth
    return max(b, 0.05) / max(a, 0.05) / (sb / sa)


for g, cmds in groups.items():
    sizes = sorted({s for c in cmds.values() for s in c})
    print(f"| {g}: command | " + " | ".join(label(s) for s in sizes) + " | worst growth wall / cpu | peak RSS |")
    print("|" + "---|" * (len(sizes) + 3))
    for name, by in cmds.items():
        cells, ww, wc, prev = [], None, None, None
        for s in sizes:
            if s not in by:
                cells.append("")
                continue
            t, _, cpu = by[s]
            cell = f"{t:.2f} s [{cpu:.2f}]"
            if prev:
                cell += f" (×{max(cpu, 0.01) / max(prev[2], 0.01):.1f})"
                ww = max(ww or 0, growth(prev[1], t, prev[0], s))
                wc = max(wc or 0, growth(prev[2], cpu, prev[0], s))
            cells.append(cell)
            prev = (s, t, cpu)
        rss = max(v[1] for v in by.values()) / 1024
        w = f"{ww:.2f} / {wc:.2f}" if ww is not None else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {w} | {rss:.0f} MiB |")
    print()
