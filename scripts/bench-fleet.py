#!/usr/bin/env python3
"""Fleet benchmark driver (run by scripts/bench-fleet.sh inside a private network
namespace, as root).

Starts nats-server (JetStream, the authorization block `ferroban fleet
nats-config` prints) and N ferroban hosts, each banning through native nftables
into a table of its own (f2b-h1, f2b-h2, ...), and measures:
  - latency: a log line on host 1 until the address is in host N's kernel set,
    p50 and p99;
  - burst: 1,000 addresses banned on host 1 until all are in host N's set;
  - join: a fresh host started while the fleet holds JOIN bans, until its kernel
    set holds them all;
  - resident memory of that host with JOIN fleet bans.

Each host runs in a network namespace of its own, as on a machine of its own:
it reaches nats-server over a veth pair, and its nftables sees only its own
table (in one shared namespace, each host's nftables calls would read the
tables of all 50). The two hosts whose sets are timed (host N and the joining
host) get an `nft monitor` each, which sees only that host's set, so a watcher's
work does not grow with the fleet (one monitor for 50 hosts fell seconds
behind). A watcher stamps each chunk it reads when it reads it, never earlier
than the kernel change.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

BIN = os.path.abspath("target/release/ferroban")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, done, limit=60.0):
    end = time.time() + limit
    while time.time() < end:
        if done():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


class SetWatcher:
    """`nft monitor` in one host's network namespace, read in a thread: how many
    addresses entered its sets and when the last did, and when the addresses
    asked for (`expect`) entered. `nft monitor` prints one line per element:
    `add element inet f2b-h3 addr-set-t { 192.0.2.7 }`."""

    def __init__(self, netns):
        self.lock = threading.Lock()
        self.added = 0
        self.last = None
        self.pending = {}
        self.seen = {}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "stdbuf", "-oL", "nft", "monitor", "elements"],
            stdout=subprocess.PIPE,
        )
        threading.Thread(target=self.read, daemon=True).start()
        time.sleep(0.5)  # the monitor's netlink socket is open well before the first event

    def read(self):
        fd = self.proc.stdout.fileno()
        rest = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            now = time.time()
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            lines, rest = data[:cut], data[cut:]
            added = lines.count(b"add element ")
            with self.lock:
                if added:
                    self.added += added
                    self.last = now
                for ip in [ip for ip, pattern in self.pending.items() if pattern in lines]:
                    del self.pending[ip]
                    self.seen[ip] = now

    def expect(self, ips):
        """Time these addresses from now on (call before they can arrive)."""
        with self.lock:
            for ip in ips:
                self.pending[ip] = b"{ " + ip.encode() + b" }\n"

    def when(self, ip):
        with self.lock:
            return self.seen.get(ip)

    def count(self):
        with self.lock:
            return self.added

    def stop(self):
        self.proc.kill()


class Namespace:
    """A network namespace for one host, joined to nats-server's by a veth pair:
    nats-server is at `gateway` from inside."""

    def __init__(self, name, index):
        self.name = name
        outer, inner = f"fbv{index}o", f"fbv{index}i"
        self.gateway = f"10.77.{index}.1"
        run = lambda *a: subprocess.run(a, check=True)
        run("ip", "netns", "add", name)
        run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", name)
        run("ip", "addr", "add", f"{self.gateway}/30", "dev", outer)
        run("ip", "link", "set", outer, "up")
        inside = ("ip", "netns", "exec", name, "ip")
        run(*inside, "addr", "add", f"10.77.{index}.2/30", "dev", inner)
        run(*inside, "link", "set", inner, "up")
        run(*inside, "link", "set", "lo", "up")

    def remove(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


class Host:
    def __init__(self, root, index, url, password, netns=None):
        self.name = f"h{index}"
        self.netns = netns
        self.dir = os.path.join(root, self.name)
        self.table = f"f2b-{self.name}"
        os.makedirs(os.path.join(self.dir, "conf/filter.d"), exist_ok=True)
        self.logfile = os.path.join(self.dir, "app.log")
        open(self.logfile, "w").close()
        shutil.copytree("config/action.d", os.path.join(self.dir, "conf/action.d"))
        with open(os.path.join(self.dir, "conf/filter.d/bench.conf"), "w") as f:
            f.write("[Definition]\nfailregex = ^login failed from <HOST>$\n")
        with open(os.path.join(self.dir, "conf/jail.local"), "w") as f:
            f.write(
                "[t]\nenabled = true\nfilter = bench\nbackend = auto\n"
                f"logpath = {self.logfile}\nmaxretry = 1\nbantime = 1d\n"
                f"action = nftables[table={self.table}, port=\"22\"]\n"
                "ignoreip = 127.0.0.1/8\nfleet = share\n"
            )
        with open(os.path.join(self.dir, "conf/ferroban.local"), "w") as f:
            f.write(
                "[Definition]\nmaxbans = 2000000\n"
                f"[Fleet]\nurl = {url}\nname = {self.name}\nuser = {self.name}\n"
                f"password = {password}\nhostrate = 100000\ntotalrate = 1000000\n"
            )
        self.proc = None

    def start(self):
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            [*inside, BIN, "server", "-f", "--loglevel", "WARNING", "-c",
             os.path.join(self.dir, "conf"), "-s", self.sock(), "-p",
             os.path.join(self.dir, "pid"), "--dbfile",
             os.path.join(self.dir, "db.sqlite3"), "--logtarget",
             os.path.join(self.dir, "log"), "--no-dry-run"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait(f"{self.name} to answer", lambda: self.client("ping").returncode == 0)

    def sock(self):
        return os.path.join(self.dir, "sock")

    def client(self, *args):
        return subprocess.run([BIN, "-s", self.sock(), *args],
                              capture_output=True, text=True)

    def fleet(self):
        out = self.client("--json", "fleet").stdout
        return json.loads(out) if out.strip() else {}

    def line(self, text):
        with open(self.logfile, "a") as f:
            f.write(text)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
        return 0

    def stop(self):
        if self.proc:
            self.client("stop")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def cpu_seconds(pid):
    """User and system CPU time of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_thread(pid):
    """CPU seconds of each thread of process `pid`, by thread name."""
    spent = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        spent[name] = spent.get(name, 0.0) + cpu_seconds(f"{pid}/task/{tid}")
    return ", ".join(f"{name} {sec:.2f} s" for name, sec in sorted(spent.items()) if sec >= 0.01)


