#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""report.py RAWDIR OUT.json - turn bench/run's raw outputs into a table
(stdout) and a JSON file with every per-run figure, the median/min/max/IQR
across runs, the ratios sluice/plain, sluice/haproxy and sluice/fwd (the
relay floor: two plaintext forwarders), and the targets of
issue 8 (met / not met / unknown with the reason).  Never invents a figure:
a test that produced no output is null and says why."""
import json
import os
import re
import statistics
import sys

MODES = ["plain", "fwd", "haproxy", "sluice"]

# (key, label, unit, better): better = "high" or "low"
METRICS = [
    ("tput1_gbps", "throughput, 1 stream", "Gbit/s", "high"),
    ("tput4_gbps", "throughput, 4 streams", "Gbit/s", "high"),
    ("tput1_cpu_ns_per_byte", "CPU per byte, 1 stream", "ns/B", "low"),
    ("tput4_cpu_ns_per_byte", "CPU per byte, 4 streams", "ns/B", "low"),
    ("tput1_machine_busy_pct", "machine busy, 1 stream", "%", "low"),
    ("tput1_proxy1_cpu_ns_per_byte", "proxy CPU/B node1, 1 stream", "ns/B", "low"),
    ("tput1_proxy2_cpu_ns_per_byte", "proxy CPU/B node2, 1 stream", "ns/B", "low"),
    ("tput4_proxy1_cpu_ns_per_byte", "proxy CPU/B node1, 4 streams", "ns/B", "low"),
    ("tput4_proxy2_cpu_ns_per_byte", "proxy CPU/B node2, 4 streams", "ns/B", "low"),
    ("pp64_p50_us", "ping-pong 64 B p50", "us", "low"),
    ("pp64_p99_us", "ping-pong 64 B p99", "us", "low"),
    ("pp64_p999_us", "ping-pong 64 B p99.9", "us", "low"),
    ("pp1024_p50_us", "ping-pong 1 KiB p50", "us", "low"),
    ("pp1024_p99_us", "ping-pong 1 KiB p99", "us", "low"),
    ("pp1024_p999_us", "ping-pong 1 KiB p99.9", "us", "low"),
    ("ul64_p50_us", "open loop 64 B p50", "us", "low"),
    ("ul64_p99_us", "open loop 64 B p99", "us", "low"),
    ("ul64_p999_us", "open loop 64 B p99.9", "us", "low"),
    ("ul1024_p50_us", "open loop 1 KiB p50", "us", "low"),
    ("ul1024_p99_us", "open loop 1 KiB p99", "us", "low"),
    ("ul1024_p999_us", "open loop 1 KiB p99.9", "us", "low"),
    ("pp64_proxy_cpu_pct", "proxies' CPU, ping-pong 64 B", "%", "low"),
    ("ul64_proxy_cpu_pct", "proxies' CPU, open loop 64 B", "%", "low"),
    ("newflow_p50_us", "new flow p50", "us", "low"),
    ("newflow_p99_us", "new flow p99", "us", "low"),
    ("newflow_p999_us", "new flow p99.9", "us", "low"),
    ("newflow_paced_p50_us", "new flow paced p50", "us", "low"),
    ("newflow_paced_p99_us", "new flow paced p99", "us", "low"),
    ("newflow_paced_p999_us", "new flow paced p99.9", "us", "low"),
    ("newflow_paced_start_lag_p50_us", "  client start lag, p50 (paced)", "us", "low"),
    ("newflow_paced_connect_p50_us", "  connect() part, p50 (paced)", "us", "low"),
    ("newflow_paced_pool_hit_pct", "  pool hits (paced, sluice)", "%", "high"),
    ("newflow_paced_proxy_cpu_pct", "  proxies' CPU (paced)", "%", "low"),
    ("flows_per_s_1", "flows/s, 1 client", "1/s", "high"),
    ("flows_per_s_4", "flows/s, 4 clients", "1/s", "high"),
    ("idle_user_b_per_flow_node1", "userspace mem/idle flow node1", "B", "low"),
    ("idle_user_b_per_flow_node2", "userspace mem/idle flow node2", "B", "low"),
    ("idle_user_marginal_b_per_flow_node1", "  marginal (2nd half) node1", "B", "low"),
    ("idle_user_marginal_b_per_flow_node2", "  marginal (2nd half) node2", "B", "low"),
    ("idle_sockstat_b_per_flow", "kernel sockstat mem/idle flow", "B", "low"),
    ("idle_slab_tcp_b_per_flow", "kernel TCP slab/idle flow", "B", "low"),
    ("idle_open_per_s", "idle flows opened/s", "1/s", "high"),
    # HTTP/1.1 (issue 26; --tests http), 1 KiB responses
    ("http_rps1", "HTTP keep-alive req/s, 1 conn", "1/s", "high"),
    ("http_rps64", "HTTP keep-alive req/s, 64 conns", "1/s", "high"),
    ("http_wrk1_p50_us", "  wrk 1 conn p50 (closed loop)", "us", "low"),
    ("http_wrk1_p99_us", "  wrk 1 conn p99 (closed loop)", "us", "low"),
    ("http_wrk64_p50_us", "  wrk 64 conns p50 (closed loop)", "us", "low"),
    ("http_wrk64_p99_us", "  wrk 64 conns p99 (closed loop)", "us", "low"),
    ("http_cpu1_us_node1", "proxy CPU/request node1, 1 conn", "us", "low"),
    ("http_cpu1_us_node2", "proxy CPU/request node2, 1 conn", "us", "low"),
    ("http_cpu64_us_node1", "proxy CPU/request node1, 64 conns", "us", "low"),
    ("http_cpu64_us_node2", "proxy CPU/request node2, 64 conns", "us", "low"),
    ("http_paced_p50_us", "HTTP paced p50 (open loop)", "us", "low"),
    ("http_paced_p99_us", "HTTP paced p99 (open loop)", "us", "low"),
    ("http_paced_p999_us", "HTTP paced p99.9 (open loop)", "us", "low"),
    ("http_paced_proxy_cpu_pct", "  proxies' CPU (paced)", "%", "low"),
    ("http_close1_rps", "HTTP new conn per request, 1 client", "1/s", "high"),
    ("http_close4_rps", "HTTP new conn per request, 4 clients", "1/s", "high"),
    ("http_close1_p50_us", "  new conn per request p50 (1 client)", "us", "low"),
    ("http_close1_p99_us", "  new conn per request p99 (1 client)", "us", "low"),
    ("http_idle_b_per_conn_node1", "mem/idle keep-alive conn node1", "B", "low"),
    ("http_idle_b_per_conn_node2", "mem/idle keep-alive conn node2", "B", "low"),
    ("http_idle_marginal_b_per_conn_node1", "  marginal (2nd half) node1", "B", "low"),
    ("http_idle_marginal_b_per_conn_node2", "  marginal (2nd half) node2", "B", "low"),
    ("http_idle_pss_b_per_conn_node1", "  PSS per conn node1", "B", "low"),
    ("http_idle_pss_b_per_conn_node2", "  PSS per conn node2", "B", "low"),
]


def kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 1)
                if len(parts) == 2:
                    out[parts[0]] = parts[1]
    except OSError:
        pass
    return out


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


def parse_iperf(path):
    try:
        with open(path) as f:
            j = json.load(f)
        s = j["end"]["sum_received"]
        return s["bits_per_second"], s["bytes"], None
    except (OSError, ValueError, KeyError) as e:
        err = ""
        try:
            err = json.load(open(path)).get("error", "")
        except (OSError, ValueError):
            pass
        return None, None, "iperf3: %s" % (err or e)


def parse_stat(path, clk_tck):
    try:
        with open(path) as f:
            lines = [list(map(int, l.split()[1:])) for l in f if l.startswith("cpu ")]
        a, b = lines[0], lines[1]
    except (OSError, ValueError, IndexError):
        return None, None
    d = [y - x for x, y in zip(a, b)]
    total = sum(d[:8])
    idle = d[3] + d[4]
    busy = total - idle
    return busy / clk_tck, (100.0 * busy / total if total else None)


def parse_sockperf(path):
    try:
        text = open(path).read()
    except OSError:
        return None, "no output"
    res = {}
    for p, k in (("50.000", "p50"), ("99.000", "p99"), ("99.900", "p999")):
        m = re.search(r"percentile %s =\s*([0-9.]+)" % re.escape(p), text)
        if m:
            res[k] = float(m.group(1))
    m = re.search(r"avg-rtt=([0-9.]+)", text)
    if m:
        res["avg"] = float(m.group(1))
    m = re.search(r"Total (\d+) observations", text)
    if m:
        res["n"] = int(m.group(1))
    if "p50" not in res:
        tail = " ".join(text.strip().splitlines()[-2:])[:200]
        return None, "sockperf: " + (tail or "no result")
    return res, None


def parse_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1]), None
    except (OSError, ValueError, IndexError) as e:
        err = ""
        try:
            err = open(path[:-5] + ".err").read().strip()[:200]
        except OSError:
            pass
        return None, "%s %s" % (e, err)


def parse_wrk(path):
    """wrk --latency text: requests/s, requests, errors, p50/p99 in us"""
    try:
        text = open(path).read()
    except OSError:
        return None, "no output"
    res = {}
    m = re.search(r"Requests/sec:\s*([0-9.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        res["requests"] = int(m.group(1))
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}
    for p, k in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+([0-9.]+)(us|ms|s)\s*$" % p, text, re.M)
        if m:
            res[k] = float(m.group(1)) * scale[m.group(2)]
    errs = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errs += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errs += sum(int(x) for x in m.groups())
    res["errors"] = errs
    if "rps" not in res or not res.get("requests"):
        return None, "wrk: " + " ".join(text.strip().splitlines()[-2:])[:200]
    return res, None


def idle_figures(d, prefix, log, keys, notes):
    """memory per idle flow (or keep-alive connection) from bench/run's
    PREFIX-{before,mid,after}.txt and LOG(.log, 2.log); KEYS maps
    rss1/rss2/pss1/pss2/marg1/marg2/open/ok/err to result keys"""
    r = {}
    b, mid, a = (kv(os.path.join(d, "%s-%s.txt" % (prefix, x))) for x in ("before", "mid", "after"))
    oks, errs, secs = [], 0, 0.0
    for name in (log + ".log", log + "2.log"):
        p = os.path.join(d, name)
        if not os.path.exists(p):
            continue
        text = open(p).read()
        m = re.search(r"ready ok=(\d+) err=(\d+) secs=([0-9.]+)", text)
        if not m:
            notes.append("%s: %s never got ready: %s" % (log, name, text.strip()[-200:]))
            oks.append(0)
            continue
        oks.append(int(m.group(1)))
        errs += int(m.group(2))
        secs += float(m.group(3))
    ok = sum(oks)
    second = oks[1] if len(oks) > 1 and mid else 0
    r[keys["ok"]] = ok
    r[keys["err"]] = errs
    r[keys["open"]] = ok / secs if secs > 0 else None
    want = num(a, "flows")
    if want and ok < want:
        notes.append("%s: only %d of %d opened (err=%d)" % (log, ok, want, errs))

    def per_flow(key, scale, x_snap=b, n=ok):
        x, y = num(x_snap, key), num(a, key)
        if not n or x is None or y is None:
            return None
        return (y - x) * scale / n
    for k in ("rss1", "rss2", "pss1", "pss2"):
        if k in keys:
            r[keys[k]] = per_flow(k + "_kb", 1024)
    r[keys["marg1"]] = per_flow("rss1_kb", 1024, mid, second)
    r[keys["marg2"]] = per_flow("rss2_kb", 1024, mid, second)
    return r, b, mid, a, per_flow


def proxy_cpu_pct(path, clk):
    """both proxies' CPU over a test, in % of one core, from bench/run's
    lat_cpu file (ticks and wall clock before and after); None if missing"""
    pc = kv(path)
    x, y = num(pc, "proxy_ticks_before"), num(pc, "proxy_ticks_after")
    w0, w1 = num(pc, "wall_before"), num(pc, "wall_after")
    if None in (x, y, w0, w1) or w1 <= w0:
        return None
    return 100.0 * (y - x) / clk / (w1 - w0)


def one_run(d, meta):
    """figures of one run of one mode: dict key -> value (None = failed),
    plus notes for failures"""
    r, notes = {}, []
    clk = float(meta.get("clk_tck", 100))
    for n in (1, 4):
        bps, nbytes, err = parse_iperf(os.path.join(d, "tput-%d.json" % n))
        cpu_s, busy = parse_stat(os.path.join(d, "tput-%d.stat" % n), clk)
        r["tput%d_gbps" % n] = bps / 1e9 if bps else None
        r["tput%d_bytes" % n] = nbytes
        r["tput%d_cpu_ns_per_byte" % n] = (cpu_s * 1e9 / nbytes) if (nbytes and cpu_s is not None) else None
        r["tput%d_machine_busy_pct" % n] = busy if bps else None
        pc = kv(os.path.join(d, "tput-%d.proxycpu" % n))
        for node in (1, 2):
            x, y = num(pc, "proxy%d_ticks_before" % node), num(pc, "proxy%d_ticks_after" % node)
            r["tput%d_proxy%d_cpu_ns_per_byte" % (n, node)] = (
                (y - x) / clk * 1e9 / nbytes) if (nbytes and x is not None and y is not None) else None
        if err:
            notes.append("tput-%d: %s" % (n, err))
    for kind in ("pp", "ul"):
        for m in (64, 1024):
            res, err = parse_sockperf(os.path.join(d, "%s-%d.txt" % (kind, m)))
            for k in ("p50", "p99", "p999"):
                r["%s%d_%s_us" % (kind, m, k)] = res.get(k) if res else None
            r["%s%d_samples" % (kind, m)] = res.get("n") if res else None
            # both proxies' CPU over the test, in % of one core
            r["%s%d_proxy_cpu_pct" % (kind, m)] = (
                proxy_cpu_pct(os.path.join(d, "%s-%d.proxycpu" % (kind, m)), clk)
                if res else None)
            if err:
                notes.append("%s-%d: %s" % (kind, m, err))
    nf1, err1 = parse_json(os.path.join(d, "newflow-1.json"))
    nf4, err4 = parse_json(os.path.join(d, "newflow-4.json"))
    for k in ("p50", "p99", "p999"):
        r["newflow_%s_us" % k] = nf1.get("%s_us" % k) if nf1 and nf1.get("flows") else None
    r["flows_per_s_1"] = nf1.get("flows_per_s") if nf1 and nf1.get("flows") else None
    r["flows_per_s_4"] = nf4.get("flows_per_s") if nf4 and nf4.get("flows") else None
    nfp, errp = parse_json(os.path.join(d, "newflow-paced.json"))
    for k in ("p50", "p99", "p999", "start_lag_p50", "connect_p50"):
        r["newflow_paced_%s_us" % k] = nfp.get("%s_us" % k) if nfp and nfp.get("flows") else None
    r["newflow_paced_proxy_cpu_pct"] = (
        proxy_cpu_pct(os.path.join(d, "newflow-paced.proxycpu"), clk)
        if nfp and nfp.get("flows") else None)
    r["newflow_paced_rate"] = (nfp or {}).get("rate")
    r["newflow_paced_errors"] = (nfp or {}).get("errors")
    r["newflow_paced_late"] = (nfp or {}).get("late")
    if errp:
        notes.append("newflow-paced: " + errp)
    # node1's pool counters around the paced run (sluice only)
    sb, _ = parse_json(os.path.join(d, "stats-node1-before-paced.json"))
    sa, _ = parse_json(os.path.join(d, "stats-node1-after-paced.json"))
    if sb and sa and "pool_hits" in sa:
        hits = sa["pool_hits"] - sb["pool_hits"]
        miss = sa["pool_misses"] - sb["pool_misses"]
        r["newflow_paced_pool_hit_pct"] = 100.0 * hits / (hits + miss) if hits + miss else None
    r["newflow_errors"] = (nf1 or {}).get("errors")
    r["newflow4_errors"] = (nf4 or {}).get("errors")
    if err1:
        notes.append("newflow-1: " + err1)
    if err4:
        notes.append("newflow-4: " + err4)
    # idle flows: idle.log (first half, or all with a one-step run) and
    # idle2.log (second half); snapshots before / mid / after
    ri, b, mid, a, per_flow = idle_figures(d, "idle", "idle", {
        "ok": "idle_flows_ok", "err": "idle_flows_err", "open": "idle_open_per_s",
        "rss1": "idle_user_b_per_flow_node1", "rss2": "idle_user_b_per_flow_node2",
        "marg1": "idle_user_marginal_b_per_flow_node1",
        "marg2": "idle_user_marginal_b_per_flow_node2"}, notes)
    r.update(ri)
    for x, snap in (("before", b), ("mid", mid), ("after", a)):
        r["idle_rss1_kb_" + x], r["idle_rss2_kb_" + x] = num(snap, "rss1_kb"), num(snap, "rss2_kb")
    r["idle_sockstat_b_per_flow"] = per_flow("tcp_mem_pages", 4096)
    r["idle_slab_tcp_b_per_flow"] = per_flow("slab_tcp_bytes", 1)
    r["idle_tcp_inuse_node1"] = num(a, "tcp1_inuse")
    r["idle_tcp_inuse_node2"] = num(a, "tcp2_inuse")
    http_run(d, clk, r, notes)
    return r, notes


def http_run(d, clk, r, notes):
    """issue 26's HTTP rows of one run of one mode (bench/run measure_http)"""
    ri, _, _, _, _ = idle_figures(d, "http-idle", "http-idle", {
        "ok": "http_idle_ok", "err": "http_idle_err", "open": "http_idle_open_per_s",
        "rss1": "http_idle_b_per_conn_node1", "rss2": "http_idle_b_per_conn_node2",
        "pss1": "http_idle_pss_b_per_conn_node1", "pss2": "http_idle_pss_b_per_conn_node2",
        "marg1": "http_idle_marginal_b_per_conn_node1",
        "marg2": "http_idle_marginal_b_per_conn_node2"}, notes)
    r.update(ri)
    for c in (1, 64):
        w, err = parse_wrk(os.path.join(d, "http-wrk-%d.txt" % c))
        r["http_rps%d" % c] = w["rps"] if w else None
        r["http_wrk%d_requests" % c] = w["requests"] if w else None
        r["http_wrk%d_errors" % c] = w["errors"] if w else None
        for k in ("p50", "p99"):
            r["http_wrk%d_%s_us" % (c, k)] = w.get(k) if w else None
        pc = kv(os.path.join(d, "http-wrk-%d.proxycpu" % c))
        for node in (1, 2):
            x, y = num(pc, "proxy%d_ticks_before" % node), num(pc, "proxy%d_ticks_after" % node)
            # no proxy process (plain): no figure
            r["http_cpu%d_us_node%d" % (c, node)] = (
                (y - x) / clk * 1e6 / w["requests"]) if (w and x is not None and y is not None
                                                         and (x or y)) else None
        if err and os.path.exists(os.path.join(d, "http-wrk-%d.proxycpu" % c)):
            notes.append("http-wrk-%d: %s" % (c, err))
        if w and w["errors"]:
            notes.append("http-wrk-%d: %d errors (non-2xx or socket)" % (c, w["errors"]))
    hp, errp = parse_json(os.path.join(d, "http-paced.json"))
    for k in ("p50", "p99", "p999"):
        r["http_paced_%s_us" % k] = hp.get("%s_us" % k) if hp and hp.get("flows") else None
    r["http_paced_errors"] = (hp or {}).get("errors")
    r["http_paced_late"] = (hp or {}).get("late")
    r["http_paced_rate"] = (hp or {}).get("rate")
    r["http_paced_proxy_cpu_pct"] = (
        proxy_cpu_pct_nodes(os.path.join(d, "http-paced.proxycpu"), clk)
        if hp and hp.get("flows") else None)
    if errp and os.path.exists(os.path.join(d, "http-paced.proxycpu")):
        notes.append("http-paced: " + errp)
    for c in (1, 4):
        hc, errc = parse_json(os.path.join(d, "http-close-%d.json" % c))
        r["http_close%d_rps" % c] = hc.get("requests_per_s") if hc and hc.get("requests") else None
        r["http_close%d_errors" % c] = (hc or {}).get("errors")
        if c == 1:
            for k in ("p50", "p99", "p999"):
                r["http_close1_%s_us" % k] = hc.get("%s_us" % k) if hc and hc.get("requests") else None
        if errc and os.path.exists(os.path.join(d, "http-close-%d.err" % c)):
            notes.append("http-close-%d: %s" % (c, errc))


