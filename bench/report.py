#!/usr/bin/env python3
"""Turns bench/run's raw results into bench/RESULTS.md.

  report.py META.json RESULTS.jsonl OUT.md
"""
import json
import statistics
import sys

NAMES = {
    "direct": "direct (no proxy)",
    "microsocks": "microsocks",
    "dante": "Dante (sockd)",
    "ssh-chacha": "ssh -D, chacha20-poly1305",
    "ssh-aesgcm": "ssh -D, aes128-gcm",
    "shadowsocks": "shadowsocks-libev, aes-256-gcm",
    "stunnel-dante": "stunnel pair + Dante",
    "mxegress": "**mxegress** (pool 4)",
}
ORDER = list(NAMES)
ENCRYPTED = {"ssh-chacha", "ssh-aesgcm", "shadowsocks", "stunnel-dante", "mxegress"}
ALTERNATIVES = [p for p in ORDER if p not in ("direct", "mxegress")]
# Median steal (share of CPU time) from which a run is flagged as taken under
# heavy steal: several times the 1-2% of a quiet hour here.
STEAL_HEAVY_SHARE = 0.10


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    rows.append({"peer": "?", "workload": "?", "result": {"ok": False, "error": "bad line: " + line[:200]}})
    return rows


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


class Figures:
    """Per (peer, workload): the metric of each ok run, and failures."""

    def __init__(self, rows):
        self.rows = rows
        self.failures = []

    def runs(self, peer, workload):
        out = []
        for r in self.rows:
            if r.get("peer") != peer or r.get("workload") != workload:
                continue
            res = r.get("result", {})
            if not res.get("ok"):
                self.failures.append(f"{peer} {workload} run {r.get('run')}: {res.get('error') or 'failed'}")
                if workload != "idle" or not res.get("ready"):
                    continue
            out.append(r)
        return out

    def metric(self, peer, workload, fn):
        vals = []
        for r in self.runs(peer, workload):
            try:
                vals.append(fn(r))
            except (KeyError, TypeError, ZeroDivisionError):
                pass
        return median(vals), len(vals)


