#!/usr/bin/env python3
"""Benchmark (not a test): the dashboard with many bans in headless Chromium.

Starts the release ferroban with three jails and `dashboard = true`, bans BANS
addresses through the client (split 60/30/10 over the jails) and sends a few
hundred real failure lines, then reports:
- the page weight: the bytes of the page and its assets (all in the binary),
  and of the data the overview and the bans page load;
- the time to first render: from navigation start to the first view drawn with
  its data (the page's `ferroban-first-render` performance mark), median of 5
  fresh loads each of the overview and the bans page, in Chromium over the
  DevTools pipe (stdlib only: the pipe is a socket pair on fds 3 and 4).
With --screenshots DIR it also saves the overview, light and dark, as PNG.
Usage: scripts/bench-dashboard.sh [BANS] [--screenshots DIR]
"""
import base64, fcntl, json, os, shutil, socket, statistics, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERROBAN = os.path.join(ROOT, "target/release/ferroban")
OUT = os.path.join(ROOT, "bench-out", "dashboard")
args = sys.argv[1:]
SHOTS = None
if "--screenshots" in args:
    i = args.index("--screenshots")
    SHOTS = os.path.abspath(args[i + 1])
    del args[i:i + 2]
BANS = int(args[0]) if args else 10000
JAILS = [("sshd", 0.6), ("nginx-botsearch", 0.3), ("postfix-sasl", 0.1)]
RUNS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(port):
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "filter.d"))
    with open(os.path.join(OUT, "filter.d/login.conf"), "w") as f:
        f.write("[Definition]\nfailregex = ^login failed user=\\S* from <HOST>$\n")
    with open(os.path.join(OUT, "jail.local"), "w") as f:
        f.write("[DEFAULT]\nfilter = login\naction =\nbackend = polling\nmaxretry = 3\nbantime = 1d\n")
        for name, _ in JAILS:
            f.write("[%s]\nenabled = true\nlogpath = %s/%s.log\n" % (name, OUT, name))
            open(os.path.join(OUT, name + ".log"), "w").close()
    with open(os.path.join(OUT, "ferroban.local"), "w") as f:
        f.write("[Definition]\nlogtarget = %s/server.log\nsocket = %s/server.sock\npidfile = %s/server.pid\n"
                "dbfile = %s/db.sqlite3\nmetrics = %d\ndashboard = true\n" % (OUT, OUT, OUT, OUT, port))


def client(*words):
    subprocess.run([FERROBAN, "-c", OUT] + list(words), check=True, stdout=subprocess.DEVNULL)


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=60) as r:
        return r.read()


class Chromium:
    """Headless Chromium on the DevTools pipe: NUL-terminated JSON both ways."""

    def __init__(self, width, height):
        self.profile = os.path.join(OUT, "chromium-profile")
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()

        def wire():
            # Copied above 4 first: the socket may itself be fd 3 or 4.
            high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.dup2(high, 3)
            os.dup2(high, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-extensions", "--hide-scrollbars", "--window-size=%d,%d" % (width, height),
             "--user-data-dir=" + self.profile],
            close_fds=False, preexec_fn=wire, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()
        self.sock, self.buf, self.id, self.session = ours, b"", 0, None

    def call(self, method, params=None):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        self.sock.sendall(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.id:
                if "error" in answer:
                    raise RuntimeError("%s: %s" % (method, answer["error"]))
                return answer["result"]

    def open(self, url):
        self.session = None
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return target

    def close(self, target):
        self.session = None
        self.call("Target.closeTarget", {"targetId": target})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return r["result"].get("value")

    def first_render_ms(self, url, limit=60):
        target = self.open(url)
        end = time.time() + limit
        mark = "(performance.getEntriesByName('ferroban-first-render')[0] || {}).startTime"
        while time.time() < end:
            try:
                t = self.eval(mark)
            except RuntimeError:
                t = None
            if t is not None:
                self.close(target)
                return t
            time.sleep(0.02)
        raise RuntimeError("no first render of %s in %d s" % (url, limit))

    def screenshot(self, url, path, dark):
        target = self.open(url)
        scheme = "dark" if dark else "light"
        self.call("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        end = time.time() + 30
        while time.time() < end and not self.eval(
                "[...document.querySelectorAll('figure img')].length === 2 && "
                "[...document.querySelectorAll('figure img')].every(i => i.complete && i.naturalWidth > 0)"):
            time.sleep(0.1)
        png = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))
        self.close(target)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    port = free_port()
    setup(port)
    server = subprocess.Popen([FERROBAN, "server", "-f", "-c", OUT], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 30
        while True:
            try:
                get(port, "/metrics")
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.1)
        n = 0
        for idx, (name, share) in enumerate(JAILS):
            count = int(BANS * share) if idx < len(JAILS) - 1 else BANS - n
            ips = ["10.%d.%d.%d" % (idx + 1, (n + i) // 250 % 250, (n + i) % 250 + 1) for i in range(count)]
            client("set", name, "banip", *ips)
            n += count
        # Real failures too, so that the failure chart and the counts are not empty.
        for idx, (name, _) in enumerate(JAILS):
            with open(os.path.join(OUT, name + ".log"), "a") as f:
                for i in range(100 * (idx + 1)):
                    f.write("login failed user=u%d from 198.51.%d.%d\n" % (i, 100 + idx, i % 200 + 1))
        time.sleep(3)
        assets = {p: len(get(port, p)) for p in ["/", "/app.js", "/style.css", "/favicon.svg"]}
        charts = sum(len(get(port, "/api/chart.svg?range=hour&kind=%s" % k)) for k in ["failures", "bans"])
        page = sum(assets.values())
        print("bans held: %d in %d jails" % (n, len(JAILS)))
        print("page weight: %.1f KB (%s), no library, nothing from the network" % (
            page / 1024, ", ".join("%s %.1f KB" % (p, b / 1024) for p, b in assets.items())))
        for what, path in [("overview", "/api/overview"), ("bans table", "/api/bans?q=&sort=start&order=desc")]:
            times, size = [], 0
            for _ in range(RUNS):
                t = time.time()
                size = len(get(port, path))
                times.append((time.time() - t) * 1000)
            print("%s data: %.1f KB JSON, answered in %.1f ms (median of %d)" % (
                what, size / 1024, statistics.median(times), RUNS))
        print("charts: %.1f KB for the two SVGs" % (charts / 1024))
        browser = Chromium(1100, 900)
        try:
            base = "http://127.0.0.1:%d/" % port
            for view, url in [("overview", base), ("bans page", base + "#/bans")]:
                times = [browser.first_render_ms(url) for _ in range(RUNS)]
                print("time to first render, %s with %d bans: median %.0f ms (min %.0f, max %.0f, %d loads)" % (
                    view, n, statistics.median(times), min(times), max(times), RUNS))
            if SHOTS:
                os.makedirs(SHOTS, exist_ok=True)
                for dark in (False, True):
                    path = os.path.join(SHOTS, "dashboard-overview-%s.png" % ("dark" if dark else "light"))
                    browser.screenshot(base, path, dark)
                    print("screenshot:", path)
        finally:
            browser.stop()
    finally:
        server.terminate()
        server.wait()


main()
