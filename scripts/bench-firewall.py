#!/usr/bin/env python3
"""Benchmark (not a test): bans into the kernel's nftables sets, ferroban's native
action against Fail2ban with its stock nftables action file.

Run by scripts/bench-firewall.sh inside a network namespace it creates. Reports,
per server: ban latency from log line to the address being in the kernel set
(median and 99th percentile), and the time to ban and to unban N addresses
through the client until the set holds them (ferroban 100,000; Fail2ban 300 by
default, it runs one nft per address).

Whether an address is in a set is asked of the kernel with one netlink
NFT_MSG_GETSETELEM message (about 0.05 ms). `nft get element` would be no good
as a probe: it first reads every element of the set, about 0.4 s at 100,000.
Usage: bench-firewall.sh [PROBES] [BANS_FERROBAN] [BANS_FAIL2BAN]
"""
import ctypes, ipaddress, os, shutil, socket, statistics, struct, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERROBAN = os.path.join(ROOT, "target/release/ferroban")
PROBES = int(sys.argv[1]) if len(sys.argv) > 1 else 100
BANS = {"ferroban": int(sys.argv[2]) if len(sys.argv) > 2 else 100000,
        "fail2ban": int(sys.argv[3]) if len(sys.argv) > 3 else 300}
OUT = os.path.join(ROOT, "bench-out", "firewall")

lib = ctypes.CDLL("libnftables.so.1")
lib.nft_ctx_new.restype = ctypes.c_void_p
lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
ctx = lib.nft_ctx_new(0)
lib.nft_ctx_buffer_output(ctx)
lib.nft_ctx_buffer_error(ctx)


def nft(cmd):
    return lib.nft_run_cmd_from_buffer(ctx, cmd.encode()) == 0


def nlattr(kind, payload):
    size = 4 + len(payload)
    return struct.pack("HH", size, kind) + payload + b"\0" * (-size % 4)


class SetProbe:
    """Asks nf_tables for one element of one set over a netlink socket."""
    NESTED = 0x8000
    GETSETELEM = (10 << 8) | 13  # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETSETELEM

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
        self.sock.bind((0, 0))
        self.seq = 0

    def contains(self, table, set_name, ip):
        key = nlattr(1 | self.NESTED, nlattr(1, ipaddress.ip_address(ip).packed))
        elements = nlattr(3 | self.NESTED, nlattr(1 | self.NESTED, key))
        body = (struct.pack("BBH", 1, 0, 0) + nlattr(1, table.encode() + b"\0")
                + nlattr(2, set_name.encode() + b"\0") + elements)  # NFPROTO_INET
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), self.GETSETELEM, 1 | 4, self.seq, 0) + body)
        found = False
        while True:
            data, off = self.sock.recv(1 << 16), 0
            while off < len(data):
                size, kind, _, seq, _ = struct.unpack_from("IHHII", data, off)
                if seq == self.seq:
                    if kind == 2:  # NLMSG_ERROR: 0 is the ack after the element
                        return found and struct.unpack_from("i", data, off + 16)[0] == 0
                    found = True
                off += (size + 3) & ~3


probe = SetProbe()


def in_set(jail, ip):
    return probe.contains("f2b-table", "addr-set-" + jail, ip)


def wait_for(done, limit=900):
    """Seconds until done() holds, polling every millisecond."""
    t0 = time.time()
    while not done() and time.time() - t0 < limit:
        time.sleep(0.001)
    return time.time() - t0


def settle(done):
    """0 if done() holds already, else the seconds until it does."""
    return 0.0 if done() else wait_for(done)


def set_size(jail):
    if not nft("list set inet f2b-table addr-set-%s" % jail):
        return 0
    text = lib.nft_ctx_get_output_buffer(ctx).decode()
    body = text.split("elements = {", 1)
    return 0 if len(body) < 2 else body[1].count(",") + 1


