// Vitals dashboard. Plain JavaScript, no dependencies, no build step.
//
// Everything comes from the monitoring API next to this page, through
// relative URLs (api/health, prometheus/api/v1/query_range, ...), so the page works under
// any prefix. Every string from the API reaches the DOM through textContent
// or setAttribute, never as HTML: labels and annotations are user data.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const REFRESH_MS = 5000;
  const FETCH_TIMEOUT_MS = 10000;
  const NOTICE_MS = 30000;
  const TOKEN_KEY = "vitals.dashboard.token";
  const WINDOWS = { "5m": 300, "15m": 900, "1h": 3600, "6h": 21600 };
  const TOP_ROUTES = 5;
  const HISTORY_ROWS = 50; // resolved firings shown, newest first
  const HTTP = "http_server_request_duration_seconds";
  const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

  const state = {
    window: "15m",
    token: "",
    offsetMs: 0, // server clock minus this browser's clock
    perf: "unknown", // "available" or "missing" once api/performance answered
    ns: "app", // namespace of the business metrics
    nsFixed: false, // given in the URL, or detected
    service: "",
    system: undefined,
    systemAt: 0,
    busy: false,
    again: false,
    timer: 0,
    alerts: undefined, // last answers, to redraw when the token changes
    silences: undefined,
    notice: null, // {text, error, until}
    errors: [],
    updated: null,
  };

  // ---- DOM helpers: text only, never HTML --------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  // h builds an element. props: class, text, on<event> (functions) and
  // attributes; kids: nodes or strings (added as text).
  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = String(v);
        else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    add(e, kids);
    return e;
  }

  function add(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }

  function fill(e, ...kids) {
    e.replaceChildren();
    add(e, kids);
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function nodata(text) {
    return h("p", { class: "nodata", text: text || "No data in the window." });
  }

  // ---- formatting ---------------------------------------------------------

  function trim(s) {
    return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
  }

  function num(v) {
    if (v === undefined || v === null || !isFinite(v)) return "—";
    const a = Math.abs(v);
    if (a >= 1e9) return trim((v / 1e9).toFixed(2)) + "G";
    if (a >= 1e6) return trim((v / 1e6).toFixed(2)) + "M";
    if (a >= 1e4) return trim((v / 1e3).toFixed(1)) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return trim(v.toFixed(1));
    if (a >= 1) return trim(v.toFixed(2));
    if (a === 0) return "0";
    if (a >= 0.01) return trim(v.toFixed(3));
    return trim(v.toPrecision(2));
  }

  const fmt = {
    num,
    pct: (v) => (v === undefined || v === null || !isFinite(v) ? "—" : num(v) + " %"),
    dur: (s) => {
      if (s === undefined || s === null || !isFinite(s)) return "—";
      const a = Math.abs(s);
      if (a === 0) return "0";
      if (a < 1e-3) return num(s * 1e6) + " µs";
      if (a < 1) return num(s * 1e3) + " ms";
      if (a < 120) return num(s) + " s";
      if (a < 7200) return num(s / 60) + " min";
      return num(s / 3600) + " h";
    },
    bytes: (b) => {
      if (b === undefined || b === null || !isFinite(b)) return "—";
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (Math.abs(b) >= 1024 && i < units.length - 1) {
        b /= 1024;
        i++;
      }
      return num(b) + " " + units[i];
    },
    // Counts over the window are exact differences of cumulative counters
    // (see windowDelta): whole numbers, grouped by thousands.
    count: (v) => (v === undefined || v === null || !isFinite(v) ? "—" : Math.round(v).toLocaleString("en")),
    money: (v) => (isFinite(v) ? v.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : "—"),
  };

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function clock(ms, seconds) {
    const d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + (seconds ? ":" + pad(d.getSeconds()) : "");
  }

  // parseTime returns milliseconds, or NaN for a missing or zero Go time.
  function parseTime(s) {
    const t = Date.parse(s || "");
    return isNaN(t) || t < 86400000 ? NaN : t;
  }

  function ago(ms) {
    if (!isFinite(ms)) return "";
    let s = Math.max(0, Math.round((serverNow() - ms) / 1000));
    if (s < 60) return s + "s ago";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s ago";
    const hr = Math.floor(m / 60);
    if (hr < 48) return hr + "h " + (m % 60) + "m ago";
    return Math.floor(hr / 24) + "d ago";
  }

  function serverNow() {
    return Date.now() + state.offsetMs;
  }

  // stamp shows the time ms: the clock for today, the date and the clock
  // for another day, with the full local time as a tooltip.
  function stamp(ms) {
    if (!isFinite(ms)) return "—";
    const d = new Date(ms);
    const today = d.toDateString() === new Date(serverNow()).toDateString();
    return h("time", { datetime: d.toISOString(), title: d.toLocaleString(), text: (today ? "" : d.toLocaleDateString() + " ") + clock(ms, true) });
  }

  // ---- the API --------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, opts) {
    const method = (opts && opts.method) || "GET";
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let body;
    if (opts && opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    let resp;
    try {
      resp = await fetch(path, { method, headers, body, signal: ctl.signal, cache: "no-store", credentials: "same-origin", redirect: "error" });
    } catch (e) {
      throw new APIError(0, e && e.name === "AbortError" ? "no answer within " + FETCH_TIMEOUT_MS / 1000 + " s" : "cannot reach the service");
    } finally {
      clearTimeout(timer);
    }
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!isNaN(date)) state.offsetMs = date + 500 - Date.now(); // Date has whole seconds
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const msg = data && typeof data.error === "string" && data.error ? data.error : resp.status + " " + resp.statusText;
      throw new APIError(resp.status, msg);
    }
    if (data === null) throw new APIError(resp.status, "the answer is not JSON");
    return data;
  }

  // query runs an instant PromQL query: [{metric, value: [t, "v"]}].
  async function query(expr) {
    const r = await api("prometheus/api/v1/query?query=" + encodeURIComponent(expr));
    return r && r.data && Array.isArray(r.data.result) ? r.data.result : [];
  }

  // queryRange runs a range query: [{metric, values: [[t, "v"], ...]}].
  async function queryRange(expr, rg) {
    const r = await api("prometheus/api/v1/query_range?query=" + encodeURIComponent(expr) + "&start=" + rg.start + "&end=" + rg.end + "&step=" + rg.step);
    return r && r.data && Array.isArray(r.data.result) ? r.data.result : [];
  }

  // rangeCache keeps each chart query's points between refreshes, by query
  // and step: {expr|step: {last, series: {labels: {metric, values}}}}.
  const rangeCache = new Map();
  const RANGE_REFETCH = 2; // grid points asked again, for a collection that came late

  // chartRange answers the range query expr over rg as queryRange does, on
  // a grid of multiples of rg.step, asking the service only for the points
  // after the ones it has (and the last RANGE_REFETCH again): a refresh
  // evaluates two or three steps, not the window's sixty, which is most of
  // what an open dashboard would cost the service.
  async function chartRange(expr, rg) {
    const first = Math.ceil(rg.start / rg.step) * rg.step;
    const last = Math.floor(rg.end / rg.step) * rg.step;
    const key = expr + "|" + rg.step;
    let c = rangeCache.get(key);
    if (!c || c.last < first - rg.step || c.last > last) c = { last: -Infinity, series: {} };
    const from = Math.max(first, c.last - RANGE_REFETCH * rg.step);
    if (from <= last) {
      const got = await queryRange(expr, { start: from, end: last, step: rg.step });
      const next = { last, series: {} };
      for (const [k, s] of Object.entries(c.series)) next.series[k] = { metric: s.metric, values: s.values.filter((p) => p[0] >= first && p[0] < from) };
      for (const s of got) {
        const k = JSON.stringify(s.metric || {});
        const old = next.series[k];
        next.series[k] = { metric: s.metric || {}, values: (old ? old.values : []).concat(s.values || []) };
      }
      c = next;
      rangeCache.set(key, c);
    }
    // Queries no refresh asked for (another window, other top routes) go.
    for (const [k, e] of rangeCache) if (e.last < first - rg.step) rangeCache.delete(k);
    return Object.values(c.series).filter((s) => s.values.length > 0);
  }

  // exemplarsOf returns Prometheus' query_exemplars answer for expr between
  // start and end (Unix seconds): [{seriesLabels, exemplars: [{labels,
  // value, timestamp}]}].
  async function exemplarsOf(expr, start, end) {
    const r = await api("prometheus/api/v1/query_exemplars?query=" + encodeURIComponent(expr) + "&start=" + start + "&end=" + end);
    return r && Array.isArray(r.data) ? r.data : [];
  }

  // slowestTraced picks, for each route ("METHOD route" and "route"), the
  // slowest request of the window that carries a trace: the exemplar of
  // largest value on its duration histogram's buckets.
  function slowestTraced(data) {
    const out = {};
    for (const s of data || []) {
      const m = s.seriesLabels || {};
      const route = String(m.http_route || "");
      for (const e of s.exemplars || []) {
        const v = parseFloat(e.value);
        const tid = String((e.labels || {}).trace_id || "");
        if (!tid || !isFinite(v)) continue;
        for (const k of [route, String(m.http_request_method || "") + " " + route]) {
          if (!out[k] || v > out[k].seconds) out[k] = { seconds: v, traceId: tid, at: 1000 * Number(e.timestamp) };
        }
      }
    }
    return out;
  }

  // traceLink returns the address of trace id in the tracing backend, from
  // the service's trace URL template (vitals.WithTraceURL), or "" without
  // one. Only a hex trace ID and an http(s) template make a link.
  function traceLink(id) {
    const tmpl = state.system && typeof state.system.traceURL === "string" ? state.system.traceURL : "";
    if (!/^https?:\/{2}/i.test(tmpl) || !/^[0-9a-f]{32}$/.test(id)) return "";
    return tmpl.split("{trace_id}").join(id);
  }

  function val(sample) {
    return sample && sample.value ? parseFloat(sample.value[1]) : NaN;
  }

  // series turns a matrix into chart series named by name(metric).
  function series(matrix, name) {
    return (matrix || []).map((m) => ({
      name: name ? name(m.metric || {}) : "",
      pts: (m.values || []).map((p) => [p[0] * 1000, parseFloat(p[1])]),
    }));
  }

  // byLabel maps an instant vector to {labelValue: value}.
  function byLabel(vector, label) {
    const out = {};
    for (const s of vector || []) out[(s.metric || {})[label] || ""] = val(s);
    return out;
  }

  function promString(s) {
    return '"' + String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") + '"';
  }

  function regexEscape(s) {
    return String(s).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
  }

  // ---- charts: hand-written SVG ---------------------------------------------

  const CW = 320;
  const CH = 132;
  const M = { l: 50, r: 8, t: 8, b: 20 };

  // niceMax rounds v up to 1, 2, 2.5 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0) || !isFinite(v)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p * 1.0000001) return m * p;
    return 10 * p;
  }

  function summarize(pts, f) {
    const vs = pts.map((p) => p[1]).filter(isFinite);
    if (!vs.length) return "no data";
    return "latest " + f(vs[vs.length - 1]) + ", min " + f(Math.min(...vs)) + ", max " + f(Math.max(...vs));
  }

  function lastValue(pts) {
    for (let i = pts.length - 1; i >= 0; i--) if (isFinite(pts[i][1])) return pts[i][1];
    return NaN;
  }

  // chart draws a line chart of series over [rg.start, rg.end] (seconds),
  // with y from 0, axis labels, a legend when there are several series and
  // an aria-label that states the numbers. opts.tip says what a point is
  // (its unit, the rate's range, whether it is an estimate): the title's
  // tooltip, and the end of the aria-label.
  function chart(title, list, rg, f, opts) {
    opts = opts || {};
    list = (list || []).filter((s) => s.pts.some((p) => isFinite(p[1])));
    const x0 = rg.start * 1000;
    const x1 = rg.end * 1000;
    const gap = rg.step * 1000 * 1.5;
    let max = 0;
    for (const s of list) for (const p of s.pts) if (isFinite(p[1]) && p[1] > max) max = p[1];
    let ymax = niceMax(max);
    if (opts.bytes && max >= 1024) {
      let u = 1;
      while (max / u >= 1024) u *= 1024;
      ymax = niceMax(max / u) * u; // 50 MiB rather than 50 000 000 B
    }
    if (opts.max) ymax = Math.max(opts.max, ymax);
    const pw = CW - M.l - M.r;
    const ph = CH - M.t - M.b;
    const X = (t) => M.l + ((t - x0) / (x1 - x0)) * pw;
    const Y = (v) => M.t + ph - (Math.min(v, ymax) / ymax) * ph;

    const label =
      title +
      ", " +
      state.window +
      " window: " +
      (list.length === 0 ? "no data" : list.map((s) => (s.name ? s.name + " " : "") + summarize(s.pts, f)).join("; ")) +
      (opts.tip ? ". " + opts.tip : "");
    const root = svg("svg", { class: "plot", viewBox: "0 0 " + CW + " " + CH, role: "img", "aria-label": label });
    root.append(svg("title", {}, label));
    for (const frac of [0, 0.5, 1]) {
      const y = M.t + ph - frac * ph;
      root.append(svg("line", { class: "grid", x1: M.l, x2: CW - M.r, y1: y, y2: y }));
      if (list.length) root.append(svg("text", { class: "axis", x: M.l - 5, y: y + 3, "text-anchor": "end" }, f(frac * ymax)));
    }
    const secs = rg.end - rg.start <= 300;
    [
      [x0, "start"],
      [(x0 + x1) / 2, "middle"],
      [x1, "end"],
    ].forEach(([t, anchor]) => root.append(svg("text", { class: "axis", x: X(t), y: CH - 5, "text-anchor": anchor }, clock(t, secs))));

    if (list.length === 0) {
      root.append(svg("text", { class: "empty", x: M.l + pw / 2, y: M.t + ph / 2 + 4, "text-anchor": "middle" }, "no data"));
    }
    list.forEach((s, i) => {
      const cls = "c" + (i % 6);
      let d = "";
      let prev = null;
      let runs = [];
      let run = [];
      for (const [t, v] of s.pts) {
        if (!isFinite(v) || t < x0 || t > x1) {
          prev = null;
          continue;
        }
        if (prev === null || t - prev > gap) {
          if (run.length) runs.push(run);
          run = [];
        }
        run.push([X(t), Y(v)]);
        prev = t;
      }
      if (run.length) runs.push(run);
      for (const r of runs) {
        if (r.length === 1) {
          root.append(svg("circle", { class: cls, cx: r[0][0].toFixed(1), cy: r[0][1].toFixed(1), r: 1.8 }));
          continue;
        }
        const seg = r.map((p, j) => (j ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1)).join("");
        d += seg;
        if (list.length === 1) {
          const base = (M.t + ph).toFixed(1);
          const area = seg + "L" + r[r.length - 1][0].toFixed(1) + " " + base + "L" + r[0][0].toFixed(1) + " " + base + "Z";
          root.append(svg("path", { class: "area " + cls, d: area }));
        }
      }
      if (d) {
        const path = svg("path", { class: "ln " + cls, d });
        path.append(svg("title", {}, (s.name || title) + ": " + summarize(s.pts, f)));
        root.append(path);
      }
    });

    const last = list.length === 1 ? f(lastValue(list[0].pts)) : list.length === 0 ? "—" : "";
    const fig = h(
      "figure",
      { class: "chart" },
      h("figcaption", null, h("span", { class: "t", text: title, title: opts.tip }), h("span", { class: "last", text: last, "aria-hidden": "true" })),
      root,
    );
    if (list.length > 1 || opts.legend) {
      fig.append(
        h(
          "ul",
          { class: "legend", "aria-hidden": "true" },
          list.map((s, i) => h("li", null, h("span", { class: "sw c" + (i % 6) }), s.name + " " + f(lastValue(s.pts)))),
        ),
      );
    }
    return fig;
  }

  // ---- sections -------------------------------------------------------------

  function table(cols, rows) {
    return h(
      "table",
      null,
      h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col", class: c.num ? "num" : null, title: c.tip, text: c.title })))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            null,
            cols.map((c, i) => {
              const v = c.get(r);
              const cell = h(i === 0 ? "th" : "td", { class: c.num ? "num" : c.cls || null, scope: i === 0 ? "row" : null });
              add(cell, [v]);
              return cell;
            }),
          ),
        ),
      ),
    );
  }

  // renderSLOs shows each SLO: SLI now against its objective, burn rate per
  // window (highlighted above the page and ticket factors), budget left and
  // the state of its page and ticket alerts.
  function renderSLOs(slos) {
    const sec = $("slos");
    if (!slos || !slos.length) {
      sec.hidden = true;
      return;
    }
    sec.hidden = false;
    const factors = { "5m": 14.4, "1h": 14.4, "30m": 6, "6h": 6, "2h": 3, "1d": 3, "3d": 1 };
    const burn = (s, w) => {
      const v = (s.burnRates || {})[w];
      if (v === undefined) return "–";
      return h("span", { class: v > (factors[w] || 1) ? "bad" : null, text: v.toFixed(2) + "×" });
    };
    const pct = (v, digits) => (v === undefined || v === null ? "–" : v.toFixed(digits) + " %");
    const alertState = (s, sev) => {
      const a = (s.alerts || []).find((x) => (x.labels || {}).sloth_severity === sev && (x.state === "firing" || x.state === "pending"));
      return a ? badge(a.state) : h("span", { class: "muted", text: "ok" });
    };
    fill(
      $("slo-list"),
      table(
        [
          { title: "SLO", get: (s) => (s.service ? s.service + " / " : "") + s.name },
          { title: "SLI (5m)", num: true, get: (s) => pct(s.sli, 3) },
          { title: "Objective", num: true, get: (s) => pct(s.objective, 2) },
          { title: "Burn 5m", num: true, get: (s) => burn(s, "5m") },
          { title: "1h", num: true, get: (s) => burn(s, "1h") },
          { title: "6h", num: true, get: (s) => burn(s, "6h") },
          { title: "1d", num: true, get: (s) => burn(s, "1d") },
          { title: "3d", num: true, get: (s) => burn(s, "3d") },
          { title: "Budget left", num: true, get: (s) => (s.errorBudgetRemaining === undefined ? "–" : pct(100 * s.errorBudgetRemaining, 1)) },
          { title: "Page", get: (s) => alertState(s, "page") },
          { title: "Ticket", get: (s) => alertState(s, "ticket") },
        ],
        slos,
      ),
    );
  }

  function badge(text, cls) {
    return h("span", { class: "badge " + (cls || String(text).toLowerCase()), text });
  }

  function renderHealth(rep) {
    const st = $("health-status");
    if (!rep) {
      st.textContent = "unknown";
      st.className = "badge big";
      return;
    }
    const status = String(rep.status || "unknown");
    st.textContent = status;
    st.className = "badge big " + status.toLowerCase();
    st.setAttribute("data-status", status);
    fill($("health-slowest"), rep.slowestCheck ? "slowest check: " + rep.slowestCheck : "");
    const checks = Array.isArray(rep.checks) ? rep.checks : [];
    if (!checks.length) {
      fill($("health-checks"), nodata("No health checks registered."));
      return;
    }
    const has = (k) => checks.some((c) => c[k] !== undefined && c[k] !== "" && c[k] !== 0 && c[k] !== false);
    const cols = [
      { title: "Check", get: (c) => String(c.name) },
      { title: "Status", get: (c) => [badge(String(c.status)), c.enabled === false ? h("span", { class: "muted", text: " disabled" }) : null] },
    ];
    if (has("critical")) cols.push({ title: "Critical", get: (c) => (c.critical ? "yes" : "no") });
    if (has("lastRun")) cols.push({ title: "Last run", get: (c) => ago(parseTime(c.lastRun)) });
    if (has("durationSeconds")) cols.push({ title: "Took", num: true, get: (c) => fmt.dur(c.durationSeconds) });
    if (has("runs")) cols.push({ title: "Fails / runs", num: true, get: (c) => (c.failures || 0) + " / " + (c.runs || 0) });
    if (has("output")) cols.push({ title: "Output", cls: "output", get: (c) => String(c.output || "") });
    fill($("health-checks"), table(cols, checks));
  }

  const SEVERITY_ORDER = { critical: 0, error: 1, warning: 2, info: 3 };

  function renderAlerts(rep, missing) {
    const statsEl = $("alert-stats");
    const list = $("alert-list");
    if (missing) {
      fill(statsEl);
      fill(list, nodata("Alerting is not enabled on this service."));
      return;
    }
    if (!rep) return;
    const st = rep.stats || {};
    fill(
      statsEl,
      badge((st.firing || 0) + " firing", st.firing ? "firing" : "pass"),
      badge((st.pending || 0) + " pending", st.pending ? "pending" : "pass"),
      badge((st.silenced || 0) + " silenced", st.silenced ? "silenced" : "pass"),
      badge((st.resolved || 0) + " resolved", "info"),
    );
    const active = (rep.alerts || []).filter((a) => a.state === "firing" || a.state === "pending");
    active.sort((a, b) => {
      const sa = a.state === "firing" ? 0 : 1;
      const sb = b.state === "firing" ? 0 : 1;
      if (sa !== sb) return sa - sb;
      const va = SEVERITY_ORDER[(a.labels || {}).severity] ?? 9;
      const vb = SEVERITY_ORDER[(b.labels || {}).severity] ?? 9;
      if (va !== vb) return va - vb;
      return String((a.labels || {}).alertname).localeCompare(String((b.labels || {}).alertname));
    });
    if (!active.length) {
      fill(list, nodata("No firing or pending alerts."));
      return;
    }
    fill(list, h("ul", { class: "alerts" }, active.map(alertItem)));
  }

  function alertItem(a) {
    const labels = a.labels || {};
    const ann = a.annotations || {};
    const name = String(labels.alertname || "(unnamed)");
    const sev = labels.severity ? String(labels.severity) : "";
    const silenced = Array.isArray(a.silencedBy) && a.silencedBy.length > 0;
    const li = h(
      "li",
      { class: "alert " + a.state, "aria-label": name + ", " + a.state + (sev ? ", " + sev : "") },
      h(
        "div",
        { class: "alert-head" },
        h("span", { class: "alert-name", text: name }),
        badge(String(a.state), a.state === "firing" ? "firing" : "pending"),
        sev ? badge(sev, SEVERITY_ORDER[sev] === 0 ? "critical" : sev === "warning" ? "warning" : "info") : null,
        silenced ? badge("silenced", "silenced") : null,
      ),
    );
    if (ann.summary) li.append(h("p", { class: "alert-summary", text: String(ann.summary) }));
    if (ann.description) li.append(h("p", { class: "alert-desc", text: String(ann.description) }));
    const others = Object.keys(ann)
      .filter((k) => k !== "summary" && k !== "description")
      .sort();
    for (const k of others) li.append(h("p", { class: "alert-desc" }, h("span", { class: "muted", text: k + ": " }), String(ann[k])));
    const chips = labelChips(labels, ["alertname", "severity"]);
    if (chips) li.append(chips);
    const active = parseTime(a.activeAt);
    const starts = parseTime(a.startsAt);
    const meta = ["value " + (typeof a.value === "string" ? a.value : num(Number(a.value)))]; // a string for NaN and ±Inf
    if (isFinite(active)) meta.push("active since " + clock(active, true) + " (" + ago(active) + ")");
    if (a.state === "firing" && isFinite(starts)) meta.push("firing since " + clock(starts, true));
    li.append(h("div", { class: "alert-meta", text: meta.join(" · ") }));
    if (state.token) li.append(alertActions(a, name));
    return li;
  }

  // labelChips lists the labels but those named in skip as chips, sorted
  // by name: null when there are none.
  function labelChips(labels, skip) {
    labels = labels || {};
    const keys = Object.keys(labels)
      .filter((k) => !skip.includes(k))
      .sort();
    return keys.length ? h("ul", { class: "chips", "aria-label": "Labels" }, keys.map((k) => h("li", { text: k + "=" + labels[k] }))) : null;
  }

  function alertActions(a, name) {
    const note = h("input", { type: "text", placeholder: "reason / comment", "aria-label": "Reason or comment for " + name, maxlength: 500 });
    const dur = h(
      "select",
      { "aria-label": "Silence duration for " + name },
      ["1h", "4h", "24h"].map((d) => h("option", { value: d, text: d })),
    );
    const silenceBtn = h("button", { type: "button", text: "Silence", "aria-label": "Silence " + name });
    const resolveBtn = h("button", { type: "button", class: "danger", text: "Resolve", "aria-label": "Resolve " + name });
    silenceBtn.addEventListener("click", () => {
      const hours = parseInt(dur.value, 10) || 1;
      const matchers = Object.keys(a.labels || {})
        .sort()
        .map((k) => ({ name: k, value: String(a.labels[k]), isRegex: false, isEqual: true }));
      const body = {
        matchers,
        endsAt: new Date(serverNow() + hours * 3600 * 1000).toISOString(),
        createdBy: "vitals dashboard",
        comment: note.value.trim() || "silenced from the dashboard",
      };
      mutate(silenceBtn, "Silence " + name + " for " + dur.value, "api/silences", "POST", body);
    });
    resolveBtn.addEventListener("click", () => {
      const reason = note.value.trim() || "resolved from the dashboard";
      mutate(resolveBtn, "Resolve " + name, "api/alerts/" + encodeURIComponent(String(a.id)) + "/resolve", "POST", { reason });
    });
    return h("div", { class: "actions" }, note, dur, silenceBtn, resolveBtn);
  }

  function renderSilences(rep, missing) {
    const el = $("silence-list");
    if (missing) {
      fill(el);
      return;
    }
    if (!rep) return;
    const list = (rep.silences || []).filter((s) => s.state === "active" || s.state === "pending");
    if (!list.length) {
      fill(el, nodata("No active silences."));
      return;
    }
    const cols = [
      {
        title: "Matchers",
        get: (s) =>
          h(
            "ul",
            { class: "chips" },
            (s.matchers || []).map((m) => h("li", { text: m.name + (m.isEqual === false ? "!" : "=") + (m.isRegex ? "~" : "") + JSON.stringify(String(m.value)) })),
          ),
      },
      { title: "Status", get: (s) => badge(String(s.state), s.state === "active" ? "silenced" : "info") },
      { title: "Until", get: (s) => (isFinite(parseTime(s.endsAt)) ? new Date(parseTime(s.endsAt)).toLocaleString() : "") },
      { title: "By", get: (s) => String(s.createdBy || "") },
      { title: "Comment", cls: "output", get: (s) => String(s.comment || "") },
    ];
    if (state.token) {
      cols.push({
        title: "",
        get: (s) => {
          const b = h("button", { type: "button", text: "Expire", "aria-label": "Expire silence " + String(s.id) });
          b.addEventListener("click", () => mutate(b, "Expire silence", "api/silences/" + encodeURIComponent(String(s.id)), "DELETE"));
          return b;
        },
      });
    }
    fill(el, table(cols, list));
  }

  // renderHistory shows the alert history (api/alerts/history): the
  // firings that ended within the engine's history retention, newest first,
  // and how many times each alert started firing in it, most first. The
  // section is hidden when the service has no alerting.
  function renderHistory(hist, missing) {
    const sec = $("alert-history");
    if (missing || (hist && hist.missing)) {
      sec.hidden = true;
      return;
    }
    if (!hist) return;
    sec.hidden = false;
    const name = (x) => h("span", { title: x.group ? "rule group " + x.group : null, text: String((x.labels || {}).alertname || x.rule || "(unnamed)") });
    const labels = (x) => labelChips(x.labels, ["alertname"]);
    const resolved = Array.isArray(hist.resolved) ? hist.resolved : [];
    const shown = resolved.slice(0, HISTORY_ROWS);
    fill(
      $("history-resolved"),
      shown.length
        ? [
            table(
              [
                { title: "Alert", get: name },
                { title: "Labels", get: labels },
                { title: "Fired", tip: "When it started firing.", get: (e) => stamp(parseTime(e.startsAt)) },
                { title: "Resolved", tip: "When it stopped firing.", get: (e) => stamp(parseTime(e.endsAt)) },
                { title: "For", tip: "How long it fired.", num: true, get: (e) => fmt.dur((parseTime(e.endsAt) - parseTime(e.startsAt)) / 1000) },
                {
                  title: "How",
                  tip: "Resolved by hand, with the reason given, or because its condition cleared.",
                  cls: "output",
                  get: (e) => (e.resolvedReason ? [h("span", { class: "muted", text: "by hand: " }), String(e.resolvedReason)] : h("span", { class: "muted", text: "condition cleared" })),
                },
              ],
              shown,
            ),
            resolved.length > shown.length ? h("p", { class: "muted", text: "The newest " + shown.length + " of " + resolved.length + " shown." }) : null,
          ]
        : nodata("No firing has ended within the history's retention."),
    );
    // Most firings first; the API's order (most recently started first)
    // among equals: sort is stable.
    const fired = (Array.isArray(hist.fired) ? hist.fired : []).slice().sort((a, b) => (b.count || 0) - (a.count || 0));
    fill(
      $("history-fired"),
      fired.length
        ? table(
            [
              { title: "Alert", get: name },
              { title: "Labels", get: labels },
              { title: "Times fired", tip: "How many times it started firing since the first of them, within the history's retention.", num: true, get: (c) => fmt.count(c.count) },
              { title: "First", tip: "When it first started firing within the retention.", get: (c) => stamp(parseTime(c.since)) },
              { title: "Last", tip: "When it last started firing.", get: (c) => stamp(parseTime(c.lastStartsAt)) },
              { title: "Now", get: (c) => (c.firing ? badge("firing") : h("span", { class: "muted", text: "resolved" })) },
            ],
            fired,
          )
        : nodata("No alert has fired within the history's retention."),
    );
  }

  async function mutate(btn, what, path, method, body) {
    btn.disabled = true;
    try {
      const r = await api(path, { method, body });
      notice(what + ": done" + (r && r.silenceID ? " (silence " + r.silenceID + ")" : "") + ".", false);
      refresh();
    } catch (e) {
      const why = e.status === 401 ? "the token was refused: " : e.status === 403 ? "not allowed: " : "";
      notice(what + " failed: " + why + e.message, true);
    } finally {
      btn.disabled = false;
    }
  }

  // What the figures are, for the tooltips: counts over the window are
  // exact (windowDelta), percentiles are estimates (native histograms).
  const EXACT = "an exact count: the in-process counters now minus at the collection that starts the window";
  const ESTIMATE = "an estimate within 4.4 % of the true percentile (native histogram)";

  // kpi is one figure of the summary: its name k, its value v, unit (a
  // short line under the value: what it counts or measures, over which
  // window) and a tooltip.
  function kpi(k, v, unit, title) {
    return h(
      "div",
      { class: "kpi", title: title || null },
      h("div", { class: "k", text: k }),
      h("div", { class: "v", text: v }),
      unit ? h("div", { class: "u", text: unit }) : null,
    );
  }

  // kpis returns the summary's figures from one set of numbers, whether
  // from api/performance or from PromQL: n requests, e errors (5xx), slow
  // requests, the latency percentiles in seconds, and the Apdex when known.
  function kpis(x, W) {
    const w = state.window;
    const some = x.n > 0;
    const d = (v) => (some ? fmt.dur(v) : "—");
    const lat = (k, name, v) => kpi(k, d(v), "±4.4 %, last " + w, name + " latency of the requests of the last " + w + ": " + ESTIMATE + ".");
    const out = [
      kpi("Requests", fmt.count(x.n), "count, last " + w, "Requests answered in the last " + w + ": " + EXACT + "."),
      kpi("Requests/s", isFinite(x.rps) ? num(x.rps) : "—", "req/s, mean over " + w, "Requests of the last " + w + " divided by its " + W + " s: a mean per-second rate."),
      kpi(
        "Errors (5xx)",
        some ? fmt.pct(isFinite(x.errPct) ? x.errPct : (100 * (x.e || 0)) / x.n) : "—",
        "% of requests, last " + w,
        fmt.count(x.e || 0) + " of " + fmt.count(x.n) + " requests answered 5xx in the last " + w + " (exact counts).",
      ),
      lat("p50", "Median", x.p50),
      lat("p95", "95th percentile", x.p95),
      lat("p99", "99th percentile", x.p99),
    ];
    if (x.apdex) {
      const ap = x.apdex;
      out.push(
        kpi(
          "Apdex",
          ap.total > 0 ? num(ap.score) : "—",
          "score 0–1, last " + w,
          "T = " + fmt.dur(ap.thresholdSeconds) + ": requests within T satisfy, within 4T are tolerated; over the last " + w + " (from the native histogram: exact when T and 4T are powers of two, as the default 0.5 s and 2 s are).",
        ),
      );
    }
    if (isFinite(x.slow)) {
      out.push(kpi("Slow requests", fmt.count(x.slow), "count, last " + w, "Requests slower than the middleware's slow-request threshold in the last " + w + ": " + EXACT + "."));
    }
    return out;
  }

  function renderKPIs(perf, fb, W) {
    const el = $("kpis");
    el.setAttribute("aria-label", "Summary of the last " + state.window);
    if (perf) {
      const lat = perf.latency || {};
      // Without requests the summary's ratios and percentiles are 0: show
      // them as absent rather than as perfect.
      fill(
        el,
        kpis(
          {
            n: perf.totalRequests,
            rps: perf.requestsPerSecond,
            e: perf.errors,
            errPct: 100 * (perf.errorRate || 0),
            slow: perf.slowRequests,
            p50: lat.p50Seconds,
            p95: lat.p95Seconds,
            p99: lat.p99Seconds,
            apdex: perf.apdex || {},
          },
          W,
        ),
      );
      return;
    }
    if (!fb) {
      fill(el);
      return;
    }
    // The slow-request counter exists once a request was slow: without it
    // (and with requests), none was.
    const slow = isFinite(fb.slow) ? fb.slow : fb.total > 0 ? 0 : NaN;
    fill(el, kpis({ n: fb.total, rps: fb.total / W, e: fb.errors, slow, p50: fb.p50, p95: fb.p95, p99: fb.p99 }, W));
  }

  function renderRoutes(perf, fb, W, traced) {
    const el = $("routes");
    let rows;
    if (perf && Array.isArray(perf.topRoutes)) {
      rows = perf.topRoutes.map((r) => ({
        route: String(r.method ? r.method + " " + r.route : r.route),
        requests: r.requests,
        rate: r.requests / W,
        errPct: 100 * (r.errorRate || 0),
        mean: r.meanSeconds,
        p95: r.p95Seconds,
        apdex: r.apdexScore,
      }));
    } else if (fb) {
      rows = fb;
    }
    if (!rows) return;
    if (!rows.length) {
      fill(el, nodata("No requests in the window."));
      return;
    }
    const w = state.window;
    const cols = [
      { title: "Route", get: (r) => h("code", { text: r.route }) },
      { title: "Requests (" + w + ")", tip: "Requests of the route in the last " + w + ": " + EXACT + ".", num: true, get: (r) => fmt.count(r.requests) },
      { title: "Req/s", tip: "Requests of the last " + w + " divided by its " + W + " s: a mean per-second rate.", num: true, get: (r) => num(r.rate) },
      { title: "5xx (%)", tip: "Share of the route's requests of the last " + w + " answered 5xx (exact counts).", num: true, get: (r) => fmt.pct(r.errPct) },
      { title: "p95", tip: "95th percentile latency of the route's requests of the last " + w + ": " + ESTIMATE + ".", num: true, get: (r) => fmt.dur(r.p95) },
    ];
    if (rows.some((r) => r.mean !== undefined)) {
      cols.splice(4, 0, { title: "Mean", tip: "Mean latency over the last " + w + ": total time over the number of requests.", num: true, get: (r) => fmt.dur(r.mean) });
    }
    if (rows.some((r) => r.apdex !== undefined)) cols.push({ title: "Apdex", tip: "Apdex score (0–1) over the last " + w + ".", num: true, get: (r) => num(r.apdex) });
    if (traced && rows.some((r) => traced[r.route])) {
      cols.push({
        title: "Slowest traced",
        tip: "The slowest request of the last " + w + " that carries a trace (an exemplar of the duration histogram): its duration and trace ID, linked to the tracing backend when the service sets a trace URL (vitals.WithTraceURL).",
        get: (r) => {
          const x = traced[r.route];
          if (!x) return h("span", { class: "muted", text: "—" });
          const id = h("code", { class: "trace-id", title: "trace " + x.traceId, text: x.traceId });
          const href = traceLink(x.traceId);
          return [fmt.dur(x.seconds) + " ", href ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, id) : id];
        },
      });
    }
    fill(el, table(cols, rows));
  }

  function renderTopErrors(perf, fb) {
    const el = $("top-errors");
    let rows;
    if (perf && Array.isArray(perf.topErrors)) {
      rows = perf.topErrors.map((e) => ({ route: (e.method ? e.method + " " : "") + e.route, status: e.status || e.errorType, type: e.errorType, count: e.count }));
    } else if (fb) {
      rows = fb;
    }
    if (!rows) return;
    if (!rows.length) {
      fill(el, nodata("No 5xx answers in the window."));
      return;
    }
    fill(
      el,
      table(
        [
          { title: "Route", get: (r) => h("code", { text: String(r.route) }) },
          { title: "Status", get: (r) => String(r.status) },
          { title: "Error type", get: (r) => String(r.type || "") },
          { title: "Errors (" + state.window + ")", tip: "5xx answers in the last " + state.window + ": " + EXACT + ".", num: true, get: (r) => fmt.count(r.count) },
        ],
        rows,
      ),
    );
  }

  // ---- the refresh cycle ------------------------------------------------------

  function windowSeconds() {
    return WINDOWS[state.window] || 900;
  }

  async function cycle() {
    const errors = [];
    const W = windowSeconds();
    const step = W / 60;
    const rs = Math.max(60, 4 * step); // the range of the charts' rates
    const r = rs + "s";
    const end = Math.floor(serverNow() / 1000);
    const rg = { start: end - W, end, step };
    const Wd = W + "s";
    const guard = (what, p) =>
      p.catch((e) => {
        errors.push(what + ": " + e.message + (e.status === 401 && !state.token ? " (reads need the admin token)" : ""));
        return undefined;
      });
    const ok404 = (p) =>
      p.catch((e) => {
        if (e.status === 404) return { missing: true };
        throw e;
      });
    const C = HTTP + "_count";
    const N = HTTP; // the native histogram: no suffix
    const win = (sel, by) => windowDelta(sel, by, Wd); // exact counts of the window
    const E5 = 'http_response_status_code=~"5.."';

    // Round one: everything that depends on nothing. Queries of one
    // section go as one PromQL union (see union) to keep the page's own
    // load on the service small: about ten requests per refresh.
    const jobs = {
      health: guard("health", api("api/health")),
      alerts: guard("alerts", ok404(api("api/alerts"))),
      silences: guard("silences", ok404(api("api/silences"))),
      history: guard("alert history", ok404(api("api/alerts/history"))),
      perf:
        state.perf === "missing"
          ? Promise.resolve(undefined)
          : guard(
              "performance",
              api("api/performance?window=" + encodeURIComponent(state.window)).catch((e) => {
                if (e.status === 404) {
                  state.perf = "missing";
                  return undefined;
                }
                throw e;
              }),
            ),
      system: state.systemAt && Date.now() - state.systemAt < 60000 ? Promise.resolve(undefined) : guard("system", ok404(api("api/system"))),
      top: guard("top routes", query("topk(" + TOP_ROUTES + ", " + win(C, "http_route") + " > 0)")),
      traced: guard("exemplars", exemplarsOf(HTTP + "_bucket", rg.start, rg.end)),
      names: state.service && state.nsFixed ? Promise.resolve(undefined) : guard("names", query(namesQuery())),
      traffic: guard(
        "traffic",
        chartRange(
          union({
            rps: "sum(rate(" + C + "[" + r + "]))",
            err: "100 * (sum(rate(" + C + "{" + E5 + "}[" + r + "])) or 0 * sum(rate(" + C + "[" + r + "]))) / sum(rate(" + C + "[" + r + "]))",
            p95: "histogram_quantile(0.95, sum(rate(" + N + "[" + r + "])))",
          }),
          rg,
        ),
      ),
      runtime: guard(
        "runtime",
        chartRange(
          union({
            go: "sum(go_memory_used_bytes)",
            rss: "sum(process_memory_usage_bytes)",
            gor: "sum(go_goroutine_count)",
            // The runtime's own buckets: this histogram has no native form.
            sched: "histogram_quantile(0.99, sum by (le) (rate(go_schedule_duration_seconds_bucket[" + r + "])))",
            cpu: "sum(rate(process_cpu_time_seconds_total[" + r + "]))",
            gc: "100 * sum(rate(go_memory_gc_pause_time_seconds_total[" + r + "]))",
          }),
          rg,
        ),
      ),
    };
    if (state.perf !== "available") {
      // Without the performance summary its numbers come from PromQL.
      const hq = (q) => "histogram_quantile(" + q + ", " + win(N, "") + ")";
      jobs.kpis = guard(
        "summary",
        query(
          union({
            total: win(C, ""),
            errors: win(C + "{" + E5 + "}", ""),
            slow: win("vitals_http_server_slow_requests_total", ""),
            p50: hq(0.5),
            p95: hq(0.95),
            p99: hq(0.99),
          }),
        ),
      );
      jobs.topErrors = guard(
        "top errors",
        query("topk(" + TOP_ROUTES + ", " + win(C + "{" + E5 + "}", "http_route, http_response_status_code, error_type") + " > 0)"),
      );
    }
    const got = await settle(jobs);
    if (got.top) got.top.sort((a, b) => val(b) - val(a) || String((a.metric || {}).http_route).localeCompare(String((b.metric || {}).http_route)));

    if (got.perf && !got.perf.missing) state.perf = "available";
    if (got.names) learnNames(got.names);
    if (got.system && !got.system.missing) {
      state.system = got.system;
      state.systemAt = Date.now();
    }

    // Health and alerts.
    renderHealth(got.health);
    renderSystem(state.system);
    const alertsMissing = !!(got.alerts && got.alerts.missing);
    if (got.alerts !== undefined) state.alerts = alertsMissing ? undefined : got.alerts;
    if (got.silences !== undefined) state.silences = got.silences && got.silences.missing ? undefined : got.silences;
    renderAlerts(state.alerts, alertsMissing);
    renderSilences(state.silences, alertsMissing);
    renderHistory(got.history, alertsMissing);
    if (got.perf && !got.perf.missing) renderSLOs(got.perf.slos);

    // Round two: the top routes and the business metrics, which need the
    // routes and the namespace learnt above.
    const perf = got.perf && !got.perf.missing ? got.perf : undefined;
    const routes = (got.top || []).map((s) => String((s.metric || {}).http_route || "")).filter((x, i, a) => a.indexOf(x) === i);
    const ns = state.ns;
    const jobs2 = {
      biz: guard(
        "business",
        chartRange(
          union({
            placed: "60 * sum(rate(" + ns + "_orders_placed_total[" + r + "]))",
            rejected: "60 * sum(rate(" + ns + "_orders_rejected_total[" + r + "]))",
            revenue: "60 * sum by (currency) (rate(" + ns + "_revenue_total[" + r + "]))",
            regs: "60 * sum(rate(" + ns + "_registrations_total[" + r + "]))",
            cache: "100 * sum(rate(" + ns + '_cache_operations_total{cache_result="hit"}[' + r + "])) / sum(rate(" + ns + '_cache_operations_total{cache_result=~"hit|miss"}[' + r + "]))",
            db: "histogram_quantile(0.95, sum(rate(db_client_operation_duration_seconds[" + r + "])))",
          }),
          rg,
        ),
      ),
      bizN: guard(
        "business",
        query(
          union({
            revenue: win(ns + "_revenue_total", "currency"),
            orders: win(ns + "_orders_placed_total", "currency"),
            hits: win(ns + '_cache_operations_total{cache_result="hit"}', "cache_name"),
            lookups: win(ns + '_cache_operations_total{cache_result=~"hit|miss"}', "cache_name"),
          }),
        ),
      ),
    };
    if (routes.length) {
      // Sorted, so that the charts' query stays the same (and its points
      // cached) while the top routes only change places.
      const sel = "http_route=~" + promString(routes.slice().sort().map(regexEscape).join("|"));
      const CS = C + "{" + sel + "}";
      const all = "sum by (http_route) (rate(" + CS + "[" + r + "]))";
      jobs2.routes = guard(
        "routes",
        chartRange(
          union({
            rps: all,
            err: "100 * (sum by (http_route) (rate(" + C + "{" + sel + "," + E5 + "}[" + r + "])) or 0 * " + all + ") / " + all,
            p95: "histogram_quantile(0.95, sum by (http_route) (rate(" + N + "{" + sel + "}[" + r + "])))",
          }),
          rg,
        ),
      );
      if (!perf) {
        jobs2.routesN = guard(
          "routes",
          query(
            union({
              errors: win(C + "{" + sel + "," + E5 + "}", "http_route"),
              p95: "histogram_quantile(0.95, " + win(N + "{" + sel + "}", "http_route") + ")",
            }),
          ),
        );
      }
    }
    const got2 = await settle(jobs2);

    // Traffic.
    fill($("traffic-window"), "· last " + state.window);
    for (const e of document.querySelectorAll(".win")) e.textContent = "last " + state.window;
    // What a chart's point is: a rate over the last rs seconds, or a
    // percentile of the requests of those seconds.
    const over = " over the " + rs / 60 + " min before each point";
    const perSec = (what) => ({ tip: what + ", per second: a rate" + over + "." });
    const ratio = (what) => ({ tip: what + over + "." });
    const pctl = (what, extra) => Object.assign({ tip: what + over + ": " + ESTIMATE + "." }, extra);
    let kfb;
    if (got.kpis) {
      kfb = {};
      for (const s of got.kpis) kfb[(s.metric || {})[PART]] = val(s);
    }
    renderKPIs(perf, kfb, W);
    const tr = parts(got.traffic);
    const rt = parts(got2.routes);
    const byRoute = (k) => series(rt[k], (m) => String(m.http_route || "")).sort((a, b) => routes.indexOf(a.name) - routes.indexOf(b.name));
    fill(
      $("traffic-charts"),
      chart("Requests/s", series(tr.rps), rg, num, perSec("Requests answered")),
      chart("5xx errors (% of requests)", series(tr.err), rg, fmt.pct, ratio("Share of the requests answered 5xx")),
      chart("Latency p95 (±4.4 %)", series(tr.p95), rg, fmt.dur, pctl("95th percentile latency of the requests")),
    );
    fill(
      $("route-charts"),
      chart("Requests/s by route", byRoute("rps"), rg, num, Object.assign(perSec("Requests of each top route"), { legend: true })),
      chart("5xx errors by route (%)", byRoute("err"), rg, fmt.pct, Object.assign(ratio("Share of each route's requests answered 5xx"), { legend: true })),
      chart("p95 by route (±4.4 %)", byRoute("p95"), rg, fmt.dur, pctl("95th percentile latency of each route's requests", { legend: true })),
    );
    let routeFb;
    if (!perf && got.top) {
      const rn = parts(got2.routesN);
      const errN = byLabel(rn.errors, "http_route");
      const p95N = byLabel(rn.p95, "http_route");
      routeFb = got.top.map((s) => {
        const route = String((s.metric || {}).http_route || "");
        const n = val(s);
        return { route, requests: n, rate: n / W, errPct: n > 0 ? (100 * (errN[route] || 0)) / n : NaN, p95: p95N[route] };
      });
    }
    renderRoutes(perf, routeFb, W, slowestTraced(got.traced));
    let errFb;
    if (got.topErrors) {
      errFb = got.topErrors.map((s) => {
        const m = s.metric || {};
        return { route: String(m.http_route || ""), status: String(m.http_response_status_code || ""), type: String(m.error_type || ""), count: val(s) };
      });
    }
    renderTopErrors(perf, errFb);

    // Business metrics, in the namespace learnt (app by default).
    fill($("biz-ns"), "· " + ns + "_*");
    const bz = parts(got2.biz);
    // app_orders_rejected_total is reported at 0 from the start: it does
    // not tell that the service records business metrics.
    const hasBiz = got2.biz === undefined || ["placed", "revenue", "regs", "cache", "db"].some((k) => bz[k] && bz[k].length);
    $("biz-tables").hidden = !hasBiz;
    if (!hasBiz) {
      fill(
        $("biz-charts"),
        nodata(
          "No business metrics recorded yet: " +
            [ns + "_orders_placed_total", ns + "_revenue_total", ns + "_registrations_total", ns + "_cache_operations_total", "db_client_operation_duration_seconds"].join(", ") +
            " (record them with package bizmetrics).",
        ),
      );
    } else {
      fill(
        $("biz-charts"),
        chart("Orders/min", series((bz.placed || []).concat(bz.rejected || []), (m) => m[PART]), rg, num, {
          legend: true,
          tip: "Orders placed and rejected, per minute: a rate" + over + ".",
        }),
        chart("Revenue/min by currency", series(bz.revenue, (m) => String(m.currency || "")), rg, num, {
          legend: true,
          tip: "Revenue in each currency's units, per minute: a rate" + over + ".",
        }),
        chart("Registrations/min", series(bz.regs), rg, num, { tip: "Registrations per minute: a rate" + over + "." }),
        chart("DB latency p95 (±4.4 %)", series(bz.db), rg, fmt.dur, pctl("95th percentile of the database operations' duration")),
        chart("Cache hit ratio (%)", series(bz.cache), rg, fmt.pct, Object.assign(ratio("Hits over lookups"), { max: 100 })),
      );
      renderBizTables(got2.bizN, ns);
    }

    // Runtime.
    const ru = parts(got.runtime);
    const mem = series(ru.go, () => "Go").concat(series(ru.rss, () => "resident"));
    fill(
      $("runtime-charts"),
      chart("Memory", mem, rg, fmt.bytes, { legend: true, bytes: true }),
      chart("Goroutines", series(ru.gor), rg, num),
      chart("Scheduler latency p99", series(ru.sched), rg, fmt.dur, {
        tip: "99th percentile of the time goroutines waited to run" + over + ", from the Go runtime's own buckets (it has no native histogram): as coarse as they are.",
      }),
      chart("CPU (cores)", series(ru.cpu), rg, num, { tip: "CPU seconds per second (cores busy): a rate" + over + "." }),
      chart("GC pauses (% of time)", series(ru.gc), rg, fmt.pct, ratio("Share of the time the program was stopped for GC")),
    );
    return errors;
  }

  // settle waits for every promise of jobs and returns their values by key.
  async function settle(jobs) {
    const out = {};
    await Promise.all(Object.entries(jobs).map(([k, p]) => p.then((v) => (out[k] = v))));
    return out;
  }

  // union joins PromQL expressions into one query: each result series gets
  // the label PART naming its expression, and parts splits them again.
  const PART = "vitals_dashboard_part";

  function union(exprs) {
    return Object.entries(exprs)
      .map(([k, e]) => "label_replace(" + e + ', "' + PART + '", "' + k + '", "", "")')
      .join(" or ");
  }

  // windowDelta returns the PromQL of the exact change over the window w (a
  // PromQL duration, "900s") of the cumulative series sel, summed by the
  // labels by ("" sums everything into one sample):
  //
  //   (sum by (by) (sel) - (sum by (by) (sel offset w) or sum by (by) (sel) * 0))
  //
  // In-process counters start at zero and never reset, so this is the value
  // at the last collection minus the value at the last collection at or
  // before the window's start: an integer for a count, where increase()
  // extrapolates to the window's edges ("3.2 requests") and misses what a
  // series counted before its first sample. A group with no series at the
  // start counts from zero. sel may be a counter or a native histogram (the
  // difference is then a histogram, for histogram_quantile).
  //
  // The whole is in parentheses: it contains "or", which binds looser than
  // any arithmetic or comparison around it ("100 * x / y", "x > 0"), and
  // union joins its parts with "or" too.
  function windowDelta(sel, by, w) {
    const agg = by ? "sum by (" + by + ")" : "sum";
    const end = agg + " (" + sel + ")";
    return "(" + end + " - (" + agg + " (" + sel + " offset " + w + ") or " + end + " * 0))";
  }

  function parts(result) {
    const out = {};
    for (const s of result || []) {
      const k = (s.metric || {})[PART] || "";
      (out[k] = out[k] || []).push(s);
    }
    return out;
  }

  // namesQuery finds the service's name and the namespace of its business
  // metrics (bizmetrics.WithNamespace; app by default).
  function namesQuery() {
    return union({
      service: "max by (service_name) (target_info)",
      ns: 'count by (__name__) ({__name__=~".+_(orders_placed|registrations|revenue|cache_operations)_total"})',
    });
  }

  function learnNames(result) {
    const p = parts(result);
    const svc = (p.service || []).map((s) => (s.metric || {}).service_name).find((x) => x);
    if (svc && !state.service) {
      state.service = String(svc);
      fill($("service-name"), state.service);
      document.title = "Vitals · " + state.service;
    }
    if (state.nsFixed) return;
    const found = {};
    for (const s of p.ns || []) {
      const m = /^(.+)_(orders_placed|registrations|revenue|cache_operations)_total$/.exec((s.metric || {}).__name__ || "");
      if (m && NAME_RE.test(m[1])) found[m[1]] = (found[m[1]] || 0) + 1;
    }
    const names = Object.keys(found).sort((a, b) => found[b] - found[a] || a.localeCompare(b));
    if (names.length) {
      state.ns = names.includes("app") ? "app" : names[0];
      state.nsFixed = true;
    }
  }

  function renderBizTables(result, ns) {
    if (!result) return;
    const w = state.window;
    const p = parts(result);
    const orders = byLabel(p.orders, "currency");
    const rev = (p.revenue || [])
      .map((s) => ({ cur: String((s.metric || {}).currency || ""), rev: val(s) }))
      .filter((x) => isFinite(x.rev))
      .map((x) => Object.assign(x, { n: orders[x.cur] }))
      .sort((a, b) => b.rev - a.rev || a.cur.localeCompare(b.cur));
    fill(
      $("revenue"),
      rev.length
        ? table(
            [
              { title: "Currency", get: (x) => x.cur },
              { title: "Revenue (" + w + ")", tip: "Revenue of the last " + w + ", exact: the counter now minus at the window's start.", num: true, get: (x) => fmt.money(x.rev) },
              { title: "Orders (" + w + ")", tip: "Orders placed in the last " + w + ": " + EXACT + ".", num: true, get: (x) => fmt.count(x.n) },
              { title: "Per order", tip: "Revenue over orders, last " + w + ".", num: true, get: (x) => (x.n > 0 ? fmt.money(x.rev / x.n) : "—") },
            ],
            rev,
          )
        : nodata("No revenue recorded in the window (" + ns + "_revenue_total)."),
    );
    const hits = byLabel(p.hits, "cache_name");
    const caches = (p.lookups || [])
      .map((s) => {
        const name = String((s.metric || {}).cache_name || "");
        return { name, n: val(s), hits: hits[name] || 0 };
      })
      .filter((x) => x.n > 0)
      .sort((a, b) => b.n - a.n || a.name.localeCompare(b.name));
    fill(
      $("caches"),
      caches.length
        ? table(
            [
              { title: "Cache", get: (x) => x.name },
              { title: "Lookups (" + w + ")", tip: "Cache lookups (hits and misses) in the last " + w + ": " + EXACT + ".", num: true, get: (x) => fmt.count(x.n) },
              { title: "Hits (" + w + ")", tip: "Cache hits in the last " + w + ": " + EXACT + ".", num: true, get: (x) => fmt.count(x.hits) },
              { title: "Hit ratio", tip: "Hits over lookups, last " + w + ".", num: true, get: (x) => fmt.pct((100 * x.hits) / x.n) },
            ],
            caches,
          )
        : nodata("No cache lookups in the window (" + ns + "_cache_operations_total)."),
    );
  }

  function renderSystem(sys) {
    const el = $("system");
    if (!sys) {
      fill(el);
      return;
    }
    const started = parseTime(sys.startedAt);
    const rev = sys.vcs && sys.vcs["vcs.revision"] ? String(sys.vcs["vcs.revision"]).slice(0, 12) + (sys.vcs["vcs.modified"] === "true" ? " (modified)" : "") : "";
    const rows = [
      ["Version", sys.version && sys.version !== "(devel)" ? String(sys.version) : rev || String(sys.version || "")],
      ["Go", String(sys.goVersion || "") + " " + String(sys.goos || "") + "/" + String(sys.goarch || "")],
      ["CPUs", "GOMAXPROCS " + sys.gomaxprocs + " of " + sys.numCPU],
      ["Up", isFinite(started) ? ago(started).replace(/ ago$/, "") + " (since " + new Date(started).toLocaleString() + ")" : ""],
      ["Memory limit", sys.memoryLimitBytes > 0 ? fmt.bytes(sys.memoryLimitBytes) : "none"],
      ["PID", String(sys.pid || "")],
    ].filter((r) => r[1]);
    fill(el, h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])));
  }

  async function refresh() {
    if (state.busy) {
      state.again = true; // one more cycle once this one is done
      return;
    }
    state.busy = true;
    clearTimeout(state.timer);
    try {
      state.errors = await cycle();
      state.updated = Date.now();
    } catch (e) {
      state.errors = ["the page failed to draw: " + (e && e.message ? e.message : String(e))];
    } finally {
      state.busy = false;
      showStatus();
      const again = state.again;
      state.again = false;
      state.timer = setTimeout(refresh, again ? 0 : REFRESH_MS);
    }
  }

  // ---- status line, token, window ---------------------------------------

  function notice(text, error) {
    state.notice = { text, error, until: Date.now() + NOTICE_MS };
    showStatus();
  }

  // showStatus writes notices and errors into the live region #status,
  // changed only when they change so that screen readers announce them
  // once, and the time of the last refresh next to it.
  function showStatus() {
    const el = $("status");
    const parts = [];
    let error = false;
    if (state.notice && state.notice.until > Date.now()) {
      parts.push(state.notice.text);
      error = state.notice.error;
    }
    if (state.errors.length) {
      error = true;
      const shown = state.errors.slice(0, 3);
      parts.push("Errors: " + shown.join("; ") + (state.errors.length > 3 ? " (and " + (state.errors.length - 3) + " more)" : ""));
    }
    const text = parts.join(" · ");
    if (el.textContent !== text) el.textContent = text;
    el.className = error ? "error" : "";
    if (state.updated) $("updated").textContent = "Updated " + clock(state.updated, true) + ", every " + REFRESH_MS / 1000 + " s";
  }

  function loadToken() {
    try {
      state.token = sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (e) {
      state.token = "";
    }
  }

  function setToken(tok) {
    state.token = tok;
    try {
      if (tok) sessionStorage.setItem(TOKEN_KEY, tok);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // Storage disabled: the token lives in this page only.
    }
    showToken();
    renderAlerts(state.alerts, false);
    renderSilences(state.silences, false);
    refresh();
  }

  function showToken() {
    $("token-state").textContent = state.token ? "token set (this tab only)" : "read-only";
  }

  function setWindow(w, push) {
    if (!WINDOWS[w]) return;
    state.window = w;
    for (const b of $("window").querySelectorAll("button[data-window]")) b.setAttribute("aria-pressed", String(b.dataset.window === w));
    if (push) {
      const p = new URLSearchParams(location.hash.slice(1));
      p.set("window", w);
      history.replaceState(null, "", "#" + p.toString());
    }
  }

  function init() {
    const p = new URLSearchParams(location.hash.slice(1));
    setWindow(p.get("window") || state.window, false);
    const ns = p.get("ns");
    if (ns && NAME_RE.test(ns)) {
      state.ns = ns;
      state.nsFixed = true;
    }
    loadToken();
    showToken();
    $("window").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-window]");
      if (!b || b.dataset.window === state.window) return;
      setWindow(b.dataset.window, true);
      refresh();
    });
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("token");
      const tok = input.value.trim();
      input.value = "";
      setToken(tok);
      notice(tok ? "Token set: actions are enabled; the server checks it on each action." : "Token cleared.", false);
    });
    $("token-clear").addEventListener("click", () => {
      $("token").value = "";
      setToken("");
      notice("Token forgotten.", false);
    });
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