def address(i, net):
    return f"{net}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    root, netns = sys.argv[1], sys.argv[2]
    nhosts, samples, join = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    names = [f"h{i}" for i in range(1, nhosts + 2)]
    logins = [f"{n}=pw-{n}" for n in names]
    auth = subprocess.run([BIN, "fleet", "nats-config", *logins],
                          capture_output=True, text=True, check=True).stdout
    os.makedirs(os.path.join(root, "engine"), exist_ok=True)
    with open(os.path.join(root, "engine/auth.conf"), "w") as f:
        f.write(auth)
    with open(os.path.join(root, "engine/nats.conf"), "w") as f:
        f.write(f"listen: 0.0.0.0:{port}\nmax_payload: 1MB\n"
                f"jetstream {{ store_dir: {json.dumps(root + '/engine/store')} }}\n"
                "include auth.conf\n")
    engine = subprocess.Popen(["nats-server", "-c", os.path.join(root, "engine/nats.conf")],
                              stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(root, "engine/nats.log"), "w"))
    wait("nats-server", lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0)
    spaces = []
    hosts = []
    watchers = []
    try:
        for i in range(1, nhosts + 2):
            spaces.append(Namespace(f"{netns}-{i}", i))
        host = lambda i: Host(root, i, f"nats://{spaces[i - 1].gateway}:{port}", f"pw-h{i}",
                              spaces[i - 1].name)
        hosts = [host(i) for i in range(1, nhosts + 1)]
        far, joiner = spaces[nhosts - 1], spaces[nhosts]
        for h in hosts:
            h.start()
        pending = list(hosts)
        end = time.time() + 180
        while pending and time.time() < end:
            pending = [h for h in pending if not h.fleet().get("connected")]
            time.sleep(0.2)
        if pending:
            raise SystemExit("not connected: " + ", ".join(h.name for h in pending))
        # Let the connection storm (nats-server checking bcrypt hashes) pass.
        time.sleep(5)
        first, last = hosts[0], hosts[-1]
        watcher = SetWatcher(far.name)
        watchers.append(watcher)

        print(f"machine load at the start (1-minute average, {os.cpu_count()} CPUs): "
              f"{os.getloadavg()[0]:.1f}")
        cpu = lambda: (sum(cpu_seconds(h.proc.pid) for h in hosts), cpu_seconds(engine.pid))
        cpu_before = cpu()
        latencies = []
        for i in range(samples):
            ip = address(i + 1, "10")
            watcher.expect([ip])
            t0 = time.time()
            first.line(f"login failed from {ip}\n")
            wait(f"{ip} in {last.name}'s set", lambda: watcher.when(ip) is not None, 30)
            latencies.append((watcher.when(ip) - t0) * 1000.0)
            time.sleep(0.01)
        print(f"hosts: {nhosts}")
        print(f"latency log line on {first.name} -> kernel set of {last.name}: "
              f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms "
              f"({samples} samples)")
        spent = [after - before for after, before in zip(cpu(), cpu_before)]
        print(f"CPU per propagated ban: all {nhosts} hosts together {spent[0] / samples * 1000:.1f} ms "
              f"({spent[0] / samples / nhosts * 1000:.2f} ms per host), "
              f"nats-server {spent[1] / samples * 1000:.1f} ms")

        burst = [address(i, "11") for i in range(1000)]
        watcher.expect(burst)
        t0 = time.time()
        first.line("".join(f"login failed from {ip}\n" for ip in burst))
        wait("the burst", lambda: all(watcher.when(ip) for ip in burst), 120)
        done = max(watcher.when(ip) for ip in burst)
        print(f"burst of 1,000 addresses on {first.name}: all in {last.name}'s set after "
              f"{(done - t0) * 1000.0:.0f} ms")

        chunk = 5000
        for start in range(0, join, chunk):
            ips = [address(i, "12") for i in range(start, min(join, start + chunk))]
            r = first.client("ban", "t", *ips)
            if r.returncode != 0:
                raise SystemExit(r.stderr)
        total = samples + 1000 + join
        wait("the join bans to be published", lambda: first.fleet().get("outbox") == 0, 600)
        wait("the join bans in the far host's set", lambda: watcher.count() >= total, 600)
        wait("every host to apply the join bans",
             lambda: all(h.fleet().get("applied", 0) >= total for h in hosts[1:]), 600)
        # Quiet again before the join is timed.
        time.sleep(5)
        late = host(nhosts + 1)
        hosts.append(late)
        print(f"machine load before the join (1-minute average, {os.cpu_count()} CPUs): "
              f"{os.getloadavg()[0]:.1f}")
        late_watcher = SetWatcher(joiner.name)
        watchers.append(late_watcher)
        engine_cpu = cpu_seconds(engine.pid)
        t0 = time.time()
        late.start()
        wait(f"{late.name} to hold {total} bans", lambda: late_watcher.count() >= total, 300)
        join_cpu = cpu_seconds(late.proc.pid), cpu_seconds(engine.pid) - engine_cpu
        join_threads = cpu_by_thread(late.proc.pid)
        print(f"join: {late.name} started with {total} fleet bans in force; all in its kernel "
              f"set after {(late_watcher.last - t0) * 1000.0:.0f} ms (from starting the process); "
              f"CPU meanwhile: {late.name} {join_cpu[0]:.2f} s ({join_threads}), "
              f"nats-server {join_cpu[1]:.2f} s")
        # A quiet moment gives back what the join's batches used (page cache, heap).
        time.sleep(5)
        print(f"resident memory with {total} fleet bans: {late.name} (joined) "
              f"{late.rss_kib() / 1024:.1f} MiB, {last.name} {last.rss_kib() / 1024:.1f} MiB")
    finally:
        for h in hosts:
            h.stop()
        for w in watchers:
            w.stop()
        engine.kill()
        for n in spaces:
            n.remove()


if __name__ == "__main__":
    main()
