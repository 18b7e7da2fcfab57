// The dashboard page (no build step, no framework). Each class is one element whose text is its files as
// ◯ (pending) / ◉ (verified) / ✕ (failed), 100 per line: text, never a DOM node per file. Off-screen
// classes are neither laid out (content-visibility) nor re-rendered (IntersectionObserver); updates are
// applied to bitmaps as they arrive and drawn once per animation frame. A finished class is one line.
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>colony transfer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { color-scheme: light dark; --fg: #1b1f24; --muted: #667; --ok: #1a7f37; --bad: #cf222e; --bg: #fff; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8b949e; --bg: #0d1117; } }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: var(--bg); color: var(--fg); }
  header { position: sticky; top: 0; background: var(--bg); border-bottom: 1px solid #8884; padding: 8px 16px; z-index: 1; }
  h1 { font-size: 16px; margin: 0 0 4px; }
  #summary span { margin-right: 18px; white-space: nowrap; }
  #summary b { font-variant-numeric: tabular-nums; }
  main { padding: 8px 16px; }
  .cls { content-visibility: auto; margin: 6px 0; }
  .cls h2 { font: 600 13px ui-monospace, monospace; margin: 0; }
  .cls h2 .n { color: var(--muted); font-weight: 400; }
  .cls pre { font: 10px/12px ui-monospace, "DejaVu Sans Mono", monospace; margin: 2px 0 0; white-space: pre; letter-spacing: 0; }
  .cls.finished h2 { font-weight: 400; }
  .cls.finished.verified h2::before { content: "✓ "; color: var(--ok); }
  .cls.finished.incomplete h2::before, .cls.finished.failed h2::before { content: "✕ "; color: var(--bad); }
  .cls.finished.skipped h2 { color: var(--muted); }
  .bad { color: var(--bad); }
  label { color: var(--muted); }
</style></head>
<body>
<header><h1>colony transfer — <span id="run">…</span> <small id="state"></small></h1>
<div id="summary"></div>
<label><input type="checkbox" id="hide"> hide finished classes</label></header>
<main id="classes"></main>
<script>
"use strict";
const PER_LINE = 100;
const classes = new Map();
const root = document.getElementById('classes');
const dirty = new Set();
const visible = new Set();
let frames = 0;
let scheduled = false;
let last = {};
window.__colony = { classes, frames: () => frames, summary: () => last };

const io = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const id = e.target.dataset.id;
    if (e.isIntersecting) { visible.add(id); dirty.add(id); } else visible.delete(id);
  }
  schedule();
}, { rootMargin: '400px' });

function hexInto(buf, offset, hex) {
  const need = offset + hex.length / 2;
  if (buf.length < need) { const b = new Uint8Array(need); b.set(buf); buf = b; }
  for (let i = 0; i < hex.length; i += 2) buf[offset + i / 2] = parseInt(hex.substr(i, 2), 16);
  return buf;
}
function popcount(buf, n) {
  let c = 0;
  for (let i = 0; i < buf.length; i++) { let v = buf[i]; while (v) { v &= v - 1; c++; } }
  return c;
}
function finished(c) { return !c.live && (c.state === 'verified' || c.state === 'incomplete' || c.state === 'skipped' || c.state === 'failed'); }

function ensure(d) {
  let c = classes.get(d.id);
  if (!c) {
    const el = document.createElement('section');
    el.className = 'cls';
    el.dataset.id = d.id;
    const h = document.createElement('h2');
    const pre = document.createElement('pre');
    el.append(h, pre);
    c = { id: d.id, n: 0, state: '', live: false, done: new Uint8Array(0), fail: new Uint8Array(0), el, h, pre, drawn: -1 };
    classes.set(d.id, c);
    root.append(el);
    io.observe(el);
  }
  return c;
}

function apply(list) {
  for (const d of list) {
    const c = ensure(d);
    if (d.full) { c.done = new Uint8Array(0); c.fail = new Uint8Array(0); }
    c.n = d.n; c.state = d.state; c.live = d.live;
    if (d.h !== undefined) c.done = hexInto(c.done, d.o || 0, d.h);
    if (d.fh !== undefined) c.fail = hexInto(c.fail, d.fo || 0, d.fh);
    if (d.full && finished(c)) { c.verified = null; }
    dirty.add(d.id);
  }
  schedule();
}

