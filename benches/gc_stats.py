#!/usr/bin/env python3
"""Summaries of hyperfine --export-json files for benches/gc.sh.

  gc_stats.py median FILE   one line per command: its median
  gc_stats.py ratio FILE    median of the second command / median of the first
"""
import json
import sys

kind, path = sys.argv[1], sys.argv[2]
results = json.load(open(path))["results"]
if kind == "median":
    for r in results:
        times = sorted(r["times"])
        print("  %-70s median %9.1f ms  (min %.1f, max %.1f, %d runs)" % (
            r["command"][:70], r["median"] * 1000, times[0] * 1000, times[-1] * 1000, len(times)))
else:
    a, b = results[0], results[1]
    print("  ratio: %.1fx  (%s / %s)" % (b["median"] / a["median"], b["command"].split()[0], a["command"].split()[0]))
