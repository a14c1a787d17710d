#!/usr/bin/env python3
"""Benchmark (not a test): the ferroban daemon against the real fail2ban-server.

Both servers get the same configuration directory (two jails on one Apache access
log: the guide's wordpress-auth and apache-envscan filters, and a command action
that appends the banned address to a file) and the same appended log lines.
Reported per server: ingest rate per CPU second until every failure is counted,
CPU seconds (and those of the busiest thread: the share of the time one thread
does), idle and loaded RSS, ban latency (line written -> action ran),
time to ban N addresses through the client, and start-up time with those bans to
restore. Usage: scripts/bench-server.sh [LINES] [BANS_FERROBAN] [BANS_FAIL2BAN]

With --sshd: one sshd jail (Fail2ban's stock filter from /etc/fail2ban) on a
generated auth.log (scripts/gen-authlog.py, stamped up to now); reported: ingest
rate per CPU second until a final burst of failures is banned, the CPU seconds
(and the busiest thread's), and RSS.
With --sshd --callgrind (needs valgrind): the daemon's cost per line outside the
filter, from instruction counts of the ingest alone (a count does not move with the
load of a shared machine; the CPU time does).
With --sshd, fail2ban-rs runs too when it is installed (or FAIL2BAN_RS names its
binary), with its own sshd jail (its patterns, not Fail2ban's filter) on the same log.
With --seed N: the logs generated from seed N, not the benchmarks' (a profile-guided
build trains on logs the benchmarks do not read).
With --sshd --mode MODE: the stock sshd filter in that mode (normal, ddos, extra or
aggressive; default normal). fail2ban-rs has no modes: its jail is the same in each.
"""
import os, random, re, shutil, signal, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERROBAN = os.environ.get("FERROBAN", os.path.join(ROOT, "target/release/ferroban"))
# fail2ban-rs (cargo install fail2ban-rs), a peer of --sshd's when installed
FAIL2BAN_RS = os.environ.get("FAIL2BAN_RS") or shutil.which("fail2ban-rs")
SSHD = "--sshd" in sys.argv
CALLGRIND = "--callgrind" in sys.argv
sys.argv = [a for a in sys.argv if a not in ("--sshd", "--callgrind")]
SEED = None
if "--seed" in sys.argv:
    at = sys.argv.index("--seed")
    SEED = int(sys.argv[at + 1])
    del sys.argv[at:at + 2]
MODE = "normal"
if "--mode" in sys.argv:
    at = sys.argv.index("--mode")
    MODE = sys.argv[at + 1]
    del sys.argv[at:at + 2]
    if MODE not in ("normal", "ddos", "extra", "aggressive"):
        sys.exit("--mode: one of normal, ddos, extra, aggressive (the stock sshd filter's modes)")
LINES = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100000
NUMBERS = [int(a) for a in sys.argv[1:] if a.isdigit()]
BANS = {"ferroban": NUMBERS[1] if len(NUMBERS) > 1 else 100000,
        "fail2ban": NUMBERS[2] if len(NUMBERS) > 2 else 10000}
OUT = os.path.join(ROOT, "bench-out", "server")
TICK = os.sysconf("SC_CLK_TCK")


def generate(n):
    """Apache access lines stamped now; 0.5 % wp-login 403s, 0.3 % .env probes."""
    random.seed(7 if SEED is None else SEED)
    ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    paths = ["/", "/blog/", "/blog/2026/02/hello/", "/wp-content/themes/x/style.css", "/feed/"]
    lines, fails = [], 0
    for _ in range(n):
        ip = "%d.%d.%d.%d" % (random.randint(11, 99), random.randint(0, 255), random.randint(0, 255), random.randint(1, 254))
        r = random.random()
        if r < 0.005:
            req, code = "POST /blog/wp-login.php HTTP/1.1", 403
            fails += 1
        elif r < 0.008:
            req, code = "GET /.env HTTP/1.1", 404
            fails += 1
        else:
            req, code = "GET %s HTTP/1.1" % random.choice(paths), 200
        lines.append('%s - - [%s] "%s" %d 512 "-" "Mozilla/5.0"\n' % (ip, ts, req, code))
    return "".join(lines), fails