def main():
    meta = json.load(open(sys.argv[1]))
    rows = load(sys.argv[2])
    figs = Figures(rows)
    peers = [p for p in ORDER if any(r.get("peer") == p for r in rows)]
    alts = [p for p in ALTERNATIVES if p in peers]
    out = []
    w = out.append

    quick = meta.get("quick") == "1"
    # Machine load per peer (the last table); the Machine section takes the median steal of all runs.
    loads, others, steal_by_peer = {}, {}, {}
    for r in rows:
        if r.get("peer") not in NAMES:
            continue
        if "load1" in r:
            loads.setdefault(r["peer"], []).append(float(r["load1"]))
        if "other_cores" in r:
            others.setdefault(r["peer"], []).append(float(r["other_cores"]))
        if "steal_share" in r:
            steal_by_peer.setdefault(r["peer"], []).append(float(r["steal_share"]))
    w("# Benchmark results")
    w("")
    w(f"Measured by `bench/run` on {meta['date']} (finished {meta['end']})"
      + (" in **quick mode** (small sizes, one run each: a check that every peer works, not figures to quote)." if quick else "."))
    w("Rerunning `bench/run` replaces this file. docs/performance.md says how to run it and what was changed.")
    w("")
    w("## Machine")
    w("")
    w(f"- {meta['nproc']} CPUs: {meta['cpu']}; {meta['mem']} memory; {meta['os']}, kernel {meta['kernel']}")
    w(f"- **Shared**: the machine runs other work besides this benchmark "
      f"(load average {meta['load_start']} at the start, {meta['load_end']} at the end; each peer's load is in the last "
      "table), so absolute figures are noisy; the peers ran one at a time, in rounds, and the ratios within this run "
      "are what counts.")
    steals = [x for v in steal_by_peer.values() for x in v]
    if steals:
        heavy = statistics.median(steals) >= STEAL_HEAVY_SHARE
        w(f"- **Steal** (the share of CPU time the hypervisor gave to other guests, from /proc/stat): "
          f"median {statistics.median(steals):.0%}, max {max(steals):.0%} over the timed runs"
          + (". **This run was taken under heavy steal**: every figure is slowed by it, and unevenly, since steal "
             "comes and goes between runs; do not quote it against a quiet run." if heavy else "; each peer's is in the last table."))
    w(f"- Everything on loopback (127.0.0.1); load generator, destination, and the proxy processes share the {meta['nproc']} CPUs. "
      f"tcp_rmem `{meta['tcp_rmem']}`, tcp_wmem `{meta['tcp_wmem']}`.")
    w("")
    w("## Versions")
    w("")
    if meta.get("mx_bins"):
        w(f"- mxegress: {meta['v_mx']}, binaries given by BENCH_MX_SERVER/BENCH_MX_CLIENT ({meta['mx_bins']}); {meta['v_openssl']}")
    else:
        w(f"- mxegress: {meta['v_mx']} (tree at commit {meta['v_mx_commit']}), Release build; {meta['v_openssl']}")
    if meta.get("mx_records"):
        w(f"- mxegress TLS records after the handshake: {meta['mx_records']}")
    w(f"- microsocks {meta['v_micro']}; dante-server {meta['v_dante']}; openssh-server {meta['v_sshd']}, "
      f"openssh-client {meta['v_ssh']}; shadowsocks-libev {meta['v_ss']}; stunnel4 {meta['v_stunnel']} (Debian packages)")
    w("")
    w("## Method")
    w("")
    gib = 1 << 30
    mib = 1 << 20
    order = (", taken in rounds (run 1 of every peer, then run 2 of every peer, …)" if meta.get("order") == "rounds"
             else ", all runs of one peer in a row")
    w(f"- Each figure is the **median of {meta['runs']} run(s)**{order}. Ratios: `× direct` is peer / direct; "
      "`× best alt.` is against the best of the alternatives (every peer except direct and mxegress) in this run; "
      "for latency and memory lower is better and the ratio is still peer / reference.")
    w(f"- bulk: one connection, {int(meta['bulk']) / mib:,.0f} MiB each way at once; MB/s = 10^6 bytes/s **each way** "
      "(both directions move that much at the same time). CPU = user+system seconds of the proxy's processes (client and server "
      "for pairs, children included) per GiB relayed, both directions counted.")
    w(f"- parallel: {meta['par_conns']} connections × {int(meta['par_bytes']) / mib:,.0f} MiB each way: aggregate MB/s each way.")
    w(f"- latency: {meta['lat']} sequential sessions (after {meta['lat_warmup']} not counted): connect() to the SOCKS5 port → "
      "first byte of the destination's `220` banner, then QUIT/221/close. The load generator and the destination set TCP_NODELAY.")
    w(f"- smtp: {meta['smtp_workers']} workers for {meta['smtp_seconds']} s, each session: SOCKS5, banner, `QUIT`, `221`, close.")
    w(f"- idle: {meta['idle']} relayed connections opened (banner read) and held idle; RSS of the proxy's processes "
      "(client + server for pairs, every child process) with them open minus before, / connections. Each run starts the peer afresh.")
    w("- Peers run with their packaged defaults plus what loopback needs: microsocks `-i 127.0.0.1`; Dante one mother process, "
      "no authentication, `external: 127.0.0.1`; sshd with a root login by Ed25519 key, `ssh -N -D` with `-o Ciphers=…`, "
      "no compression; ss-server/ss-local aes-256-gcm without `--no-delay` (its default); stunnel client → stunnel server "
      "(self-signed P-256 certificate, verified by the client) → a Dante of its own; mxegress `pool = 4`, "
      "`sessions_per_tunnel` at its default (100 sessions per tunnel), "
      "`log_level = \"warn\"`, server threads default (one per CPU).")
    w("")

    # ---------------- bulk
    def bulk_mbps(r):
        return r["result"]["mbps_each_way"]

    def bulk_cpu(r):
        moved = 2 * r["result"]["bytes_each_way"] / gib
        return r["cpu_s"] / moved

    def best_of(vals, group, higher=True):
        """(figure, peer) of the best peer in GROUP; vals maps peer -> (figure, ...)."""
        cands = [(vals[p][0], p) for p in group if p in vals and vals[p][0] is not None]
        if not cands:
            return None, None
        return (max if higher else min)(cands)

    def table_rate(title, workload, fn, extra=None):
        vals = {p: figs.metric(p, workload, fn) for p in peers}
        best_alt, best_name = best_of(vals, alts)
        direct = vals.get("direct", (None, 0))[0]
        w(title)
        w("")
        head = "| peer | MB/s each way | (both ways) | × direct | × best alt. |" + ("" if not extra else " CPU s / GiB |") + " runs |"
        w(head)
        w("|" + "---|" * (head.count("|") - 1))
        for p in peers:
            v, n = vals[p]
            if n == 0 and not any(r.get("peer") == p and r.get("workload") == workload for r in rows):
                continue
            cells = [NAMES[p], fmt(v), "–" if v is None else fmt(2 * v), fr(ratio(v, direct)), fr(ratio(v, best_alt))]
            if extra:
                c, _ = figs.metric(p, workload, extra)
                cells.append("–" if p == "direct" else fmt(c, 2))
            cells.append(str(n))
            w("| " + " | ".join(cells) + " |")
        w("")
        if best_name:
            w(f"Best alternative: {NAMES[best_name]}.")
            w("")
        return vals

    bulk = table_rate("## 1. Bulk, one connection", "bulk", bulk_mbps, bulk_cpu) if any(r.get("workload") == "bulk" for r in rows) else {}
    par = table_rate("## 2. 32 connections in parallel", "parallel", bulk_mbps) if any(r.get("workload") == "parallel" for r in rows) else {}

    # ---------------- latency
    lat = {}
    if any(r.get("workload") == "latency" for r in rows):
        for p in peers:
            p50, n = figs.metric(p, "latency", lambda r: r["result"]["p50_us"])
            p99, _ = figs.metric(p, "latency", lambda r: r["result"]["p99_us"])
            slow, _ = figs.metric(p, "latency", lambda r: r["result"]["over_30ms"] / max(1, r["result"]["sessions"]))
            lat[p] = (p50, p99, slow, n)
        best_alt, best_name = best_of(lat, alts, higher=False)
        direct = lat.get("direct", (None,))[0]
        w("## 3. Setup latency: connect → first byte of the banner")
        w("")
        w("| peer | p50 µs | p99 µs | p50 × direct | p50 × best alt. | sessions ≥ 30 ms | TCP_NODELAY (inferred) | runs |")
        w("|---|---|---|---|---|---|---|---|")
        for p in peers:
            p50, p99, slow, n = lat[p]
            if p == "direct":
                nd = "n/a (load generator and destination set it)"
            elif p50 is None:
                nd = "–"
            elif p50 >= 30000:
                nd = "**no**: every banner waits ~40 ms (Nagle against delayed ACK)"
            elif slow is not None and slow > 0.01:
                nd = f"partly: {slow:.0%} of sessions stall ≥ 30 ms"
            else:
                nd = "yes (no 40 ms stalls)"
            w(f"| {NAMES[p]} | {fmt(p50)} | {fmt(p99)} | {fr(ratio(p50, direct))} | {fr(ratio(p50, best_alt))} | "
              f"{'–' if slow is None else f'{slow:.1%}'} | {nd} | {n} |")
        w("")
        if best_name:
            w(f"Best alternative (p50): {NAMES[best_name]}. A p50 near 40 ms is the signature of a relay that writes the SOCKS5 "
              "reply and then the banner as two small segments without TCP_NODELAY: the second waits for the client's delayed ACK. "
              "SMTP is server-speaks-first, so this is exactly a mail gateway's case.")
            w("")

    # ---------------- smtp
    smtp = {}
    if any(r.get("workload") == "smtp" for r in rows):
        for p in peers:
            smtp[p] = figs.metric(p, "smtp", lambda r: r["result"]["sessions_per_s"])
        best_alt, best_name = best_of(smtp, alts)
        direct = smtp.get("direct", (None,))[0]
        w("## 4. SMTP-like short sessions")
        w("")
        w("| peer | sessions/s | × direct | × best alt. | runs |")
        w("|---|---|---|---|---|")
        for p in peers:
            v, n = smtp[p]
            w(f"| {NAMES[p]} | {fmt(v)} | {fr(ratio(v, direct))} | {fr(ratio(v, best_alt))} | {n} |")
        w("")
        if best_name:
            w(f"Best alternative: {NAMES[best_name]}.")
            w("")
        hs = [r for r in rows if r.get("workload") == "handshakes"]
        info_runs = figs.runs("mxegress-info", "smtp")
        if hs and info_runs:
            auth = sum(r["auth_ok"] for r in hs)
            sessions = sum(r["result"]["sessions"] for r in info_runs)
            rate = median([r["result"]["sessions_per_s"] for r in info_runs])
            hps = auth / sessions if sessions else None
            smtp["_handshakes"] = hps
            w(f"**mxegress TLS handshakes per session** (a separate run of the same workload with the server at "
              f"`log_level = \"info\"`, counting its `auth ok` lines, one per authenticated tunnel): {auth} handshakes for "
              f"{sessions:,} sessions = **{hps:.4f} per session** ({fmt(rate)} sessions/s in that run, with a log line per session).")
            w("")

    # ---------------- idle
    idle = {}
    if any(r.get("workload") == "idle" for r in rows):
        def per_conn(r):
            opened = r["result"].get("open") or r["count"]
            return (r["rss_with_kb"] - r["rss_before_kb"]) / opened
        for p in peers:
            if p == "direct":
                continue
            v, n = figs.metric(p, "idle", per_conn)
            procs, _ = figs.metric(p, "idle", lambda r: r["procs_with"])
            opened, _ = figs.metric(p, "idle", lambda r: r["result"].get("open"))
            idle[p] = (v, n, procs, opened)
        best_alt, _ = best_of(idle, alts, higher=False)
        best_enc, _ = best_of(idle, [p for p in alts if p in ENCRYPTED], higher=False)
        w(f"## 5. {meta['idle']} idle relayed connections: memory")
        w("")
        w("| peer | RSS KB per connection | × best alt. | × best encrypted alt. | processes with them open | connections open | runs |")
        w("|---|---|---|---|---|---|---|")
        for p in peers:
            if p not in idle:
                continue
            v, n, procs, opened = idle[p]
            w(f"| {NAMES[p]} | {fmt(v, 1)} | {fr(ratio(v, best_alt))} | {fr(ratio(v, best_enc))} | {fmt(procs)} | {fmt(opened)} | {n} |")
        w("")
        w("KB = 1024 bytes (VmRSS). Direct has no proxy process.")
        w("")

    # ---------------- record layer A/B
    own, n_own = figs.metric("mxegress", "bulk", bulk_mbps)
    ossl, n_ossl = figs.metric("mxegress-openssl-records", "bulk", bulk_mbps)
    if n_ossl:
        own_cpu, _ = figs.metric("mxegress", "bulk", bulk_cpu)
        ossl_cpu, _ = figs.metric("mxegress-openssl-records", "bulk", bulk_cpu)
        w("## mxegress: its own TLS record layer vs OpenSSL's (bulk, one connection)")
        w("")
        w("The same binaries; the second row with `MXEGRESS_TLS_RECORDS=openssl` on both programs, so OpenSSL "
          f"protects the records after the handshake. Own record layer here: {meta.get('mx_records') or '?'}.")
        w("")
        w("| records after the handshake | MB/s each way | CPU s / GiB | runs |")
        w("|---|---|---|---|")
        w(f"| mxegress's own (Tls13RecordLayer) | {fmt(own)} | {fmt(own_cpu, 2)} | {n_own} |")
        w(f"| OpenSSL's | {fmt(ossl)} | {fmt(ossl_cpu, 2)} | {n_ossl} |")
        w("")
        w(f"Own / OpenSSL's: {fr(ratio(own, ossl))} the throughput, {fr(ratio(own_cpu, ossl_cpu))} the CPU per GiB.")
        w("")

    # ---------------- threads
    t1, n1 = figs.metric("mxegress-threads1", "parallel", bulk_mbps)
    t2, n2 = figs.metric("mxegress-threads2", "parallel", bulk_mbps)
    w("## mxegress: 1 vs 2 server threads (32 connections in parallel)")
    w("")
    if n1 or n2:
        w("| server threads | MB/s each way | runs |")
        w("|---|---|---|")
        w(f"| 1 | {fmt(t1)} | {n1} |")
        w(f"| 2 | {fmt(t2)} | {n2} |")
        w("")
        w(f"2 threads / 1 thread: {fr(ratio(t2, t1))}. On a 2-CPU machine the load generator, the destination and the "
          "mxegress client compete with the server for the same CPUs, so the ceiling of this scaling is low.")
        # Whether the work spreads over the loops at all: the two busiest server
        # threads' shares of the server's CPU in the 2-thread runs.
        shares = []
        for r in figs.runs("mxegress-threads2", "parallel"):
            per_thread = r.get("server_thread_cpu_s") or []
            total = sum(per_thread)
            if len(per_thread) >= 2 and total > 0:
                shares.append((per_thread[0] / total, per_thread[1] / total))
        if shares:
            top = median([a for a, _ in shares])
            second = median([b for _, b in shares])
            w("")
            w(f"With 2 threads the server's two busiest threads carried {top:.0%} and {second:.0%} of its CPU "
              f"(median of {len(shares)} runs): how evenly the tunnels were spread over the loops "
              f"(SO_REUSEPORT, and since 2026-11-23 the hand-off of a new tunnel to the loop with fewer).")
    else:
        w(meta.get("threads_note") or "threads: not measured")
    w("")

    # ---------------- targets
    w("## Targets of issue 5 (ratios from this run)")
    w("")
    rows_t = []

    def check(name, ok, detail):
        rows_t.append(f"| {name} | {'–' if ok is None else ('met' if ok else '**not met**')} | {detail} |")

    if bulk and "mxegress" in bulk:
        mx = bulk["mxegress"][0]
        be, bn = best_of(bulk, [p for p in alts if p in ENCRYPTED])
        dante = bulk.get("dante", (None,))[0]
        r1, r2 = ratio(mx, be), ratio(mx, dante)
        check("bulk ≥ 1.5× best encrypted peer", None if r1 is None else r1 >= 1.5,
              f"{fmt(mx)} MB/s vs {fmt(be)} ({NAMES.get(bn, '–')}): {fr(r1)}")
        check("bulk ≥ Dante", None if r2 is None else r2 >= 1.0, f"{fmt(mx)} vs {fmt(dante)} MB/s: {fr(r2)}")
    if lat and "mxegress" in lat:
        mp50, mp99 = lat["mxegress"][0], lat["mxegress"][1]
        dp50 = lat.get("dante", (None,))[0]
        r = ratio(mp50, dp50)
        check("latency p50 ≤ 0.8× Dante's", None if r is None else r <= 0.8, f"{fmt(mp50)} µs vs {fmt(dp50)} µs: {fr(r)}")
        check("latency p99 ≤ 2 ms", None if mp99 is None else mp99 <= 2000, f"{fmt(mp99)} µs")
    if smtp and "mxegress" in smtp:
        mx = smtp["mxegress"][0]
        be, bn = best_of(smtp, alts)
        r = ratio(mx, be)
        check("sessions/s ≥ 1.5× best peer", None if r is None else r >= 1.5,
              f"{fmt(mx)} vs {fmt(be)} ({NAMES.get(bn, '–')}): {fr(r)}")
        hps = smtp.get("_handshakes")
        check("TLS handshakes per session ≤ 0.01", None if hps is None else hps <= 0.01, "–" if hps is None else f"{hps:.4f}")
    if idle and "mxegress" in idle:
        mx = idle["mxegress"][0]
        be, bn = best_of(idle, [p for p in alts if p in ENCRYPTED], higher=False)
        check("idle memory ≤ best encrypted peer's", None if mx is None or be is None else mx <= be,
              f"{fmt(mx, 1)} KB vs {fmt(be, 1)} KB ({NAMES.get(bn, '–')})")
    if n1 and n2:
        check("32-connection figure scales with threads (≥ 1.2× from 1 to 2)", None if t1 is None or t2 is None else t2 >= t1 * 1.2,
              f"1 thread {fmt(t1)}, 2 threads {fmt(t2)} MB/s: {fr(ratio(t2, t1))}")
    elif par:
        check("32-connection figure scales with threads", None, meta.get("threads_note") or "not measured")
    if rows_t:
        w("| target | status | figures |")
        w("|---|---|---|")
        out.extend(rows_t)
        w("")

    if loads:
        w("## Machine load during the runs")
        w("")
        if others:
            w("**Other work** is what the machine's CPU did during a run besides the proxy, the destination and "
              "the load generator (busy CPU from /proc/stat minus theirs, per second of the run, in cores; "
              "2 CPUs in all). It is not all foreign: this kernel charges interrupt time to the task it "
              "interrupts, and loopback TCP's receive work (softirq) that runs on an otherwise idle CPU is "
              "charged to no process, so a part of it is the run's own traffic (about 0.2 cores in a quiet "
              "5 s SMTP run of mxegress alone). Compare it between peers rather than read it as load from "
              "elsewhere. The 1-minute load average when each run ended is a weaker sign: it decays "
              "over minutes, so it carries the previous runs (a peer that forks hundreds of processes) over.")
            w("")
            w("**Steal** is the share of this machine's CPU time that the hypervisor gave to other guests "
              "during the run: time in which nothing here ran at all.")
            w("")
            w("| peer | other work, median cores | max | steal, median | max | load average at the end, median | max |")
            w("|---|---|---|---|---|---|---|")
            for p in peers:
                if p in loads:
                    v, o, st = loads[p], others.get(p, []), steal_by_peer.get(p, [])
                    om = f"{statistics.median(o):.2f} | {max(o):.2f}" if o else "– | –"
                    sm = f"{statistics.median(st):.0%} | {max(st):.0%}" if st else "– | –"
                    w(f"| {NAMES[p]} | {om} | {sm} | {statistics.median(v):.1f} | {max(v):.1f} |")
        else:
            w("1-minute load average when each of the peer's runs ended (2 CPUs; the benchmark itself accounts for about 2).")
            w("")
            w("| peer | min | median | max |")
            w("|---|---|---|---|")
            for p in peers:
                if p in loads:
                    v = loads[p]
                    w(f"| {NAMES[p]} | {min(v):.1f} | {statistics.median(v):.1f} | {max(v):.1f} |")
        w("")

    if figs.failures:
        w("## Failed runs")
        w("")
        for f in sorted(set(figs.failures)):
            w(f"- {f}")
        w("")

    with open(sys.argv[3], "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