def proxy_cpu_pct_nodes(path, clk):
    """both proxies' CPU over a test in % of one core, from bench/run's
    http_cpu file (ticks per node and wall clock before and after)"""
    pc = kv(path)
    t = [num(pc, "proxy%d_ticks_%s" % (n, w)) for n in (1, 2) for w in ("before", "after")]
    w0, w1 = num(pc, "wall_before"), num(pc, "wall_after")
    if None in t or None in (w0, w1) or w1 <= w0:
        return None
    return 100.0 * ((t[1] - t[0]) + (t[3] - t[2])) / clk / (w1 - w0)


def summarize(vals):
    v = sorted(x for x in vals if x is not None)
    if not v:
        return None
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return {"median": statistics.median(v), "min": v[0], "max": v[-1],
            "q1": q[0], "q3": q[2], "n": len(v)}


def fmt(x, unit):
    if x is None:
        return "-"
    if unit in ("B", "1/s"):
        return "%.0f" % x
    if unit == "Gbit/s":
        return "%.2f" % x
    if abs(x) >= 100:
        return "%.0f" % x
    return "%.1f" % x


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta = kv(os.path.join(raw, "meta.txt"))
    runs = sorted((d for d in os.listdir(raw) if re.match(r"run\d+$", d)),
                  key=lambda s: int(s[3:]))
    per_run = {m: [] for m in MODES}
    unavailable = {}
    notes = {m: [] for m in MODES}
    for rd in runs:
        for m in MODES:
            d = os.path.join(raw, rd, m)
            if not os.path.isdir(d):
                continue
            u = os.path.join(d, "unavailable")
            if os.path.exists(u):
                unavailable.setdefault(m, []).append("%s: %s" % (rd, open(u).read().strip()))
                continue
            r, n = one_run(d, meta)
            r["run"] = int(rd[3:])
            per_run[m].append(r)
            # a test that was not asked for (--tests) leaves no note
            asked = meta.get("tests", "idle,tput,lat,newflow").split(",")
            prefix = {"tput": "tput", "lat": ("pp-", "ul-"), "newflow": "newflow", "idle": "idle",
                      "http": "http"}
            skip = tuple(p for t, ps in prefix.items() if t not in asked
                         for p in ((ps,) if isinstance(ps, str) else ps))
            notes[m] += ["%s: %s" % (rd, x) for x in n if not (skip and x.startswith(skip))]
    summary = {m: {} for m in MODES}
    for m in MODES:
        for key, _, _, _ in METRICS:
            summary[m][key] = summarize([r.get(key) for r in per_run[m]])

    def med(m, k):
        s = summary[m].get(k)
        return s["median"] if s else None

    ratios = {}
    for key, _, _, _ in METRICS:
        s, p, h = med("sluice", key), med("plain", key), med("haproxy", key)
        fw = med("fwd", key)
        ratios[key] = {
            "sluice_over_plain": (s / p) if (s is not None and p) else None,
            "sluice_over_haproxy": (s / h) if (s is not None and h) else None,
            "sluice_over_fwd": (s / fw) if (s is not None and fw) else None,
            "haproxy_over_plain": (h / p) if (h is not None and p) else None,
            "fwd_over_plain": (fw / p) if (fw is not None and p) else None,
        }

    # ---- targets (issue 8) ----
    ktls = meta.get("ktls", "off")
    targets = []

    def target(name, ok, detail):
        status = "unknown" if ok is None else ("met" if ok else "not met")
        targets.append({"target": name, "status": status, "detail": detail})

    def why(*modes):
        for m in modes:
            if m in unavailable:
                return "%s unavailable: %s" % (m, unavailable[m][0])
            if not per_run[m]:
                return "%s not measured" % m
        return "a figure is missing (see notes)"
    why_sl = why("sluice")
    for n in (1, 4):
        s, h = med("sluice", "tput%d_gbps" % n), med("haproxy", "tput%d_gbps" % n)
        target("throughput (%d stream%s) >= 1.5x HAProxy" % (n, "s" if n > 1 else ""),
               None if s is None or h is None else s >= 1.5 * h,
               "sluice %s / HAProxy %s Gbit/s = %s" % (fmt(s, "Gbit/s"), fmt(h, "Gbit/s"),
                                                       "%.2fx" % (s / h) if s and h else why("sluice", "haproxy")))
    for key in ("pp64_p50_us", "pp1024_p50_us", "ul64_p50_us", "ul1024_p50_us"):
        s, h, p = med("sluice", key), med("haproxy", key), med("plain", key)
        ok = None
        detail = why("sluice", "haproxy", "plain")
        if None not in (s, h, p) and h <= p:
            # a halving of nothing is no target: say what was measured
            detail = "HAProxy adds no latency over plain here (%.1f vs %.1f us), sluice adds %.1f us" % (
                h, p, s - p)
        elif None not in (s, h, p):
            ok = (s - p) <= 0.5 * (h - p)
            detail = "added over plain: sluice %.1f us, HAProxy %.1f us (limit %.1f us)" % (
                s - p, h - p, 0.5 * (h - p))
            fw = med("fwd", key)
            if fw is not None:
                detail += "; the relay floor (two plaintext forwarders) adds %.1f us%s" % (
                    fw - p, ", more than the limit" if fw - p > 0.5 * (h - p) else "")
        target("added p50 latency <= half of HAProxy's (%s)" % key.split("_")[0], ok, detail)
    # judged on the paced (open-loop, fixed rate below saturation) new-flow
    # latency: back-to-back closed loops measure the flow rate, which the
    # connection pool bounds by its refill handshakes (flows_per_s_* and
    # the closed-loop newflow_* figures stay reported)
    s, p = med("sluice", "newflow_paced_p50_us"), med("plain", "newflow_paced_p50_us")
    fw = med("fwd", "newflow_paced_p50_us")
    target("new-flow latency p50 (paced %s flows/s, open loop) <= 2x plain TCP"
           % meta.get("flow_rate", "?"),
           None if s is None or p is None else s <= 2 * p,
           "sluice %s us, plain %s us = %s%s" % (
               fmt(s, "us"), fmt(p, "us"),
               "%.2fx" % (s / p) if s and p else why("sluice", "plain"),
               "; the relay floor %s us = %.2fx" % (fmt(fw, "us"), fw / p) if fw and p else ""))
    lim = 4096 if ktls == "on" else 16384
    u1, u2 = med("sluice", "idle_user_b_per_flow_node1"), med("sluice", "idle_user_b_per_flow_node2")
    worst = max(u1, u2) if None not in (u1, u2) else None
    target("userspace memory per idle flow <= %d KiB (%s, per node)" % (lim // 1024,
           "kTLS" if ktls == "on" else "userspace TLS"),
           None if worst is None else worst <= lim,
           ("average node1 %s B, node2 %s B per flow (marginal, 2nd half of the flows: node1 %s B,"
            " node2 %s B)" % (fmt(u1, "B"), fmt(u2, "B"),
                             fmt(med("sluice", "idle_user_marginal_b_per_flow_node1"), "B"),
                             fmt(med("sluice", "idle_user_marginal_b_per_flow_node2"), "B")))
           if worst is not None else why_sl)

    # ---- HTTP targets (issue 26) ----
    if "http" in meta.get("tests", ""):
        why_h = why("sluice", "haproxy")
        for c in (1, 64):
            s, h = med("sluice", "http_rps%d" % c), med("haproxy", "http_rps%d" % c)
            target("HTTP keep-alive requests/s (%d conn%s) >= 1.5x HAProxy" % (c, "s" if c > 1 else ""),
                   None if s is None or h is None else s >= 1.5 * h,
                   "sluice %s / HAProxy %s req/s = %s" % (
                       fmt(s, "1/s"), fmt(h, "1/s"), "%.2fx" % (s / h) if s and h else why_h))
        for k in ("p50", "p99"):
            key = "http_paced_%s_us" % k
            s, h, p = med("sluice", key), med("haproxy", key), med("plain", key)
            ok, detail = None, why("sluice", "haproxy", "plain")
            if None not in (s, h, p):
                ok = (s - p) <= (h - p)
                detail = "added over plain at %s req/s: sluice %.1f us, HAProxy %.1f us (plain %.1f us)" % (
                    meta.get("http_rate", "?"), s - p, h - p, p)
            target("HTTP added %s latency (paced, open loop) <= HAProxy's" % k, ok, detail)
        u1 = med("sluice", "http_idle_b_per_conn_node1")
        u2 = med("sluice", "http_idle_b_per_conn_node2")
        worst = max(u1, u2) if None not in (u1, u2) else None
        target("memory per idle keep-alive HTTP connection <= 16 KiB (per node)",
               None if worst is None else worst <= 16384,
               ("average node1 %s B, node2 %s B per connection (marginal: node1 %s B, node2 %s B;"
                " PSS node1 %s B); HAProxy node1 %s B" % (
                    fmt(u1, "B"), fmt(u2, "B"),
                    fmt(med("sluice", "http_idle_marginal_b_per_conn_node1"), "B"),
                    fmt(med("sluice", "http_idle_marginal_b_per_conn_node2"), "B"),
                    fmt(med("sluice", "http_idle_pss_b_per_conn_node1"), "B"),
                    fmt(med("haproxy", "http_idle_b_per_conn_node1"), "B")))
               if worst is not None else why_sl)

    # the targets of tests that were not run (--tests) are left out
    asked = meta.get("tests", "idle,tput,lat,newflow").split(",")
    l4 = (("tput", "throughput ("), ("lat", "added p50 latency <= half"),
          ("newflow", "new-flow latency"), ("idle", "userspace memory per idle flow"))
    targets[:] = [t for t in targets
                  if not any(x not in asked and t["target"].startswith(pre) for x, pre in l4)]

    result = {"meta": meta, "unavailable": unavailable, "notes": notes,
              "summary": summary, "ratios": ratios, "targets": targets,
              "runs": per_run}
    with open(out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)

    # ---- table ----
    print("sluice benchmark: %s runs, kernel %s, %s CPUs, kTLS %s, sluiced workers %s, busy poll %s, %s" % (
        meta.get("runs"), meta.get("kernel"), meta.get("cpus"), ktls, meta.get("workers"),
        meta.get("busy_poll", "off"), meta.get("date")))
    print("certificates: %s TLS 1.3 AES-128-GCM; loadavg start %s end %s" % (
        meta.get("cert", "").strip(";"), meta.get("loadavg_start"), meta.get("loadavg_end")))
    if meta.get("sluiced_opts", "none") != "none":
        print("sluiced options: %s" % meta["sluiced_opts"])
    if meta.get("cpus_online") and meta.get("cpus") != meta["cpus_online"]:
        print("every process on CPU(s) %s only (%s of %s online, --cpus): not the judged set-up"
              % (meta.get("affinity"), meta.get("cpus"), meta["cpus_online"]))
    print("median [min..max] over runs\n")
    hdr = "%-32s %-7s %-22s %-22s %-22s %-22s %-8s %-8s %-8s" % (
        "metric", "unit", "plain", "fwd (floor)", "haproxy", "sluice", "sl/plain", "sl/hap",
        "sl/fwd")
    print(hdr)
    print("-" * len(hdr))
    for key, label, unit, _ in METRICS:
        if all(not summary[m][key] for m in MODES):
            continue  # a test that was not run (--tests)
        cells = []
        for m in MODES:
            s = summary[m][key]
            cells.append("-" if not s else "%s [%s..%s]" % (
                fmt(s["median"], unit), fmt(s["min"], unit), fmt(s["max"], unit)))
        rs = [ratios[key][k] for k in ("sluice_over_plain", "sluice_over_haproxy",
                                       "sluice_over_fwd")]
        print("%-32s %-7s %-22s %-22s %-22s %-22s %-8s %-8s %-8s" % (
            (label, unit) + tuple(cells) +
            tuple("%.2f" % x if x is not None else "-" for x in rs)))
    print("\ntargets:")
    for t in targets:
        print("  %-8s %s: %s" % (t["status"], t["target"], t["detail"]))
    for m, why in unavailable.items():
        print("\n%s UNAVAILABLE in %d run(s): %s" % (m, len(why), why[0]))
    for m in MODES:
        for n in notes[m][:8]:
            print("note %s %s" % (m, n))
    print("\nJSON: %s" % out)


if __name__ == "__main__":
    main()