def write_server_config(d):
    """The action (append the address to bans.out) and the server's own settings."""
    with open(os.path.join(d, "action.d/bench.conf"), "w") as f:
        f.write("[Definition]\nactionban = echo <ip> >> %s/bans.out\nactionunban = true\n" % d)
    with open(os.path.join(d, "fail2ban.conf"), "w") as f:
        f.write("[Definition]\nloglevel = INFO\nlogtarget = %s/server.log\nsocket = %s/server.sock\n"
                "pidfile = %s/server.pid\ndbfile = %s/db.sqlite3\ndbpurgeage = 1d\n" % (d, d, d, d))


SENTINEL = "198.18.255.1"


def generate_auth(n):
    """A generated auth.log ending now, then failures that ban SENTINEL at once."""
    seed = [] if SEED is None else ["--seed", str(SEED)]
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen-authlog.py"), str(n),
                          "--end-at", str(time.time())] + seed, capture_output=True, text=True, check=True)
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime())
    burst = "".join("%s vps sshd[9%d]: Failed password for root from %s port 4%d ssh2\n" % (stamp, i, SENTINEL, i)
                    for i in range(6))
    return gen.stdout + burst


def setup_sshd(name):
    d = os.path.join(OUT, "sshd-" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "filter.d"))
    os.makedirs(os.path.join(d, "action.d"))
    for f in ["common.conf", "sshd.conf"]:
        shutil.copy(os.path.join("/etc/fail2ban/filter.d", f), os.path.join(d, "filter.d", f))
    write_server_config(d)
    with open(os.path.join(d, "jail.local"), "w") as f:
        # findtime far longer than the log: no address's failures straddle its edge,
        # where the moment each daemon reads a line (not the filter) would decide.
        f.write("[DEFAULT]\nbackend = auto\naction = bench\nmaxretry = 3\nfindtime = 4w\nbantime = 1d\n"
                "[sshd]\nenabled = true\nfilter = sshd[mode=%s]\nlogpath = %s/auth.log\n" % (MODE, d))
    open(os.path.join(d, "auth.log"), "w").close()
    return d


def setup_fail2ban_rs():
    """fail2ban-rs's own sshd jail (`gen-config sshd`: its patterns, not Fail2ban's
    filter) on the same auth.log, with the same counting and a script action that
    appends the banned address to bans.out, as the others' bench action does."""
    d = os.path.join(OUT, "sshd-fail2ban-rs")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    jail = subprocess.run([FAIL2BAN_RS, "gen-config", "sshd"], capture_output=True, text=True, check=True).stdout
    jail = "\n".join(l for l in jail.splitlines() if not l.startswith(("log_path", "backend")))
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write('[global]\nstate_dir = "%s/state"\nsocket_path = "%s/server.sock"\n\n' % (d, d))
        f.write(jail + '\nlog_path = "%s/auth.log"\nmax_retry = 3\nfind_time = "4w"\nban_time = "1d"\n'
                '[jail.sshd.backend.script]\nban_cmd = "echo <IP> >> %s/bans.out"\nunban_cmd = "true"\n' % (d, d))
    open(os.path.join(d, "auth.log"), "w").close()
    return d


def bench_sshd(name, text):
    d = setup_fail2ban_rs() if name == "fail2ban-rs" else setup_sshd(name)
    out = d + "/bans.out"
    banned = lambda: os.path.exists(out) and SENTINEL in open(out).read()
    pid, r = ingest(name, d, "auth.log", text, banned, 3600)
    r["lines per CPU s"] = text.count("\n") / max(r["ingest CPU s"], 1.0 / TICK)
    r["loaded RSS MB"] = rss(pid)
    r["peak RSS MB"] = rss(pid, "VmHWM")
    r["bans"] = count_lines(out)
    stop(name, d, pid)
    return r


def banned_addresses(name):
    with open(os.path.join(OUT, "sshd-" + name, "bans.out")) as f:
        return set(f.read().split())


