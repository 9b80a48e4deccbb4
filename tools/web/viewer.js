// SPDX-License-Identifier: BSD-3-Clause
// The viewer page: lists a room's streams (room.get, and device.list for the streams of
// devices that push on demand), subscribes to one with the browser's offer
// (stream.subscribe), sets mfwd's answer and plays it. Settings from the address:
// ?broker=ws://host:9001&node=n1&room=lobby[&stream=door/cam-1][&prefix=mfwd][#token=...]
// (settings after # too: a token there stays out of web servers' logs). Stop unsubscribes
// what it subscribed, with its token. window.mfwdView holds what it does and the figures
// getStats() gives, every second.
'use strict';

const P = mfwdParams({node: '', room: 'lobby'});
const $ = id => document.getElementById(id);
const view = window.mfwdView = {state: 'idle', streams: [], stream: null, viewer: null,
                                 error: null, stats: {}};
let client = null, pc = null, timer = null;

function say(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
  if (isError)
    view.error = text;
}

// The first node online, from the retained statuses, when the address names none.
function findNode() {
  return new Promise(resolve => {
    const t = setTimeout(() => resolve(''), 5000);
    client.watch(P.prefix + '/+/status', (topic, st) => {
      if (st.online && st.node) {
        clearTimeout(t);
        resolve(st.node);
      }
    });
  });
}

async function list() {
  P.broker = $('broker').value; P.node = $('node').value; P.room = $('room').value;
  if (!client)
    client = new MfwdClient(P.broker, P.prefix);
  say('connecting to ' + P.broker);
  if (!P.node && !(P.node = $('node').value = await findNode()))
    return say('no node online on ' + P.broker, true);
  const room = await client.request(P.node, 'room.get', {room: P.room});
  if (!room.ok)
    return say('room.get: ' + mfwdErrorText(room.error), true);
  const names = room.result.streams.map(s => ({stream: s.stream,
    audio: (s.media || []).some(m => m.kind === 'audio'), viewers: (s.viewers || []).length}));
  // Streams of this room's devices that nobody pulls yet: subscribing pulls them.
  const dev = await client.request(P.node, 'device.list', {});
  for (const d of (dev.ok ? dev.result.devices : []))
    if (d.online && d.room === P.room)
      for (const s of d.streams)
        if (!names.some(n => n.stream === d.device + '/' + s))
          names.push({stream: d.device + '/' + s, demand: true, viewers: 0});
  view.streams = names;
  const box = $('streams');
  box.textContent = '';
  for (const s of names) {
    const b = document.createElement('button');
    b.textContent = s.stream + (s.demand ? ' (on demand)' : ' (' + s.viewers + ' watching)');
    b.dataset.stream = s.stream;
    b.className = s.demand ? 'demand' : '';
    b.onclick = () => play(s.stream, s.audio);
    box.appendChild(b);
  }
  say(names.length + ' stream(s) in ' + P.room + ' on ' + P.node);
}

// One subscription at a time: a click while an offer is on its way supersedes it (gen).
let gen = 0;

async function play(stream, audio) {
  const my = ++gen;
  await stop();
  if (my !== gen)
    return;
  view.state = 'offering'; view.stream = stream; view.error = null; view.stats = {};
  const peer = pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  peer.addTransceiver('video', {direction: 'recvonly'});
  if (audio)
    peer.addTransceiver('audio', {direction: 'recvonly'});
  peer.ontrack = e => {
    if (e.track.kind === 'video')
      $('video').srcObject = e.streams[0] || new MediaStream([e.track]);
  };
  peer.onconnectionstatechange = () => { view.connection = peer.connectionState; };
  // What to unsubscribe later, as it was when subscribed (the fields may change).
  const sub = {node: P.node, room: P.room, stream: stream, token: P.token};
  try {
    await peer.setLocalDescription(await peer.createOffer());
    const args = {room: sub.room, stream: stream, sdp: peer.localDescription.sdp};
    if (sub.token)
      args.token = sub.token;
    say('subscribing to ' + stream);
    const r = await client.request(sub.node, 'stream.subscribe', args);
    if (r.ok)
      sub.viewer = r.result.viewer;
    if (my !== gen) {   // superseded meanwhile: undo, quietly
      peer.close();
      if (r.ok)
        await unsubscribe(sub, true);
      return;
    }
    if (!r.ok) {
      view.state = 'refused';
      peer.close();
      pc = null;
      return say('stream.subscribe ' + stream + ': ' + mfwdErrorText(r.error), true);
    }
    view.sub = sub;
    view.viewer = sub.viewer;
    await peer.setRemoteDescription({type: 'answer', sdp: r.result.sdp});
  } catch (e) {
    if (my === gen) {
      say('playing ' + stream + ': ' + e, true);
      await stop();
      if (my === gen)
        view.state = 'failed';
    }
    return;
  }
  if (my !== gen)
    return;
  view.state = 'playing';
  $('stop').disabled = false;
  say('playing ' + stream + ' as viewer ' + view.viewer);
  timer = setInterval(stats, 1000);
}

async function unsubscribe(sub, quiet) {
  const args = {room: sub.room, stream: sub.stream, viewer: sub.viewer};
  if (sub.token)
    args.token = sub.token;
  const r = await client.request(sub.node, 'stream.unsubscribe', args);
  if (!r.ok && !quiet)
    say('stream.unsubscribe ' + sub.stream + ': ' + mfwdErrorText(r.error), true);
  return r;
}

async function stats() {
  if (!pc)
    return;
  const s = {connection: pc.connectionState, framesDecoded: 0, framesDropped: 0,
             freezeCount: 0, packetsLost: 0, width: 0, height: 0, fps: 0};
  (await pc.getStats()).forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      s.framesDecoded = r.framesDecoded || 0; s.framesDropped = r.framesDropped || 0;
      s.freezeCount = r.freezeCount || 0; s.packetsLost = r.packetsLost || 0;
      s.width = r.frameWidth || 0; s.height = r.frameHeight || 0;
      s.fps = r.framesPerSecond || 0;
    }
  });
  view.stats = s;
  $('stats').textContent = Object.keys(s).map(k => k + ' ' + s[k]).join('  ');
}

async function stop() {
  clearInterval(timer);
  if (pc) {
    pc.close();
    pc = null;
  }
  $('stop').disabled = true;
  const sub = view.sub;
  view.sub = null;
  view.viewer = null;
  view.state = 'idle';
  if (sub && client)
    await unsubscribe(sub);
}

$('broker').value = P.broker; $('node').value = P.node; $('room').value = P.room;
$('list').onclick = list;
$('stop').onclick = async () => {
  gen++;
  await stop();
  if (!view.error)
    say('stopped');
  list();
};
// Leaving: what is subscribed, or on its way, is given back.
window.addEventListener('pagehide', () => {
  gen++;
  stop();
});
view.ready = list().then(() => {
  const s = view.streams.find(x => x.stream === P.stream);
  return P.stream ? play(P.stream, s ? s.audio : false) : null;
})
  .catch(e => say(String(e), true));
