#!/usr/bin/env python3
"""A stand-in for sluiced's admin socket, for the CLI tests.

Usage: fake-admin.py SOCKET LOG

Accepts connections on the Unix socket SOCKET one by one, appends each
request line to LOG, and answers as sluiced does: {"text": "..."} when the
request asks for a format (table or dump), a JSON object otherwise.  Runs
until killed.
"""
import json
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
# the test waits for this file before it runs sluice
open(log + ".ready", "w").close()
while True:
    conn, _ = srv.accept()
    with conn:
        req = b""
        while not req.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            req += chunk
        line = req.decode().rstrip("\n")
        with open(log, "a") as f:
            f.write(line + "\n")
        if " format=" in line:
            ans = {"text": "FAKE %s\n" % line.split(" format=")[1]}
        else:
            ans = {"fake": True}
        conn.sendall(json.dumps(ans, separators=(",", ":")).encode() + b"\n")
