#!/usr/bin/env python3
"""Process-tree figures for bench/run.

  procstat.py tree PID...   the PIDs and all their descendants, one per line
  procstat.py rss PID...    "KB NPROC": VmRSS summed over the trees
  procstat.py cpu PID...    CPU seconds (utime+stime+cutime+cstime) summed over the trees
  procstat.py threads PID   {"TID": CPU seconds, ...} of each thread of one process (JSON)
  procstat.py machine       "BUSY STEAL TOTAL", CPU seconds of the whole machine from
                            one read of /proc/stat: busy (user, nice, system, irq,
                            softirq; not idle, iowait, steal), steal (given by the
                            hypervisor to other guests), and every field summed

A proxy's tree is the process bench/run started and every descendant (Dante's
and sshd's children, stunnel's threads are inside one process anyway).
"""
import os
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # comm may contain spaces and parentheses: split after the last ')'
    rest = data[data.rindex(")") + 2:].split()
    return rest  # rest[0] is field 3 (state)


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(stat_fields(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(pids):
    kids = children_map()
    seen, todo = [], [int(p) for p in pids]
    while todo:
        p = todo.pop()
        if p in seen or not os.path.exists(f"/proc/{p}"):
            continue
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    try:
        f = stat_fields(pid)
    except OSError:
        return 0.0
    # fields 14..17 (utime stime cutime cstime) are rest[11..14]
    return sum(int(x) for x in f[11:15]) / CLK_TCK


def thread_cpu(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(")") + 2:].split()
        out[tid] = round(sum(int(x) for x in rest[11:13]) / CLK_TCK, 2)
    return out


def machine_cpu_s():
    with open("/proc/stat") as f:
        fields = [int(x) / CLK_TCK for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq, steal, sum(fields)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("tree", "rss", "cpu", "threads", "machine"):
        sys.exit(__doc__)
    if sys.argv[1] == "machine":
        print(" ".join(f"{x:.2f}" for x in machine_cpu_s()))
        return
    if sys.argv[1] == "threads":
        import json
        print(json.dumps(thread_cpu(int(sys.argv[2]))))
        return
    pids = tree(sys.argv[2:])
    if sys.argv[1] == "tree":
        print("\n".join(str(p) for p in pids))
    elif sys.argv[1] == "rss":
        print(sum(rss_kb(p) for p in pids), len(pids))
    else:
        print(f"{sum(cpu_s(p) for p in pids):.2f}")


if __name__ == "__main__":
    main()
