// SPDX-License-Identifier: BSD-3-Clause
// mfwd over MQTT from a page: one connection to the broker's WebSockets listener, MQTT 5
// request/response to a node's command topic, retained statuses and other topics watched.
// Needs the npm mqtt package's browser bundle (mqtt.min.js, a global `mqtt`) loaded first.
'use strict';

// The page's settings from its address: ?broker=ws://host:9001&node=n1&prefix=mfwd...,
// and after a # (kept out of web servers' logs: for a token).
function mfwdParams(defaults) {
  const p = Object.assign({}, defaults);
  new URLSearchParams(location.search).forEach((v, k) => { p[k] = v; });
  new URLSearchParams(location.hash.slice(1)).forEach((v, k) => { p[k] = v; });
  if (!p.broker)
    p.broker = (location.protocol === 'https:' ? 'wss://' : 'ws://') +
               (location.hostname || '127.0.0.1') + ':9001';
  if (!p.prefix)
    p.prefix = 'mfwd';
  return p;
}

// Text for a person: a reply's error as code (path): message.
function mfwdErrorText(err) {
  if (!err)
    return 'no reply';
  if (typeof err === 'string')
    return err;
  return err.code + (err.path ? ' (' + err.path + ')' : '') +
         (err.message ? ': ' + err.message : '');
}

class MfwdClient {
  constructor(url, prefix) {
    this.prefix = prefix;
    this.id = 'web-' + Math.random().toString(16).slice(2, 10);
    this.replyTopic = prefix + '-web/' + this.id + '/reply';
    this.pending = new Map();
    this.watchers = [];
    this.seq = 0;
    this.mqtt = mqtt.connect(url, {protocolVersion: 5, clientId: this.id, clean: true,
                                   reconnectPeriod: 2000, connectTimeout: 10000});
    this.lastError = null;
    // Settles once connected and subscribed to the replies; a broker out of reach leaves it
    // pending (mqtt.js keeps trying) and requests time out meanwhile.
    this.ready = new Promise(resolve => {
      this.mqtt.on('connect', () => this.mqtt.subscribe(this.replyTopic, {qos: 1}, e => {
        if (!e)
          resolve();
      }));
    });
    this.mqtt.on('error', e => { this.lastError = String(e); });
    this.mqtt.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  onMessage(topic, payload) {
    let msg;
    try {
      msg = JSON.parse(new TextDecoder().decode(payload));
    } catch (e) {
      return;   // not ours to read
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg))
      return;
    if (topic === this.replyTopic) {
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        p.resolve(msg);
      }
      return;
    }
    for (const w of this.watchers)
      if (mfwdTopicMatch(w.filter, topic))
        w.fn(topic, msg);
  }

  // A command to @node; resolves with the whole reply ({ok, result} or {ok: false, error}).
  async request(node, cmd, args, timeoutMs) {
    const wait = timeoutMs || 10000;
    const up = await Promise.race([this.ready.then(() => true),
                                   new Promise(r => setTimeout(() => r(false), wait))]);
    if (!up)
      return {ok: false, error: {code: 'unreachable', message: 'no connection to the ' +
                                 'broker' + (this.lastError ? ': ' + this.lastError : '')}};
    const id = this.id + '-' + (++this.seq);
    const body = JSON.stringify({id: id, cmd: cmd, args: args || {}});
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ok: false, error: {code: 'timeout', message: 'no reply from ' + node}});
      }, wait);
      this.pending.set(id, {resolve: resolve, timer: timer});
      this.mqtt.publish(this.prefix + '/' + node + '/cmd', body, {qos: 1, properties: {
        responseTopic: this.replyTopic, correlationData: new TextEncoder().encode(id)}});
    });
  }

  // Messages on @filter (MQTT wildcards), retained ones first: fn(topic, parsed JSON).
  async watch(filter, fn) {
    await this.ready;
    this.watchers.push({filter: filter, fn: fn});
    this.mqtt.subscribe(filter, {qos: 0});
  }

  close() {
    this.mqtt.end(true);
  }
}

function mfwdTopicMatch(filter, topic) {
  const f = filter.split('/'), t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#')
      return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i]))
      return false;
  }
  return f.length === t.length;
}
