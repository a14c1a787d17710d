#!/usr/bin/env python3
"""Generate a realistic Debian 12 /var/log/auth.log for benchmarks and tests.

Usage: gen-authlog.py LINES [--seed N] [--pid-max N] [--end-at EPOCH] > auth.log

Interleaved OpenSSH 9 sessions, each under its own pid (allocated the way the kernel
does: upwards, wrapping at pid_max, never reusing a live pid, so pids repeat once the
counter wraps; a small --pid-max makes them repeat within minutes): brute force on
invalid users and on root, scanners (banner exchange, kex, algorithm negotiation,
timeouts), legitimate logins by key and by password (some after a typo), and the PAM,
cron, sudo and systemd-logind lines between them. Deterministic for a given seed.
"""
import argparse
import heapq
import random
import sys
import time

START = 1771804800  # 2026-02-23 00:00:00 UTC
HOST = "vps"
SSH_PORT = 22

INVALID_USERS = (
    "admin test user oracle postgres ubuntu guest ftpuser git pi support deploy1 "
    "nagios hadoop tomcat www-data minecraft steam ts3 jenkins debian centos ansible "
    "odoo es elastic mysql backup dev testuser user1 administrator"
).split()
LEGIT = {"alice": 1000, "bob": 1001, "deploy": 1002, "git": 1003}
KEX_OFFERS = (
    ("key exchange method", "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1"),
    ("host key type", "ssh-rsa,ssh-dss"),
    ("cipher", "aes128-cbc,3des-cbc,aes256-cbc"),
    ("MAC", "hmac-sha1,hmac-md5"),
)
CLIENT_JUNK = ('GET / HTTP/1.1', 'MGLNDD_198.51.100.7_22', '\\026\\003\\001', 'SSH-2.0-Go', 'HELP')


class Pids:
    """The kernel's pid allocator: upwards, wrapping, skipping live pids."""

    def __init__(self, rng, pid_max):
        self.rng, self.pid_max, self.last, self.live = rng, pid_max, 299, set()

    def take(self):
        while True:
            # other processes (privilege-separation children, shells, cron jobs)
            # take pids too
            self.last += self.rng.randint(1, 6)
            if self.last >= self.pid_max:
                self.last = 300 + self.last % self.pid_max
            if self.last not in self.live:
                self.live.add(self.last)
                return self.last


def attacker_pool(rng, n):
    pool = []
    for i in range(n):
        if i % 10 == 9:
            pool.append("2001:db8:%x:%x::%x" % (rng.randint(1, 0xFFFF), rng.randint(1, 0xFFFF), rng.randint(1, 0xFFFF)))
        else:
            pool.append("%d.%d.%d.%d" % (rng.choice([45, 61, 103, 141, 167, 185, 193, 218]), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))
    return pool


def pam_auth_failure(ip, user=None):
    tail = "  user=%s" % user if user else ""
    return "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s%s" % (ip, tail)


