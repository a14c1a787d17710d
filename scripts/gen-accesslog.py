#!/usr/bin/env python3
"""A generated Apache access log (combined format) for the benchmarks: mostly page
views from random addresses, 0.5 % refused WordPress logins (403) and 0.3 % probes
for /.env (404), twenty lines a second.

Usage: gen-accesslog.py LINES [--seed N] > access.log   (the same seed, the same log:
the benchmarks use the default, 7; a profile-guided build trains on another)
"""
import argparse, random
ap = argparse.ArgumentParser()
ap.add_argument("lines", type=int)
ap.add_argument("--seed", type=int, default=7)
a = ap.parse_args()
n = a.lines
random.seed(a.seed)
paths = ["/", "/blog/", "/blog/2026/02/hello/", "/wp-content/themes/x/style.css", "/feed/", "/favicon.ico"]
for i in range(n):
    ip = "%d.%d.%d.%d" % (random.randint(1, 223), random.randint(0, 255), random.randint(0, 255), random.randint(1, 254))
    s = 1771800000 + i // 20
    h, m, sec = (s // 3600) % 24, (s // 60) % 60, s % 60
    ts = "23/Feb/2026:%02d:%02d:%02d +0900" % (h, m, sec)
    r = random.random()
    if r < 0.005:
        req, code = "POST /blog/wp-login.php HTTP/1.1", 403
    elif r < 0.008:
        req, code = "GET /.env HTTP/1.1", 404
    else:
        req, code = "GET %s HTTP/1.1" % random.choice(paths), 200
    print('%s - - [%s] "%s" %d %d "-" "Mozilla/5.0"' % (ip, ts, req, code, random.randint(200, 9000)))
