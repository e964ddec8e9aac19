#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks a request's record in sluiced's JSON access log (the L7 netns
tests).

usage: http_alog.py LOG PATH EXPR

Takes the last JSON line of LOG that has PATH as a string value, or as a
word of one ("GET /x HTTP/1.1"), a query string allowed after it; then
evaluates the Python expression EXPR with r (the record), flags(r) (the
first value whose key contains "flag", as a string), num(r, WORD) (the
first scalar value whose key contains WORD) and status(r) (the response
code as an int).  Exit 0 if it holds; otherwise print the record (or
that there is none) and exit 1.  Fields are found by these words so that
the check does not depend on the exact layout of the record.
"""
import json
import re
import sys


def strings(o):
    if isinstance(o, dict):
        for v in o.values():
            yield from strings(v)
    elif isinstance(o, list):
        for v in o:
            yield from strings(v)
    elif isinstance(o, str):
        yield o


def find(o, word):
    if isinstance(o, dict):
        for k, v in o.items():
            if word in k.lower() and not isinstance(v, (dict, list)):
                return v
            x = find(v, word)
            if x is not None:
                return x
    return None


def flags(r):
    return str(find(r, "flag"))


def num(r, word):
    return find(r, word)


def status(r):
    for w in ("response_code", "status", "code"):
        v = find(r, w)
        try:
            return int(v)
        except (TypeError, ValueError):
            pass
    return None


def main():
    log, path, expr = sys.argv[1:4]
    pat = re.compile(r"(^|\s)" + re.escape(path) + r"(\?\S*)?(\s|$)")
    rec = None
    for line in open(log, errors="replace"):
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if any(pat.search(s) for s in strings(r)):
            rec = r
    if rec is None:
        print("no access-log record has %s" % path)
        return 1
    env = {"r": rec, "flags": flags, "num": num, "status": status}
    if not eval(expr, env):
        print(json.dumps(rec, sort_keys=True))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
