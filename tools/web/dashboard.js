// SPDX-License-Identifier: BSD-3-Clause
// The live dashboard: the nodes from their retained statuses (<prefix>/+/status), and one
// node's figures from its stats topic (<prefix>/<node>/stats: mfwd-stat --json's counters,
// the busiest sessions, losses by reason, about every second): per-session rates, RTP loss
// and jitter charted over the last minutes, drops by reason. Settings from the address:
// ?broker=ws://host:9001[&node=n1][&minutes=5][&prefix=mfwd]. window.mfwdDash holds what
// it shows.
'use strict';

const P = mfwdParams({node: '', minutes: '5'});
const MINUTES = Math.min(Math.max(Number(P.minutes) || 5, 1), 60);
const $ = id => document.getElementById(id);
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                '#17becf'];
const dash = window.mfwdDash = {nodes: Object.create(null), node: P.node, messages: 0, last: null,
                                history: []};

function cell(text, attrs) {
  const td = document.createElement('td');
  td.textContent = text;
  for (const k in attrs || {})
    td.dataset[k] = attrs[k];
  return td;
}

function row(tbody, cells) {
  const tr = document.createElement('tr');
  cells.forEach(c => tr.appendChild(c));
  tbody.appendChild(tr);
}

function fixed(v, places) {
  return Number(v || 0).toFixed(places);
}

function showNodes() {
  const tbody = $('nodes').tBodies[0];
  tbody.textContent = '';
  for (const name of Object.keys(dash.nodes).sort()) {
    const s = dash.nodes[name], load = s.load || {}, cap = s.capacity || {};
    row(tbody, [cell(name, {node: name}), cell(s.online ? 'yes' : 'no'),
                cell(s.dataplane && s.dataplane.up ? 'up' : 'down'),
                cell(s.sessions !== undefined ? s.sessions : ''),
                cell(cap.sessions_free !== undefined ? cap.sessions_free : ''),
                cell(fixed(load.rx_pps, 0)), cell(fixed(load.tx_pps, 0)),
                cell(fixed((load.worker_busy_max || 0) * 100, 0) + ' %'),
                cell(s.draining ? 'yes' : 'no'), cell(s.version || '')]);
  }
}

// Rates between two stats messages of one dataplane (a restart starts them again).
function rates(cur, prev) {
  const out = {sessions: {}, drops: {}};
  const dt = prev && prev.generation === cur.generation ?
    (cur.time_ms - prev.time_ms) / 1000 : 0;
  const per = (a, b) => (dt > 0 && b !== undefined && a >= b ? (a - b) / dt : 0);
  for (const id in cur.sessions) {
    const s = cur.sessions[id], p = prev && prev.sessions[id] || {};
    out.sessions[id] = {rx_pps: per(s.rx_pkts, p.rx_pkts), tx_pps: per(s.tx_pkts, p.tx_pkts),
                        rx_kbps: per(s.rx_bytes, p.rx_bytes) * 8 / 1000,
                        loss_ps: per(s.rtp_lost, p.rtp_lost)};
  }
  const pl = prev && prev.losses ? prev.losses.node : {};
  for (const r in cur.losses.node)
    out.drops[r] = per(cur.losses.node[r], pl[r]);
  return out;
}

function showStats(msg) {
  const r = rates(msg, dash.last);
  dash.last = msg;
  dash.rates = r;
  // Kept by this page's clock, not the message's, and at most 4 a second over the span:
  // a node's clock or a forged message cannot make the history grow.
  const now = Date.now();
  dash.history.push({t: msg.time_ms, at: now, rates: r, msg: msg});
  while (dash.history.length && (dash.history[0].at < now - MINUTES * 60000 ||
                                 dash.history.length > MINUTES * 60 * 4))
    dash.history.shift();
  $('node-title').textContent = 'Node ' + dash.node + ' (instance ' + msg.instance + ')';
  const ids = Object.keys(msg.sessions).sort();
  $('sessions-note').textContent = msg.sessions_total > ids.length ?
    '(the ' + ids.length + ' busiest of ' + msg.sessions_total + ')' : '';
  const tbody = $('sessions').tBodies[0];
  tbody.textContent = '';
  for (const id of ids) {
    const s = msg.sessions[id], q = r.sessions[id], a = f => ({session: id, field: f});
    row(tbody, [cell(id, a('id')), cell(fixed(q.rx_pps, 0), a('rx_pps')),
                cell(fixed(q.rx_kbps, 0), a('rx_kbps')), cell(fixed(q.tx_pps, 0), a('tx_pps')),
                cell(s.rx_pkts, a('rx_pkts')), cell(s.tx_pkts, a('tx_pkts')),
                cell(s.rtp_lost || 0, a('rtp_lost')),
                cell(fixed((s.jitter_us || 0) / 1000, 3), a('jitter_ms')),
                cell(s.outputs, a('outputs'))]);
  }
  showDrops(msg, r);
  const top = ids.sort((x, y) => (msg.sessions[y].rx_bytes || 0) -
                                 (msg.sessions[x].rx_bytes || 0)).slice(0, COLORS.length);
  const series = f => top.map(id => ({name: id, points: dash.history.map(
    h => [h.t, f(h, id)])}));
  chart($('chart-kbps'), series((h, id) => (h.rates.sessions[id] || {}).rx_kbps));
  chart($('chart-loss'), series((h, id) => (h.rates.sessions[id] || {}).loss_ps));
  chart($('chart-jitter'), series((h, id) => {
    const s = h.msg.sessions[id];
    return s ? (s.jitter_us || 0) / 1000 : undefined;
  }));
  const reasons = Object.keys(msg.losses.node).filter(
    k => dash.history.some(h => h.rates.drops[k] > 0)).slice(0, COLORS.length);
  chart($('chart-drops'), reasons.map(k => ({name: k, points: dash.history.map(
    h => [h.t, h.rates.drops[k]])})));
}