function bit(buf, i) { return (buf[i >> 3] >> (7 - (i & 7))) & 1; }

function draw(c) {
  const fin = finished(c);
  c.el.className = 'cls' + (fin ? ' finished ' + c.state : '');
  const verified = fin && c.done.length === 0 && c.state === 'verified' ? c.n : popcount(c.done);
  const failed = popcount(c.fail);
  c.el.dataset.files = String(c.n);
  c.el.dataset.verified = String(verified);
  c.el.dataset.state = c.state;
  c.h.innerHTML = '';
  c.h.append(c.id + ' ');
  const span = document.createElement('span');
  span.className = 'n';
  span.textContent = verified + '/' + c.n + ' files' + (failed ? ' · ' + failed + ' failed' : '') + (c.live ? ' · recording' : '') + (fin ? ' · ' + c.state : '');
  c.h.append(span);
  if (fin) { if (c.pre.textContent) c.pre.textContent = ''; c.el.style.containIntrinsicSize = 'auto 20px'; return; }
  const lines = Math.ceil(c.n / PER_LINE);
  c.el.style.containIntrinsicSize = 'auto ' + (20 + lines * 12) + 'px';
  if (!visible.has(c.id)) { c.drawn = -1; return; }
  const out = [];
  let line = '';
  for (let i = 0; i < c.n; i++) {
    line += bit(c.fail, i) ? '✕' : bit(c.done, i) ? '◉' : '◯';
    if ((i + 1) % PER_LINE === 0) { out.push(line); line = ''; }
  }
  if (line) out.push(line);
  c.pre.textContent = out.join('\\n');
  c.drawn = 1;
}

function schedule() { if (!scheduled) { scheduled = true; requestAnimationFrame(flush); } }
function flush() {
  scheduled = false;
  frames++;
  const hide = document.getElementById('hide').checked;
  for (const id of dirty) {
    const c = classes.get(id);
    if (!c) continue;
    draw(c);
    c.el.hidden = hide && finished(c);
  }
  dirty.clear();
  document.body.dataset.classes = String(classes.size);
}

function fmtBytes(n) { const u = ['B','KB','MB','GB','TB']; let i = 0; while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; } return (i ? n.toFixed(2) : n) + ' ' + u[i]; }
function fmtDur(ms) { if (ms == null) return '?'; const s = Math.round(ms / 1000); if (s < 60) return s + 's'; const m = Math.floor(s / 60); if (m < 60) return m + 'm' + String(s % 60).padStart(2, '0') + 's'; return Math.floor(m / 60) + 'h' + String(m % 60).padStart(2, '0') + 'm'; }

function showSummary(s) {
  last = s;
  document.getElementById('run').textContent = s.run || 'no run';
  document.getElementById('state').textContent = s.state || '';
  const q = s.queues || {};
  const parts = [
    ['files', (s.verified ?? 0) + ' / ' + (s.files ?? 0)], ['classes', (s.finishedClasses ?? 0) + ' / ' + (s.classes ?? 0) + ' finished'],
    ['rate', (s.rate ?? 0) + ' files/s'], ['ETA', fmtDur(s.etaMs)], ['copied', fmtBytes(s.bytes ?? 0)],
    ['failures', String(s.failed ?? 0)], ['retries', String(s.retries ?? 0)],
    ['queue', ((q.copy && q.copy.length) || 0) + ' batches + ' + ((q.retry && q.retry.length) || 0) + ' retries'], ['workers', String(s.workers ?? 0)],
  ];
  const el = document.getElementById('summary');
  el.innerHTML = '';
  for (const [k, v] of parts) {
    const span = document.createElement('span');
    span.dataset.k = k;
    span.append(k + ' ');
    const b = document.createElement('b');
    b.textContent = v;
    if (k === 'failures' && v !== '0') b.className = 'bad';
    span.append(b);
    el.append(span);
  }
}

document.getElementById('hide').addEventListener('change', () => { for (const id of classes.keys()) dirty.add(id); schedule(); });
const es = new EventSource('events');
es.addEventListener('reset', () => { classes.clear(); root.textContent = ''; visible.clear(); dirty.clear(); });
es.addEventListener('classes', (e) => apply(JSON.parse(e.data)));
es.addEventListener('summary', (e) => showSummary(JSON.parse(e.data)));
</script>
</body></html>
`
