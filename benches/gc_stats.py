#!/usr/bin/env python3
"""Summaries of hyperfine --export-json files for benches/gc.sh.

  gc_stats.py median FILE   one line per command: its median
  gc_stats.py ratio FILE    median of the second command / median of the first
  gc_stats.py ratio FILE I J   median of command I / median of command J (0-based)
  gc_stats.py garbage LAYOUT  the blob names of an OCI layout that nothing in its
                              index.json reaches (manifests, configs, layers), one a line
"""
import json
import sys

kind, path = sys.argv[1], sys.argv[2]
if kind == "garbage":
    import os
    blobs = os.path.join(path, "blobs", "sha256")
    reach = set()
    for m in json.load(open(os.path.join(path, "index.json")))["manifests"]:
        h = m["digest"].split(":")[1]
        reach.add(h)
        doc = json.load(open(os.path.join(blobs, h)))
        for d in [doc.get("config")] + doc.get("layers", []):
            if d:
                reach.add(d["digest"].split(":")[1])
    for name in sorted(os.listdir(blobs)):
        if name not in reach:
            print(name)
    sys.exit(0)
results = json.load(open(path))["results"]
if kind == "median":
    for r in results:
        times = sorted(r["times"])
        print("  %-70s median %9.1f ms  (min %.1f, max %.1f, %d runs)" % (
            r["command"][:70], r["median"] * 1000, times[0] * 1000, times[-1] * 1000, len(times)))
elif len(sys.argv) > 3:
    a, b = results[int(sys.argv[4])], results[int(sys.argv[3])]
    print("  ratio: %.2fx  (%s / %s)" % (b["median"] / a["median"], b["command"][:40], a["command"][:40]))
else:
    a, b = results[0], results[1]
    print("  ratio: %.1fx  (%s / %s)" % (b["median"] / a["median"], b["command"].split()[0], a["command"].split()[0]))
