#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The daemon's rooms are layered (docs/ARCHITECTURE.md): a file may include
headers of its own room and of the rooms below it, never of one above.
Order, bottom up: core, traffic, relay, obs, flow, l7, control; main.c and
options.c (daemon/) sit above them all.  Also: no #include cycle between
files except a relay with its variants (relay_internal.h).
Usage: check-layers.py SRCDIR"""
import os
import re
import sys

ORDER = ["core", "traffic", "relay", "obs", "flow", "l7", "control"]


def main():
    root = os.path.join(sys.argv[1], "daemon")
    room = {}
    for r in ORDER:
        for f in os.listdir(os.path.join(root, r)):
            if f in room:
                print(f"{f} is in {room[f]} and {r}: names must be unique")
                return 1
            room[f] = r
    bad = 0
    graph = {}
    for f, r in room.items():
        if not f.endswith((".c", ".h")):
            continue
        text = open(os.path.join(root, r, f)).read()
        incs = re.findall(r'^#include "([a-z_0-9]+\.h)"', text, re.M)
        graph[f] = [i for i in incs if i in room]
        for inc in graph[f]:
            if ORDER.index(room[inc]) > ORDER.index(r):
                print(f"daemon/{r}/{f} includes {inc} of {room[inc]}/, a room above")
                bad += 1
    # cycles among headers (a .c file is never included)
    state = {}

    def visit(h, path):
        if state.get(h) == 1:
            cyc = path[path.index(h):] + [h]
            if "relay_internal.h" not in cyc:
                print("include cycle: " + " -> ".join(cyc))
                return 1
            return 0
        if state.get(h) == 2:
            return 0
        state[h] = 1
        n = sum(visit(i, path + [h]) for i in graph.get(h, []))
        state[h] = 2
        return n

    for h in graph:
        if h.endswith(".h"):
            bad += visit(h, [])
    print(f"{len(room)} files in {len(ORDER)} rooms: {'ok' if not bad else str(bad) + ' problems'}")
    return 1 if bad else 0


sys.exit(main())
