//! A headless Chromium driven over the DevTools protocol, for the dashboard test.
//!
//! Chromium's `--remote-debugging-pipe` reads commands from fd 3 and writes
//! answers to fd 4, each a JSON text ended by NUL; here both fds are one end of a
//! socket pair. No driver, no WebSocket, nothing downloaded: Debian's `chromium`.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: u64,
    /// The page's session, once a page is open.
    session: Option<String>,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The Chromium program, if installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Browser {
    /// Start a headless browser of `width`×`height` with an empty profile.
    pub fn launch(program: &Path, width: u32, height: u32) -> Browser {
        Browser::launch_with(program, width, height, &[])
    }

    /// [`Browser::launch`] with `extra` command-line switches.
    pub fn launch_with(program: &Path, width: u32, height: u32, extra: &[&str]) -> Browser {
        // One profile per browser: Chromium hands a second start on the same
        // profile to the first one, and tests run in parallel.
        static LAUNCHED: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "ferroban-chromium-{}-{}",
            std::process::id(),
            LAUNCHED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let fd = theirs.as_raw_fd();
        let mut cmd = Command::new(program);
        cmd.args([
            "--headless",
            "--remote-debugging-pipe",
            // Root in CI: Chromium's sandbox refuses to run as root.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            &format!("--window-size={width},{height}"),
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only fcntl and dup2, which are async-signal-safe, between fork
        // and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Copied above 4 first: the socket may itself be fd 3 or 4, where
                // dup2 onto itself would keep its close-on-exec flag.
                let high = libc::fcntl(fd, libc::F_DUPFD, 10);
                for target in [3, 4] {
                    if high < 0 || libc::dup2(high, target) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        drop(theirs);
        ours.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
        Browser {
            child,
            writer: ours.try_clone().unwrap(),
            reader: BufReader::new(ours),
            next_id: 0,
            session: None,
            profile,
        }
    }

    /// Send `method` (to the page, once open) and wait for its result; events in
    /// between are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.writer.write_all(&bytes).expect("write to chromium");
        loop {
            let mut raw = Vec::new();
            self.reader
                .read_until(0, &mut raw)
                .unwrap_or_else(|e| panic!("chromium did not answer {method}: {e}"));
            assert!(
                raw.ends_with(&[0]),
                "chromium closed the pipe during {method}"
            );
            raw.pop();
            let answer: Value = serde_json::from_slice(&raw).expect("JSON from chromium");
            if answer["id"] == json!(id) {
                assert!(
                    answer.get("error").is_none(),
                    "{method} failed: {}",
                    answer["error"]
                );
                return answer["result"].clone();
            }
        }
    }

    /// Open `url` in a new page and talk to that page from now on.
    pub fn open(&mut self, url: &str) {
        self.session = None;
        let target = self.call("Target.createTarget", json!({"url": url}));
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = attached["sessionId"].as_str().map(String::from);
    }

    /// The value of a JavaScript expression in the page (promises awaited), or
    /// the exception it threw.
    fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Whether `expression` becomes true within `secs` seconds (while the page
    /// loads it may also throw).
    pub fn wait_for(&mut self, expression: &str, secs: u64) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.try_eval(expression) == Ok(json!(true)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Click the middle of the element `selector` with the mouse, as a user does.
    pub fn click(&mut self, selector: &str) {
        let query = serde_json::to_string(selector).unwrap();
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({query}); e.scrollIntoView({{block: 'center'}});
               const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": at[0], "y": at[1], "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Press and release Enter on the focused element, as a keyboard does.
    pub fn press_enter(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}),
            );
        }
    }

    /// Type `text` into the focused element, as a keyboard does.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Follow the system's light or dark scheme as `dark` says.
    pub fn set_dark(&mut self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Save the whole page as PNG at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}
