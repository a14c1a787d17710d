// ferroban dashboard. Everything shown comes from logs that attackers write, so
// nothing here ever parses text as markup: the page is built with DOM calls and
// text nodes only, and the server's CSP forbids inline scripts.
"use strict";

const POLL_MS = 5000;
const state = {
  token: sessionStorage.getItem("ferroban-token") || "",
  range: "hour",
  sort: { key: "start", desc: true },
  filter: "",
  view: null,
  timer: null,
  // Whether the server takes writes at all (it has a dashboard_token); null until it says.
  writes: null,
  // Whether the last refresh failed: the page then shows the data it had, marked stale.
  failing: false,
};

/** An element with attributes (`on*` are listeners) and children (text or nodes). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function table(headers, rows, id) {
  return el("div", { class: "scroll" }, el("table", { id },
    el("thead", {}, el("tr", {}, headers.map(h => el("th", { scope: "col", class: h.num ? "num" : null }, h.label || h)))),
    el("tbody", {}, rows)));
}

function cell(value, num) { return el("td", { class: num ? "num" : null }, value); }

/** `value`, or `why` it has none, muted. */
function orNone(value, why) { return value === null ? el("span", { class: "muted" }, why) : value; }

function say(text, bad) {
  const m = document.getElementById("message");
  m.textContent = text;
  m.className = bad ? "bad" : "";
}

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

/** POST `body` to a write path with `token`: the answer and its JSON. */
async function post(path, token, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
    body: JSON.stringify(body),
  });
  return [r, await r.json().catch(() => ({}))];
}

/** POST a write with the token; the answer's message is shown either way. */
async function write(path, jail, ip) {
  let r, body;
  try {
    [r, body] = await post(path, state.token, { jail, ip });
  } catch (e) {
    say(`${path.slice(5)} ${ip}: cannot reach the server (${e.message}); nothing was changed`, true);
    return;
  }
  if (!r.ok) { say(`${path.slice(5)} ${ip}: refused (${r.status}) ${body.error || ""}`, true); return; }
  say(body.message ? `${path.slice(5)} ${ip} in ${jail}: ${body.message}`
                   : `${path.slice(5)} ${ip} in ${jail}: ${body.changed} changed`);
  refresh();
}

function pad(n) { return String(n).padStart(2, "0"); }

