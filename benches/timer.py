#!/usr/bin/env python3
"""Times whole commands side by side: timer.py [-n N] [--warmup W] [--between CMD] NAME=CMD [NAME=CMD ...]

Each CMD runs through `sh -c` (so `$$` gives a unique id per run), stdin from
/dev/null, output discarded. Commands alternate round-robin so that drift in
the machine's state affects all alike. Prints min/median/max wall time, the
median peak RSS of the process tree (wait4's ru_maxrss), the exit codes seen,
and each median as a ratio to the first command's. --between runs an untimed
shell command after every run (cleanup, sync).
"""
import os, statistics, subprocess, sys, time


def once(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def main():
    args, n, warm, between = sys.argv[1:], 20, 2, None
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "-n":
            n = int(args.pop(0))
        elif opt == "--warmup":
            warm = int(args.pop(0))
        elif opt == "--between":
            between = args.pop(0)
        else:
            sys.exit(__doc__)
    cmds = [a.split("=", 1) for a in args]
    if not cmds or any(len(c) != 2 for c in cmds):
        sys.exit(__doc__)
    results = {name: [] for name, _ in cmds}
    for i in range(warm + n):
        for name, cmd in cmds:
            r = once(cmd)
            if between:
                subprocess.run(["sh", "-c", between], check=False)
            if i >= warm:
                results[name].append(r)
    base = statistics.median(r[0] for r in results[cmds[0][0]])
    print(f"{'command':<14} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'peak MiB':>9} {'ratio':>6}  exit codes")
    for name, _ in cmds:
        rs = results[name]
        walls = [r[0] * 1000 for r in rs]
        med = statistics.median(walls)
        codes = sorted({r[2] for r in rs})
        print(f"{name:<14} {min(walls):8.2f} {med:10.2f} {max(walls):8.2f} {statistics.median(r[1] for r in rs):9.1f} "
              f"{med / (base * 1000):6.2f}  {codes}")


if __name__ == "__main__":
    main()
