#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load for tests/netns/upgrade.sh: flows that must not notice an upgrade.

  upgrade_load.py long IP PORT N SECS
      N connections to an echo server, each sending 4 KiB of fresh random
      bytes every 100 ms and checking the echo byte for byte, for SECS
      seconds; then a clean close.  Prints "long ok=N failed=F bytes=B".
  upgrade_load.py rate IP PORT RATE SECS
      a new connection every 1/RATE s for SECS s (open loop): send 64
      random bytes, check the echo, close.  Prints "rate ok=.. refused=..
      reset=.. timeout=.. other=.. late=..", late counting starts more than
      100 ms behind schedule.

Exit status 0 when nothing failed, 1 otherwise.
"""
import asyncio
import os
import sys
import time


async def echo_once(reader, writer, n):
    data = os.urandom(n)
    writer.write(data)
    await writer.drain()
    got = await reader.readexactly(n)
    if got != data:
        raise ValueError("echo differs")


async def long_flow(ip, port, secs, res):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port), 10)
    except Exception as e:  # noqa: BLE001
        res["failed"] += 1
        print(f"long: connect: {e!r}", file=sys.stderr)
        return
    end = time.monotonic() + secs
    try:
        while time.monotonic() < end:
            await asyncio.wait_for(echo_once(reader, writer, 4096), 20)
            res["bytes"] += 4096
            await asyncio.sleep(0.1)
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), 20)
        if rest:
            raise ValueError(f"{len(rest)} stray bytes after the last echo")
        res["ok"] += 1
    except Exception as e:  # noqa: BLE001
        res["failed"] += 1
        print(f"long: {e!r}", file=sys.stderr)
    finally:
        writer.close()


async def short_flow(ip, port, res):
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port), 10)
        try:
            await asyncio.wait_for(echo_once(reader, writer, 64), 10)
        finally:
            writer.close()
        res["ok"] += 1
    except ConnectionRefusedError:
        res["refused"] += 1
    except (ConnectionResetError, asyncio.IncompleteReadError,
            BrokenPipeError):
        res["reset"] += 1
    except asyncio.TimeoutError:
        res["timeout"] += 1
    except Exception as e:  # noqa: BLE001
        res["other"] += 1
        print(f"rate: {e!r}", file=sys.stderr)


async def main_long(ip, port, n, secs):
    res = {"ok": 0, "failed": 0, "bytes": 0}
    await asyncio.gather(*(long_flow(ip, port, secs, res) for _ in range(n)))
    print(f"long ok={res['ok']} failed={res['failed']} bytes={res['bytes']}")
    return res["failed"] == 0 and res["ok"] == n


async def main_rate(ip, port, rate, secs):
    res = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0, "other": 0,
           "late": 0}
    tasks = []
    start = time.monotonic()
    total = int(rate * secs)
    for i in range(total):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 0.1:
            res["late"] += 1
        tasks.append(asyncio.ensure_future(short_flow(ip, port, res)))
    await asyncio.gather(*tasks)
    print("rate " + " ".join(f"{k}={v}" for k, v in res.items()))
    bad = res["refused"] + res["reset"] + res["timeout"] + res["other"]
    return bad == 0 and res["ok"] == total


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("long", "rate"):
        print(__doc__, file=sys.stderr)
        return 2
    ip, port = sys.argv[2], int(sys.argv[3])
    a, b = float(sys.argv[4]), float(sys.argv[5])
    if sys.argv[1] == "long":
        ok = asyncio.run(main_long(ip, port, int(a), b))
    else:
        ok = asyncio.run(main_rate(ip, port, a, b))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