def setup(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree("/etc/fail2ban", d)
    for f in ["ferroban-common.conf", "apache-envscan.conf"]:
        shutil.copy(os.path.join(ROOT, "examples/config/filter.d", f), os.path.join(d, "filter.d"))
    open(os.path.join(d, "access.log"), "w").close()
    with open(os.path.join(d, "jail.local"), "w") as f:
        f.write("[DEFAULT]\nbanaction = nftables\nbackend = auto\n[sshd]\nenabled = false\n"
                "[apache-envscan]\nenabled = true\nport = http,https\nfilter = apache-envscan\n"
                "logpath = %s/access.log\nmaxretry = 1\nfindtime = 1d\nbantime = 1d\n" % d)
    with open(os.path.join(d, "fail2ban.local"), "w") as f:
        f.write("[Definition]\nloglevel = INFO\nlogtarget = %s/server.log\nsocket = %s/server.sock\n"
                "pidfile = %s/server.pid\ndbfile = %s/db.sqlite3\n" % (d, d, d, d))
    return d


def client(name, d, *args):
    cmd = ([FERROBAN, "-s", d + "/server.sock"] if name == "ferroban"
           else ["fail2ban-client", "-c", d, "-s", d + "/server.sock"]) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True)


def start(name, d):
    if name == "ferroban":
        subprocess.Popen([FERROBAN, "server", "-f", "--no-dry-run", "-c", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        subprocess.run(["fail2ban-client", "-c", d, "-s", d + "/server.sock", "-p", d + "/server.pid", "-x", "start"], capture_output=True)
    t0 = time.time()
    while client(name, d, "ping").returncode != 0:
        if time.time() - t0 > 60:
            sys.exit(name + " did not start")
        time.sleep(0.05)


def bench(name):
    d = setup(name)
    start(name, d)
    r = {}
    lat = []
    for i in range(PROBES):
        ip = "198.18.%d.%d" % (i // 250, i % 250 + 1)
        ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        t0 = time.perf_counter()
        with open(d + "/access.log", "a") as f:
            f.write('%s - - [%s] "GET /.env HTTP/1.1" 404 1 "-" "x"\n' % (ip, ts))
        while not in_set("apache-envscan", ip) and time.perf_counter() - t0 < 10:
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
    lat.sort()
    r["latency median ms"] = statistics.median(lat)
    r["latency p99 ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    n = BANS[name]
    r["addresses"] = n
    ips = ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(1, n + 1)]
    base = set_size("apache-envscan")
    # Timed until the last address is in (or out of) the set, then the whole set is
    # counted once, untimed, and waited for should the order have differed.
    t0 = time.time()
    verb = ["ban", "apache-envscan"] if name == "ferroban" else ["set", "apache-envscan", "banip"]
    client(name, d, *(verb + ips))
    r["ban N: client answered s"] = time.time() - t0
    r["ban N: in the kernel s"] = (time.time() - t0) + wait_for(lambda: in_set("apache-envscan", ips[-1]))
    r["ban N: in the kernel s"] += settle(lambda: set_size("apache-envscan") >= base + n)
    t0 = time.time()
    verb = ["unban", "apache-envscan"] if name == "ferroban" else ["set", "apache-envscan", "unbanip"]
    client(name, d, *(verb + ips))
    r["unban N: out of the kernel s"] = (time.time() - t0) + wait_for(lambda: not in_set("apache-envscan", ips[-1]))
    r["unban N: out of the kernel s"] += settle(lambda: set_size("apache-envscan") <= base)
    r["bans per s"] = n / r["ban N: in the kernel s"]
    client(name, d, "stop")
    time.sleep(1)
    return r


def main():
    names = ["ferroban"] + (["fail2ban"] if shutil.which("fail2ban-client") and "--skip-fail2ban" not in sys.argv else [])
    results = {n: bench(n) for n in names}
    print("%-32s" % "" + "".join("%14s" % n for n in names))
    for k in results["ferroban"]:
        print("%-32s" % k + "".join("%14.3f" % results[n][k] for n in names))
    if "fail2ban" in results:
        f, b = results["ferroban"], results["fail2ban"]
        print("bans per second: %.0fx Fail2ban; p99 latency %.0fx lower" % (f["bans per s"] / b["bans per s"], b["latency p99 ms"] / f["latency p99 ms"]))


if __name__ == "__main__":
    main()