def brute_invalid(rng, ip, port):
    u = rng.choice(INVALID_USERS)
    steps = [(0, "Invalid user %s from %s port %d" % (u, ip, port))]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        steps += [(0.3, "pam_unix(sshd:auth): check pass; user unknown"),
                  (0.0, pam_auth_failure(ip)),
                  (2.1, "Failed password for invalid user %s from %s port %d ssh2" % (u, ip, port))]
    if rng.random() < 0.6:
        steps += [(0.2, "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port)),
                  (0.0, "Disconnected from invalid user %s %s port %d [preauth]" % (u, ip, port))]
    else:
        steps.append((0.4, "Connection closed by invalid user %s %s port %d [preauth]" % (u, ip, port)))
    return steps


def brute_root(rng, ip, port):
    tries = rng.choice([1, 2, 3, 6])
    steps = [(0.4, pam_auth_failure(ip, "root"))]
    for i in range(tries):
        steps.append((2.0, "Failed password for root from %s port %d ssh2" % (ip, port)))
    if tries == 6:
        steps += [(0.0, "error: maximum authentication attempts exceeded for root from %s port %d ssh2 [preauth]" % (ip, port)),
                  (0.0, "Disconnecting authenticating user root %s port %d: Too many authentication failures [preauth]" % (ip, port)),
                  (0.0, "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root" % ip),
                  (0.0, "PAM service(sshd) ignoring max retries; 6 > 3")]
    elif tries > 1:
        steps += [(0.1, "PAM %d more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root" % (tries - 1, ip)),
                  (0.0, "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port)),
                  (0.0, "Disconnected from authenticating user root %s port %d [preauth]" % (ip, port))]
    else:
        steps.append((0.3, "Connection closed by authenticating user root %s port %d [preauth]" % (ip, port)))
    return steps


def scanner(rng, ip, port):
    kind = rng.randrange(9)
    if kind == 0:
        return [(0, "Connection closed by %s port %d [preauth]" % (ip, port))]
    if kind == 1:
        return [(0, "banner exchange: Connection from %s port %d: invalid format" % (ip, port))]
    if kind == 2:
        return [(0, "kex_exchange_identification: Connection closed by remote host"),
                (0, "Connection closed by %s port %d" % (ip, port))]
    if kind == 3:
        return [(0, "kex_exchange_identification: read: Connection reset by peer"),
                (0, "Connection reset by %s port %d" % (ip, port))]
    if kind == 4:
        return [(0, 'kex_exchange_identification: client sent invalid protocol identifier "%s"' % rng.choice(CLIENT_JUNK)),
                (0, "banner exchange: Connection from %s port %d: invalid format" % (ip, port))]
    if kind == 5:
        what, offer = rng.choice(KEX_OFFERS)
        return [(0.2, "Unable to negotiate with %s port %d: no matching %s found. Their offer: %s [preauth]" % (ip, port, what, offer))]
    if kind == 6:
        return [(0.5, "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port)),
                (0.0, "Disconnected from %s port %d [preauth]" % (ip, port))]
    if kind == 7:
        return [(120, "fatal: Timeout before authentication for %s port %d" % (ip, port))]
    u = rng.choice(["ubuntu", "root", "admin", "ec2-user"])
    return [(0.3, "Received disconnect from %s port %d:14: No supported authentication methods available [preauth]" % (ip, port)),
            (0.0, "Disconnected from authenticating user %s %s port %d [preauth]" % (u, ip, port))]


def legit(rng, ip, port, session):
    user = rng.choice(list(LEGIT))
    uid = LEGIT[user]
    steps = []
    if user in ("alice", "bob") and rng.random() < 0.5:
        if rng.random() < 0.3:  # a typo first
            steps += [(1.5, pam_auth_failure(ip, user)),
                      (2.0, "Failed password for %s from %s port %d ssh2" % (user, ip, port))]
        steps.append((3.0, "Accepted password for %s from %s port %d ssh2" % (user, ip, port)))
    else:
        fp = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
        steps.append((0.2, "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s" % (user, ip, port, fp)))
    steps += [(0.0, "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (user, uid)),
              (0.0, ("systemd-logind", "New session %d of user %s." % (session, user)))]
    stay = rng.uniform(2, 40) if user == "git" else rng.uniform(60, 5400)
    if user in ("alice", "bob") and rng.random() < 0.3:
        steps += [(stay / 2, ("sudo", "%8s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl status nginx" % (user, user))),
                  (0.0, ("sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%d)" % (user, uid))),
                  (0.1, ("sudo", "pam_unix(sudo:session): session closed for user root"))]
        stay /= 2
    steps += [(stay, "Received disconnect from %s port %d:11: disconnected by user" % (ip, port)),
              (0.0, "Disconnected from user %s %s port %d" % (user, ip, port)),
              (0.0, "pam_unix(sshd:session): session closed for user %s" % user),
              (0.0, ("systemd-logind", "Session %d logged out. Waiting for processes to exit." % session)),
              (0.0, ("systemd-logind", "Removed session %d." % session))]
    return steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lines", type=int)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--pid-max", type=int, default=32768)
    ap.add_argument("--end-at", type=float, help="shift the times so the last line is at this epoch")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pids = Pids(rng, a.pid_max)
    attackers = attacker_pool(rng, 3000)
    friends = ["198.51.100.%d" % i for i in range(10, 30)] + ["2001:db8:beef::%x" % i for i in range(1, 5)]
    events = []  # (time, seq, process, pid, message)
    ending = []  # (end time, pid): live pids to free
    seq = 0
    t = float(START)
    session = 1
    logind_pid, next_cron = 512, START + 17.0

    def emit(when, proc, pid, msg):
        nonlocal seq
        seq += 1
        events.append((when, seq, proc, pid, msg))

    sessions = 0
    while True:
        # stop once enough lines come before the last session start: the lines after
        # it are only the ends of long sessions, which a real log interleaves with
        # new ones
        sessions += 1
        if sessions % 5000 == 0 and sum(1 for e in events if e[0] <= t) >= a.lines:
            break
        t += rng.expovariate(2.5)
        while ending and ending[0][0] <= t:
            pids.live.discard(heapq.heappop(ending)[1])
        while next_cron <= t:  # cron jobs, each under its own pid
            cron = pids.take()
            emit(next_cron, "CRON", cron, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
            emit(next_cron + 0.4, "CRON", cron, "pam_unix(cron:session): session closed for user root")
            heapq.heappush(ending, (next_cron + 1, cron))
            next_cron += rng.choice([60.0, 60.0, 300.0])
        pid = pids.take()
        port = rng.randint(1024, 65535)
        r = rng.random()
        if r < 0.33:
            steps = brute_invalid(rng, attackers[int(rng.paretovariate(1.2)) % len(attackers)], port)
        elif r < 0.55:
            steps = brute_root(rng, attackers[int(rng.paretovariate(1.1) * 3) % len(attackers)], port)
        elif r < 0.88:
            steps = scanner(rng, rng.choice(attackers), port)
        elif r < 0.995:
            steps = legit(rng, rng.choice(friends), port, session)
            session += 1
        else:
            steps = [(0, "error: beginning MaxStartups throttling"),
                     (0, "drop connection #10 from [%s]:%d on [203.0.113.5]:22 past MaxStartups" % (rng.choice(attackers), port)),
                     (30, "exited MaxStartups throttling after 00:00:30, 3 connections dropped")]
            pid = 700  # the listener
        when = t
        for delay, msg in steps:
            when += delay * rng.uniform(0.5, 1.5)
            if isinstance(msg, tuple):
                proc, text = msg
                emit(when, proc, logind_pid if proc == "systemd-logind" else pid + 1, text)
            else:
                emit(when, "sshd", pid, msg)
        if pid != 700:
            heapq.heappush(ending, (when + 0.5, pid))
    events = sorted(e for e in events if e[0] <= t)[: a.lines]
    shift = a.end_at - events[-1][0] if a.end_at is not None else 0.0
    out = []
    for when, _, proc, pid, msg in events:
        when += shift
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(when))
        if proc == "sudo":
            out.append("%s %s sudo: %s\n" % (stamp, HOST, msg))
        else:
            out.append("%s %s %s[%d]: %s\n" % (stamp, HOST, proc, pid, msg))
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