// Every reason of the node and its ports that ever counted a packet (zeros left out).
function showDrops(msg, r) {
  const tbody = $('drops').tBodies[0];
  tbody.textContent = '';
  const add = (where, reason, n, rate) => row(tbody, [
    cell(where + ' ' + reason), cell(n, {where: where, reason: reason}),
    cell(rate === undefined ? '' : fixed(rate, 1))]);
  for (const k of Object.keys(msg.losses.node).sort())
    if (msg.losses.node[k] > 0)
      add('node', k, msg.losses.node[k], r.drops[k]);
  for (const p of Object.keys(msg.losses.ports).sort())
    for (const k of Object.keys(msg.losses.ports[p]).sort())
      if (msg.losses.ports[p][k] > 0)
        add('port/' + p, k, msg.losses.ports[p][k]);
  if (!tbody.rows.length)
    row(tbody, [cell('none'), cell(''), cell('')]);
}

// Lines over time on a canvas: @series [{name, points: [[t_ms, value], ...]}].
function chart(canvas, series) {
  const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height;
  const L = 48, B = 18, T = 6, R = 6;
  g.clearRect(0, 0, w, h);
  g.font = '10px sans-serif';
  let t0 = Infinity, t1 = -Infinity, max = 0;
  for (const s of series)
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v))
        continue;
      t0 = Math.min(t0, t); t1 = Math.max(t1, t); max = Math.max(max, v);
    }
  max = max > 0 ? max * 1.1 : 1;
  g.strokeStyle = '#999';
  g.strokeRect(L, T, w - L - R, h - T - B);
  g.fillStyle = '#333';
  g.fillText(max >= 100 ? max.toFixed(0) : max.toPrecision(2), 2, T + 8);
  g.fillText('0', 2, h - B);
  if (t1 > t0)
    g.fillText('-' + Math.round((t1 - t0) / 1000) + ' s', L, h - 4);
  const x = t => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (w - L - R);
  const y = v => h - B - v / max * (h - T - B);
  let drawn = 0, above = 0;
  series.forEach((s, i) => {
    g.strokeStyle = g.fillStyle = COLORS[i % COLORS.length];
    g.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      pen ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v));
      pen = true;
      drawn++;
      above += v > 0;
    }
    g.stroke();
    g.fillText(s.name, L + 4 + (i % 2) * (w - L) / 2, T + 12 + Math.floor(i / 2) * 11);
  });
  // For a reader (and the test): what the chart shows.
  canvas.dataset.series = series.map(s => s.name).join(' ');
  canvas.dataset.points = drawn;
  canvas.dataset.above = above;
}

const client = new MfwdClient(P.broker, P.prefix);
client.watch(P.prefix + '/+/status', (topic, st) => {
  const name = topic.split('/').slice(-2)[0];
  dash.nodes[name] = st;
  if (!dash.node && st.online) {
    dash.node = name;
    client.watch(P.prefix + '/' + name + '/stats', statsMessage);
  }
  showNodes();
});
if (dash.node)
  client.watch(P.prefix + '/' + dash.node + '/stats', statsMessage);

function statsMessage(topic, msg) {
  const isObj = o => o !== null && typeof o === 'object';
  if (!isObj(msg.sessions) || !isObj(msg.losses) || !isObj(msg.losses.node) ||
      !isObj(msg.losses.ports) || !Number.isFinite(msg.time_ms))
    return;   // not a stats message of this version
  dash.messages++;
  showStats(msg);
  $('status').textContent = 'connected to ' + P.broker + '; ' + dash.messages +
    ' stats messages from ' + dash.node;
}
client.ready.then(() => { $('status').textContent = 'connected to ' + P.broker; });