def main_sshd():
    text = generate_auth(LINES)
    print("%d auth.log lines, one sshd jail (stock filter, mode %s)" % (text.count("\n"), MODE))
    names = ["ferroban"] + (["fail2ban"] if shutil.which("fail2ban-client") and "--skip-fail2ban" not in sys.argv else [])
    names += ["fail2ban-rs"] if FAIL2BAN_RS else []
    results = {n: bench_sshd(n, text) for n in names}
    print("%-24s" % "" + "".join("%14s" % n for n in names))
    for k in results["ferroban"]:
        print("%-24s" % k + "".join("%14.3f" % results[n].get(k, float("nan")) for n in names))
    if "fail2ban" in results:
        ours, theirs = banned_addresses("ferroban"), banned_addresses("fail2ban")
        if ours == theirs:
            print("the same %d addresses banned as fail2ban-server" % len(ours))
        else:
            print("BANS DIFFER: only ferroban %s, only fail2ban-server %s" % (sorted(ours - theirs), sorted(theirs - ours)))
    if CALLGRIND:
        split = callgrind_split(generate_auth(LINES))
        us_per_line = 1e6 / results["ferroban"]["lines per CPU s"]
        print("instructions per line: %.0f, in the filter %.0f, outside it %.0f (%.1f %%, ~%.3f us of the %.2f us per line above)"
              % (split["total"], split["filter"], split["outside"], 100 * split["outside"] / split["total"],
                 us_per_line * split["outside"] / split["total"], us_per_line))


# What the jail calls in the filter crate (ferroban_filter::*) and the freeing of the
# results it hands back count as the filter; everything else is the daemon's. The
# jail's line function may be inlined into the server's event handler: then that is
# where the calls are. callgrind names a function with its binary after it (" [...]")
# or, for code inlined from another file, with nothing after it.
FILTER_CALL = ("ferroban_filter::", "drop_in_place<ferroban_filter::")
FILTER_CALLERS = re.compile(r"(jail::Jail::process_line|server::Server::handle)( \[|$)")


def callgrind_split(text):
    """Instructions of the ingest of `text` under callgrind (start-up not counted):
    per line in total, inside the filter and outside it."""
    if not shutil.which("valgrind"):
        sys.exit("--callgrind needs valgrind (apt-get install valgrind)")
    global FERROBAN
    d = setup_sshd("callgrind")
    out_file = d + "/callgrind.out"
    plain, FERROBAN = FERROBAN, d + "/ferroban-under-callgrind"
    with open(FERROBAN, "w") as f:
        f.write('#!/bin/sh\n[ "$1" = server ] && exec valgrind --tool=callgrind --instr-atstart=no '
                '--callgrind-out-file=%s %s "$@"\nexec %s "$@"\n' % (out_file, plain, plain))
    os.chmod(FERROBAN, 0o755)
    banned = lambda: SENTINEL in open(d + "/bans.out").read() if os.path.exists(d + "/bans.out") else False
    pid, _ = start("ferroban", d)
    subprocess.run(["callgrind_control", "-i", "on", str(pid)], capture_output=True, check=True)
    with open(os.path.join(d, "auth.log"), "a") as f:
        f.write(text)
    t0 = time.time()
    while not banned() and time.time() - t0 < 3600:
        time.sleep(0.2)
    subprocess.run(["callgrind_control", "-i", "off", str(pid)], capture_output=True, check=True)
    stop("ferroban", d, pid)
    FERROBAN = plain
    report = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=calling", "--threshold=100", out_file],
                            capture_output=True, text=True, check=True).stdout
    total = filter_ir = 0
    in_jail = False
    for line in report.splitlines():
        ir = (line.split() or [""])[0].replace(",", "")
        if not ir.isdigit():
            continue
        if "PROGRAM TOTALS" in line:
            total = int(ir)
        elif " *  " in line:
            in_jail = FILTER_CALLERS.search(line) is not None
        elif in_jail and " >   " in line and any(c in line for c in FILTER_CALL):
            filter_ir += int(ir)
    lines = text.count("\n")
    return {"total": total / lines, "filter": filter_ir / lines, "outside": (total - filter_ir) / lines}


def setup(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "filter.d"))
    os.makedirs(os.path.join(d, "action.d"))
    for f in ["ferroban-common.conf", "wordpress-auth.conf", "apache-envscan.conf"]:
        shutil.copy(os.path.join(ROOT, "examples/config/filter.d", f), os.path.join(d, "filter.d", f))
    write_server_config(d)
    with open(os.path.join(d, "jail.local"), "w") as f:
        f.write("[DEFAULT]\nbackend = auto\naction = bench\nmaxretry = 3\nfindtime = 10m\nbantime = 1d\nlogpath = %s/access.log\n"
                "[wordpress-auth]\nenabled = true\nfilter = wordpress-auth\n"
                "[apache-envscan]\nenabled = true\nfilter = apache-envscan\nmaxretry = 1\n" % d)
    open(os.path.join(d, "access.log"), "w").close()
    return d