function when(epoch) {
  if (epoch === null || epoch === undefined) return "—";
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function span(seconds) {
  if (seconds === null) return "permanent";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** How long ago `epoch` was, e.g. "4s ago"; the date itself goes in a tooltip. */
function ago(epoch) {
  if (epoch === null || epoch === undefined) return el("span", { class: "muted" }, "not yet");
  return el("time", { datetime: new Date(epoch * 1000).toISOString(), title: when(epoch) },
    span(Date.now() / 1000 - epoch) + " ago");
}

function jailLink(name) { return el("a", { href: "#/jail/" + encodeURIComponent(name) }, name); }

// ---- Overview -------------------------------------------------------------

const overview = {
  title: "Overview",
  mount(main) {
    this.jails = el("div", {});
    this.charts = el("div", { class: "cards" });
    this.tops = el("div", { class: "cards" });
    const ranges = ["hour", "day", "week"].map(r =>
      el("button", { type: "button", "aria-pressed": String(r === state.range), onclick: () => {
        state.range = r;
        for (const b of ranges) b.setAttribute("aria-pressed", String(b.textContent === "last " + r));
        this.drawCharts();
      } }, "last " + r));
    this.since = el("p", { class: "muted", id: "since-start" });
    main.append(el("h1", {}, "Overview"), el("h2", {}, "Jails"), this.jails, this.since,
      el("h2", {}, "Activity"), el("div", { class: "toolbar", role: "group", "aria-label": "Chart range" }, ranges),
      this.charts, el("h2", {}, "Top offenders"), this.tops);
  },
  drawCharts() {
    const t = Date.now();
    this.charts.replaceChildren(...["failures", "bans"].map(kind => el("figure", { class: "card" },
      el("figcaption", {}, kind === "failures" ? "Failures" : "Bans"),
      el("img", { src: `/api/chart.svg?range=${state.range}&kind=${kind}&t=${t}`, width: 560, height: 200,
        alt: `${kind} per jail over the last ${state.range}` }))));
  },
  async refresh() {
    const d = await getJSON("/api/overview");
    noteWrites(d.writes);
    // The totals count from each jail's start (not kept across a restart); a jail
    // a reload added later says its own start.
    const first = Math.min(...d.jails.map(j => j.since));
    const since = j => j.since - first > 60 ? el("span", { class: "muted" }, ` (since ${when(j.since)})`) : null;
    this.jails.replaceChildren(d.jails.length === 0 ? el("p", { class: "muted" }, "No jail is running.") :
      table(["Jail", { label: "Failing now", num: 1 }, { label: "Failures since start", num: 1 }, { label: "Banned now", num: 1 }, { label: "Bans since start", num: 1 }],
        d.jails.map(j => el("tr", {}, el("td", {}, jailLink(j.name), since(j)), cell(j.failed_now, 1), cell(j.failures, 1),
          cell(j.banned, 1), cell(j.bans, 1))), "jails-table"));
    this.since.textContent = d.jails.length === 0 ? "" : `Since start: counted from ${when(first)}, when the jails started. ` +
      "Failures are not kept across a restart; the bans in force restored at a restart count again.";
    this.drawCharts();
    this.tops.replaceChildren(
      el("section", { class: "card" }, el("h2", {}, "Addresses"),
        table(["Address", { label: "Bans", num: 1 }, "Now"], d.top_addresses.map(a => el("tr", {},
          el("td", { class: "mono" }, a.ip), cell(a.bans, 1), el("td", { class: a.banned_now ? "bad" : "muted" }, a.banned_now ? "banned" : "free"))))),
      el("section", { class: "card" }, el("h2", {}, "Networks (/24, /64)"),
        table(["Network", { label: "Bans", num: 1 }, { label: "Addresses", num: 1 }], d.top_networks.map(n => el("tr", {},
          el("td", { class: "mono" }, n.network), cell(n.bans, 1), cell(n.addresses, 1))))));
  },
};

// ---- Bans -----------------------------------------------------------------

const COLUMNS = [
  { key: "ip", label: "Address" }, { key: "jail", label: "Jail" }, { key: "start", label: "Since" },
  { key: "left", label: "Time left", num: 1 }, { key: "count", label: "Ban count", num: 1 }, { key: "failures", label: "Failures", num: 1 }, { key: "origin", label: "Origin" },
];

/** The bans table: the server searches, sorts and cuts; the page draws. */
const bans = {
  title: "Bans",
  mount(main) {
    this.data = null;
    let pending = null;
    const search = el("input", { type: "search", id: "ban-search", placeholder: "address or jail", value: state.filter,
      oninput: e => { state.filter = e.target.value; clearTimeout(pending); pending = setTimeout(refresh, 200); } });
    this.jailSelect = el("select", { id: "ban-jail", required: true });
    const ip = el("input", { id: "ban-ip", required: true, placeholder: "192.0.2.1", spellcheck: "false" });
    this.banButton = el("button", { type: "submit", class: "primary" }, "Ban");
    const form = el("form", { class: "toolbar", onsubmit: e => { e.preventDefault(); write("/api/ban", this.jailSelect.value, ip.value.trim()); } },
      el("label", { for: "ban-jail" }, "Jail"), this.jailSelect, el("label", { for: "ban-ip" }, "Address"), ip, this.banButton);
    this.count = el("p", { class: "muted" });
    this.body = el("div", {});
    main.append(el("h1", {}, "Bans"),
      el("div", { class: "toolbar" }, el("label", { for: "ban-search" }, "Search"), search),
      this.count, this.body, el("h2", {}, "Ban an address"), form,
      el("p", { class: "muted", id: "write-note" }));
  },
  async refresh() {
    const q = new URLSearchParams({ q: state.filter, sort: state.sort.key, order: state.sort.desc ? "desc" : "asc" });
    const d = await getJSON("/api/bans?" + q);
    noteWrites(d.writes);
    if (this.jailSelect.options.length !== d.jails.length) {
      this.jailSelect.replaceChildren(...d.jails.map(n => el("option", { value: n }, n)));
    }
    this.data = d;
    this.draw();
  },
  draw() {
    const writable = state.writes !== false && state.token !== "";
    this.banButton.disabled = !writable;
    document.getElementById("write-note").textContent = writable ? "" : state.writes === false
      ? "Read-only: this server has no dashboard_token, so the page cannot ban or unban."
      : "Read-only: enter the dashboard token above and press Use to ban and unban.";
    if (!this.data) return;
    const d = this.data;
    const { key, desc } = state.sort;
    this.count.textContent = `${d.matched} of ${d.total} bans` + (d.matched > d.bans.length ? `, the first ${d.bans.length} shown: search to narrow` : "");
    const head = el("tr", {}, COLUMNS.map(c => el("th", { scope: "col", class: c.num ? "num" : null,
      "aria-sort": c.key === key ? (desc ? "descending" : "ascending") : null },
      c.key ? el("button", { type: "button", onclick: () => { state.sort = { key: c.key, desc: c.key === key ? !desc : false }; refresh(); } }, c.label) : c.label)),
      el("th", {}, el("span", { class: "muted" }, "Action")));
    const now = Date.now() / 1000, skew = d.now - now;
    const rows = d.bans.map(b => el("tr", {},
      el("td", { class: "mono" }, b.ip), el("td", {}, jailLink(b.jail)), el("td", {}, when(b.start)),
      cell(span(b.end === null ? null : b.end - now - skew), 1), cell(orNone(b.count, "received"), 1),
      cell(b.failures, 1), el("td", {}, b.origin ? b.origin : el("span", { class: "muted" }, "local")),
      el("td", {}, el("button", { type: "button", class: "unban", disabled: !writable, "data-ip": b.ip, "data-jail": b.jail,
        "aria-label": `Unban ${b.ip} in ${b.jail}`, onclick: () => write("/api/unban", b.jail, b.ip) }, "Unban"))));
    this.body.replaceChildren(el("div", { class: "scroll" }, el("table", { id: "bans-table" }, el("thead", {}, head), el("tbody", {}, rows))));
  },
};

// ---- A jail ---------------------------------------------------------------

function jailView(name) {
  return {
    title: "Jail " + name,
    mount(main) { this.main = main; },
    async refresh() {
      const j = await getJSON("/api/jail?name=" + encodeURIComponent(name));
      noteWrites(j.writes);
      const facts = (pairs) => el("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
      const opts = j.options;
      const inc = opts["bantime.increment"];
      const s = j.sources;
      this.main.replaceChildren(el("div", {},
        el("h1", {}, "Jail ", el("span", { class: "mono" }, j.name)),
        facts([["Failing now", j.counts.failed_now], ["Failures since start", j.counts.failures], ["Banned now", j.counts.banned],
          ["Bans since start", j.counts.bans], ["Started", when(j.counts.since)]]),
        el("h2", {}, "Filter ", el("span", { class: "mono" }, j.filter.name)),
        el("p", { class: "muted" }, "failregex"), el("ol", { class: "lines" }, j.filter.failregex.map(r => el("li", {}, el("code", {}, r)))),
        j.filter.ignoreregex.length ? [el("p", { class: "muted" }, "ignoreregex"), el("ol", { class: "lines" }, j.filter.ignoreregex.map(r => el("li", {}, el("code", {}, r))))] : null,
        el("h2", {}, "Actions"), j.actions.length === 0 ? el("p", { class: "muted" }, "None.") :
          el("ul", {}, j.actions.map(a => el("li", { class: "mono" }, a))),
        el("h2", {}, "Options"),
        facts([["backend", opts.backend], ["maxretry", opts.maxretry], ["findtime", span(opts.findtime)],
          ["bantime", opts.bantime < 0 ? "permanent" : span(opts.bantime)],
          ["bantime.increment", inc ? `factor ${inc.factor}, maxtime ${inc.maxtime === null ? "none" : span(inc.maxtime)}${inc.overalljails ? ", over all jails" : ""}` : "off"],
          ["ignoreip", opts.ignoreip.join(" ") || "—"], ["ignoreself", String(opts.ignoreself)], ["usedns", opts.usedns], ["logencoding", opts.logencoding]]),
        el("h2", {}, "Logs"),
        s.files ? table(["File", { label: "Size", num: 1 }, { label: "Read up to", num: 1 }],
          s.files.map(f => el("tr", {}, el("td", { class: "mono" }, f.path), cell(f.size ?? "missing", 1), cell(f.position ?? "—", 1))))
          : facts([["journal matches", s.journal.matches.join(" + ") || "—"], ["cursor", s.journal.cursor || "—"]]),
        el("h2", {}, "Recent matched lines"),
        j.matches.length === 0 ? el("p", { class: "muted" }, "None recorded for this jail's bans.") :
          el("ol", { class: "lines", id: "matches" }, j.matches.map(m => el("li", {},
            el("span", { class: "muted" }, `${when(m.time)} ${m.ip} `), el("code", {}, m.line))))));
    },
  };
}

// ---- Fleet ----------------------------------------------------------------

const fleet = {
  title: "Fleet",
  mount(main) { this.main = main; },
  async refresh() {
    const f = await getJSON("/api/fleet");
    noteWrites(f.writes);
    if (!f.configured) {
      this.main.replaceChildren(el("h1", {}, "Fleet"), el("p", { id: "fleet-state" }, "Fleet not configured on this host."));
      return;
    }
    const refused = Object.entries(f.refused || {});
    this.main.replaceChildren(el("h1", {}, "Fleet ", el("span", { class: "mono" }, f.name)),
      el("p", { id: "fleet-state", class: f.connected ? "good" : "bad" }, f.connected ? `connected to ${f.url}` : `not connected (${f.url})`),
      // Why it is not connected: the last error, when it happened, as `ferroban fleet` says it (with a hint when
      // [Fleet] name and the login differ). The API keeps it after reconnecting; `connected` is the state now.
      ...(!f.connected && f.last_error ? [el("p", { id: "fleet-error", class: "bad" }, `Last error (${when(f.last_error_at)}): ${f.last_error}`)] : []),
      // Another host publishing under this one's name (a cloned [Fleet] section): shown connected or not.
      ...(f.twin ? [el("p", { id: "fleet-twin", class: "bad" }, `Twin (${when(f.twin_at)}): ${f.twin}`)] : []),
      el("dl", { class: "facts", id: "fleet-facts" }, [["Outbox", f.outbox], ["Published", f.published], ["Unconfirmed", f.unconfirmed ?? 0],
        ["Received", f.received], ["Applied", f.applied], ["Already held", f.already_held ?? 0], ["Lifts", f.lifts ?? 0],
        ["Refused (received)", f.refused_received ?? 0], ["Failures received", f.failures_received ?? 0],
        ["Failures refused", f.failures_refused ?? 0]]
        .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("h2", {}, "Hosts"),
      table(["Host", "Last activity", { label: "Bans", num: 1 }], (f.hosts || []).map(h => el("tr", {},
        el("td", { class: "mono" }, h.name, h.name === f.name ? el("span", { class: "muted" }, " (this host)") : null),
        el("td", {}, ago(h.last_seen)), cell(h.bans, 1))), "fleet-hosts"),
      el("h2", {}, "Refused"),
      refused.length === 0 ? el("p", { class: "muted" }, "Nothing refused.") :
        table(["Reason", { label: "Count", num: 1 }], refused.map(([k, v]) => el("tr", {}, el("td", {}, k), cell(v, 1))), "fleet-refused"));
  },
};

// ---- Routing and polling --------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  if (hash === "bans") return bans;
  if (hash === "fleet") return fleet;
  if (hash.startsWith("jail/")) return jailView(decodeURIComponent(hash.slice(5)));
  return overview;
}

let firstRender = true;

/** Whether the server takes writes: without a dashboard_token it asks for none. */
function noteWrites(writes) {
  if (writes === undefined || writes === state.writes) return;
  state.writes = writes;
  document.getElementById("token-form").hidden = !writes;
}

async function refresh() {
  const view = state.view;
  const main = document.getElementById("main");
  try {
    await view.refresh();
    if (view !== state.view) return;
    if (state.failing) {
      state.failing = false;
      main.classList.remove("stale");
      say("server reachable again");
    }
    document.getElementById("updated").textContent = "updated " + when(Date.now() / 1000).slice(11);
    document.getElementById("main").dataset.ready = view.title;
    if (firstRender) {
      // The benchmark reads this mark: the time to the first page with data.
      firstRender = false;
      performance.mark("ferroban-first-render");
    }
  } catch (e) {
    // What is shown stays, marked as old: the bans on it may have ended since.
    state.failing = true;
    main.classList.add("stale");
    say(`cannot load (${e.message}): the page shows the data of its last update`, true);
  }
}

function show() {
  const main = document.getElementById("main");
  state.view = route();
  document.title = state.view.title + " — ferroban";
  for (const a of document.querySelectorAll("nav a")) {
    const current = a.getAttribute("href") === (location.hash || "#/");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  delete main.dataset.ready;
  main.replaceChildren();
  state.view.mount(main);
  refresh();
}

/** Keep `token` for this tab (or forget it, when empty) and redraw the buttons. */
function useToken(token) {
  state.token = token;
  sessionStorage.setItem("ferroban-token", token);
  if (state.view === bans) bans.draw();
}

// The server checks a typed token at once, so a wrong one is said now, not at
// the first unban.
document.getElementById("token-form").addEventListener("submit", async e => {
  e.preventDefault();
  const token = document.getElementById("token").value.trim();
  if (!token) { useToken(""); say("token cleared: read-only"); return; }
  let r, body;
  try {
    [r, body] = await post("/api/token", token, {});
  } catch (err) {
    say(`cannot reach the server to check the token (${err.message})`, true);
    return;
  }
  if (r.ok) { useToken(token); say("token accepted: writes are sent with it"); return; }
  useToken("");
  noteWrites(body.writes);
  say(r.status === 401 ? "token refused: it is not this server's dashboard_token"
                       : `token not usable (${r.status}): ${body.error || r.statusText}`, true);
});
document.getElementById("token").value = state.token;
window.addEventListener("hashchange", show);
setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
show();