def client(name, d, *args):
    if name == "ferroban":
        cmd = [FERROBAN, "-s", d + "/server.sock", "-c", d] + list(args)
    elif name == "fail2ban-rs":
        # its client has no ping: status answers once the socket does
        args = ["status"] if args == ("ping",) else list(args)
        cmd = [FAIL2BAN_RS, "-c", d + "/config.toml"] + args
    else:
        cmd = ["fail2ban-client", "-c", d, "-s", d + "/server.sock"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True)


def start(name, d):
    t0 = time.time()
    if name == "ferroban":
        proc = subprocess.Popen([FERROBAN, "server", "-f", "--no-dry-run", "-c", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid = proc.pid
    elif name == "fail2ban-rs":
        proc = subprocess.Popen([FAIL2BAN_RS, "-c", d + "/config.toml", "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid = proc.pid
    else:
        subprocess.run(["fail2ban-client", "-c", d, "-s", d + "/server.sock", "-p", d + "/server.pid", "-x", "start"], capture_output=True)
        proc = None
    while client(name, d, "ping").returncode != 0:
        if time.time() - t0 > 300:
            sys.exit("%s did not start" % name)
        time.sleep(0.01)
    ready = time.time() - t0
    if proc is None:
        pid = int(open(d + "/server.pid").read().split()[0])
    return pid, ready


def stop(name, d, pid):
    if name == "fail2ban-rs":
        os.kill(pid, signal.SIGTERM)  # its client has no stop
    else:
        client(name, d, "stop")
    for _ in range(3000):
        if not alive(pid):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def alive(pid):
    """Whether process `pid` still runs. A server this script started is its child:
    once exited it is a zombie until reaped, which `kill(pid, 0)` still finds."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child (fail2ban-server daemonizes): it is reaped by init
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def thread_cpu(pid):
    """User and system CPU seconds of each live thread of `pid`, by thread id."""
    times = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            f = open("/proc/%d/task/%s/stat" % (pid, tid)).read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended since listed
        times[tid] = (int(f[11]) + int(f[12])) / TICK
    return times


def rss(pid, key="VmRSS"):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def total_failed(name, d):
    n = 0
    for jail in ["wordpress-auth", "apache-envscan"]:
        for line in client(name, d, "status", jail).stdout.splitlines():
            if "Total failed:" in line:
                n += int(line.split()[-1])
    return n


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def wait_lines(path, n, limit=600):
    t0 = time.time()
    while count_lines(path) < n and time.time() - t0 < limit:
        time.sleep(0.005)
    return time.time() - t0


def ingest(name, d, log, text, done, limit):
    """Start the server, append `text` to `log` and wait until done(): (pid, figures)."""
    r = {}
    pid, _ = start(name, d)
    time.sleep(1)
    r["idle RSS MB"] = rss(pid)
    c0, t0, threads0 = cpu(pid), time.time(), thread_cpu(pid)
    with open(os.path.join(d, log), "a") as f:
        f.write(text)
    while not done() and time.time() - t0 < limit:
        time.sleep(0.02)
    r["ingest CPU s"] = cpu(pid) - c0
    # a thread that ended during the ingest is in the total only
    spent = [c - threads0.get(t, 0.0) for t, c in thread_cpu(pid).items()]
    r["busiest thread CPU s"] = max(spent, default=0.0)
    r["ingest wall s"] = time.time() - t0
    return pid, r


def bench(name, text, fails):
    d = setup(name)
    pid, r = ingest(name, d, "access.log", text, lambda: total_failed(name, d) >= fails, 1800)
    r["lines per CPU s"] = LINES / max(r["ingest CPU s"], 1.0 / TICK)
    r["loaded RSS MB"] = rss(pid)
    # latency: one .env probe (apache-envscan bans at the first) -> the action's line
    lat = []
    out = d + "/bans.out"
    for i in range(20):
        ip = "198.18.%d.%d" % (i // 200, i % 200 + 1)
        before = count_lines(out)
        ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        t0 = time.perf_counter()
        with open(d + "/access.log", "a") as f:
            f.write('%s - - [%s] "GET /.env HTTP/1.1" 404 1 "-" "x"\n' % (ip, ts))
        while count_lines(out) <= before and time.perf_counter() - t0 < 10:
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    r["ban latency median ms"] = statistics.median(lat)
    # bans through the client
    n = BANS[name]
    r["bans through the client"] = n
    ips = ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(1, n + 1)]
    already = count_lines(out)
    t0 = time.time()
    if name == "ferroban":
        client(name, d, "ban", "wordpress-auth", *ips)
    else:
        client(name, d, "set", "wordpress-auth", "banip", *ips)
    r["client ban: answered s"] = time.time() - t0
    wait_lines(out, already + n)
    r["client ban: actions done s"] = time.time() - t0
    r["client bans per s (actions done)"] = n / max(r["client ban: actions done s"], 1e-6)
    stop(name, d, pid)
    # restart: every ban restored (and handed to the action again)
    already = count_lines(out)
    t0 = time.time()
    pid, ready = start(name, d)
    r["restart: ready s"] = ready
    wait_lines(out, already + n)
    r["restart: actions done s"] = time.time() - t0
    r["restored bans per s (actions done)"] = n / max(r["restart: actions done s"], 1e-6)
    stop(name, d, pid)
    return r


def main():
    if not os.path.exists(FERROBAN):
        sys.exit("build first: cargo build --release")
    text, fails = generate(LINES)
    print("%d lines, %d failures, two jails on one access log" % (LINES, fails))
    names = ["ferroban"] + (["fail2ban"] if shutil.which("fail2ban-client") and "--skip-fail2ban" not in sys.argv else [])
    results = {n: bench(n, text, fails) for n in names}
    keys = list(results["ferroban"].keys())
    print("%-40s" % "" + "".join("%14s" % n for n in names))
    for k in keys:
        print("%-40s" % k + "".join("%14.3f" % results[n].get(k, float("nan")) for n in names))
    if "fail2ban" in results:
        f, b = results["ferroban"], results["fail2ban"]
        for k in ["lines per CPU s", "client bans per s (actions done)", "restored bans per s (actions done)"]:
            print("%s: %.0fx Fail2ban" % (k, f[k] / b[k]))
    guide_idle_rss(names)


def guide_idle_rss(names):
    """Idle RSS with the guide's ten jails on the installed stock configuration."""
    if not os.path.exists("/etc/fail2ban/jail.conf"):
        return
    for name in names:
        d = os.path.join(OUT, "guide-" + name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree("/etc/fail2ban", d)
        for f in os.listdir(os.path.join(ROOT, "examples/config/filter.d")):
            shutil.copy(os.path.join(ROOT, "examples/config/filter.d", f), os.path.join(d, "filter.d", f))
        shutil.copy(os.path.join(ROOT, "tests/fixtures/guide/jail.local"), os.path.join(d, "jail.local"))
        logs = os.path.join(d, "logs")
        os.makedirs(logs)
        with open(os.path.join(d, "jail.d", "zz-bench.local"), "w") as f:
            f.write("[DEFAULT]\nbanaction = dummy\n")
        text = open(os.path.join(d, "jail.local")).read()
        for p in ["/var/log/apache2/access.log", "/var/log/apache2/error.log", "/var/log/mail.log", "/var/log/fail2ban.log"]:
            local = os.path.join(logs, os.path.basename(p))
            open(local, "a").close()
            text = text.replace(p, local)
        open(os.path.join(d, "jail.local"), "w").write(text)
        with open(os.path.join(d, "fail2ban.local"), "w") as f:
            f.write("[Definition]\nlogtarget = %s/server.log\nsocket = %s/server.sock\npidfile = %s/server.pid\ndbfile = %s/db.sqlite3\n" % (d, d, d, d))
        pid, ready = start(name, d)
        time.sleep(2)
        print("%s idle RSS with the guide's 10 jails: %.1f MB (start-up %.2f s)" % (name, rss(pid), ready))
        stop(name, d, pid)


if __name__ == "__main__":
    main_sshd() if SSHD else main()
