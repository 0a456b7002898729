// The postern console: a client of the gateway's JSON API (/api/v1/…) on this origin.
// Plain DOM, no library. Every value from the gateway goes in as text (textContent),
// never as markup: envelopes and replies come from the outside world.
'use strict';

const TOKEN_KEY = 'postern-admin-token';
const REFRESH_MS = { queues: 5000, status: 10000, routing: 10000 };
const KINDS = ['received', 'routed', 'queued', 'sent', 'deferred', 'rerouted', 'delivered',
  'failed', 'expired', 'dsn-generated', 'dsn-absorbed', 'archived', 'postmaster-copy',
  'deleted', 'dropped', 'connection-rejected', 'command-rejected'];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  page: '',
  timer: 0,
  selected: new Set(),
  asking: null,
  gwart: null,
};

// ---- small helpers ----------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** An element with attributes (`class`, `data-*`, properties for the rest) and children. */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-') || k === 'title' || k === 'href' || k === 'type') e.setAttribute(k, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(h('tr', { class: 'empty' }, h('td', { colSpan: cols }, empty)));
}

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ${m % 60} min`;
  return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}

function clock(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function badge(text, cls) {
  return h('span', { class: `badge ${cls || text}` }, text);
}

function notice(text, bad) {
  const n = $('#notice');
  n.textContent = text;
  n.className = bad ? 'bad' : 'good';
  n.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { n.hidden = true; }, 8000);
}

// ---- the API and its token ----------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

/** Asks the administrator for the token (one dialog however many callers wait). */
function askToken() {
  if (state.asking) return state.asking;
  const dialog = $('#token-dialog');
  state.asking = new Promise((resolve, reject) => {
    const done = (token) => {
      dialog.close();
      $('#token-form').onsubmit = null;
      $('#token-cancel').onclick = null;
      state.asking = null;
      if (token) resolve(token); else reject(new ApiError('no token given', 401));
    };
    $('#token-form').onsubmit = (ev) => {
      ev.preventDefault();
      const t = $('#token-input').value.trim();
      if (!t) return;
      setToken(t);
      done(t);
    };
    $('#token-cancel').onclick = () => done('');
    $('#token-input').value = '';
    dialog.showModal();
    $('#token-input').focus();
  });
  return state.asking;
}

function setToken(t) {
  state.token = t;
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  $('#token-button').textContent = t ? 'Forget token' : 'Enter token';
}

/**
 * One API call. Writes ask for the token first when there is none; a 401 (a wrong
 * token, or a listener that wants it for reads too) asks again and retries once.
 */
async function api(method, path, body) {
  const write = method !== 'GET';
  if (write && !state.token) await askToken();
  for (let attempt = 0; ; attempt++) {
    const headers = {};
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    let data;
    try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
    if (r.status === 401 && attempt === 0) {
      setToken('');
      await askToken();
      continue;
    }
    if (!r.ok) throw new ApiError(data.error || `HTTP ${r.status}`, r.status);
    return data;
  }
}

const get = (path) => api('GET', path);
const post = (path, body) => api('POST', path, body === undefined ? {} : body);

// ---- pages ---------------------------------------------------------------------------

const pages = { queues: showQueues, tracking: showTracking, routing: showRouting, status: showStatus };

function route() {
  // Split before decoding: a search's query string stays encoded for URLSearchParams.
  const hash = location.hash.replace(/^#/, '') || 'queues';
  const [page, ...rest] = hash.split('/');
  const name = pages[page] ? page : 'queues';
  if (name !== state.page) state.selected.clear();
  state.page = name;
  for (const s of $$('.page')) s.hidden = s.id !== `page-${name}`;
  for (const a of $$('nav a')) a.classList.toggle('active', a.dataset.page === name);
  clearTimeout(state.timer);
  refresh(rest.join('/'));
}

/** Shows the current page, then again every REFRESH_MS while it stays shown. */
async function refresh(arg) {
  const page = state.page;
  try {
    await pages[page](arg);
  } catch (e) {
    notice(e.message, true);
  }
  if (REFRESH_MS[page] && state.page === page) {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => refresh(arg), REFRESH_MS[page]);
  }
}

// ---- Queues --------------------------------------------------------------------------

async function showQueues() {
  const st = await get('/api/v1/status');
  header(st);
  const q = st.queue;
  $('#q-summary').replaceChildren(
    `${q.messages} message(s) queued, ${q.held_messages} held; ${q.pending} recipient(s) pending, `
    + `${q.deferred} deferred; oldest ${age(q.oldest_secs * 1000)}.`,
    q.all_held ? h('strong', {}, ' The whole queue is held.') : '',
  );
  destinations(q);
  await messages(st.time_ms);
}

function destinations(q) {
  const held = new Set(q.held_destinations.map((d) => d.toLowerCase()));
  const backoff = new Map(q.backoff.map((b) => [b.destination.toLowerCase(), b]));
  const rows = q.destinations.map((d) => ({ ...d }));
  for (const d of held) {
    if (!rows.some((r) => r.destination.toLowerCase() === d)) {
      rows.push({ destination: d, messages: 0, recipients: 0, deferred: 0, oldest_secs: 0 });
    }
  }
  fill($('#q-destinations tbody'), rows.map((d) => {
    const key = d.destination.toLowerCase();
    const b = backoff.get(key);
    const states = [];
    if (q.all_held || held.has(key)) states.push(badge('held'));
    if (b) states.push(badge(`backed off, ${b.failures} failure(s)`, 'deferred'));
    if (!states.length) states.push(badge('active', 'up'));
    const act = (a, label, cls) => h('button', {
      type: 'button', 'data-act': a, class: cls,
      onclick: () => destinationAction(a, d.destination),
    }, label);
    return h('tr', { 'data-destination': d.destination },
      h('td', {}, h('a', { href: '#queues', onclick: (ev) => { ev.preventDefault(); showDestination(d.destination); } }, d.destination)),
      h('td', { class: 'num' }, d.messages), h('td', { class: 'num' }, d.recipients),
      h('td', { class: 'num' }, d.deferred), h('td', {}, d.messages ? age(d.oldest_secs * 1000) : ''),
      h('td', {}, states),
      h('td', { class: 'actions' }, act('hold', 'Hold'), act('release', 'Release'),
        act('retry', 'Retry now'), act('delete', 'Delete', 'danger')));
  }), 'The queue is empty.', 7);
}

function showDestination(d) {
  $('#q-destination').value = d;
  messages(Date.now()).catch((e) => notice(e.message, true));
}

async function messages(now) {
  const params = new URLSearchParams({ limit: '200' });
  const d = $('#q-destination').value.trim();
  const s = $('#q-state').value;
  if (d) params.set('destination', d);
  if (s) params.set('state', s);
  const page = await get(`/api/v1/queue?${params}`);
  $('#q-scope').textContent = [d && `for ${d}`, s && `(${s})`].filter(Boolean).join(' ');
  const ids = new Set(page.messages.map((m) => m.id));
  for (const id of state.selected) if (!ids.has(id)) state.selected.delete(id);
  fill($('#q-messages tbody'), page.messages.map((m) => {
    const box = h('input', {
      type: 'checkbox', class: 'sel', checked: state.selected.has(m.id),
      onchange: (ev) => { if (ev.target.checked) state.selected.add(m.id); else state.selected.delete(m.id); selection(); },
    });
    const rcpts = m.recipients.map((r) => h('div', { class: 'rcpt', title: r.last_reply || '' },
      r.address, ' ', badge(r.state),
      r.waits_for ? h('span', { class: 'muted' }, ` waits for ${r.waits_for}`) : '',
      r.next_attempt_ms ? h('span', { class: 'muted' }, ` next ${clock(r.next_attempt_ms)}`) : '',
      r.last_reply ? h('div', { class: 'reply' }, r.last_reply) : ''));
    return h('tr', { 'data-id': m.id, class: state.selected.has(m.id) ? 'selected' : '' },
      h('td', {}, box),
      h('td', { class: 'mono' }, h('a', { href: `#tracking/search/queue_id=${encodeURIComponent(m.id)}` }, m.id)),
      h('td', {}, m.sender || '<>'), h('td', {}, rcpts),
      h('td', { class: 'num' }, bytes(m.size)), h('td', {}, age(now - m.arrival_ms)),
      h('td', { class: 'state' }, badge(m.state)));
  }), 'No messages match.', 7);
  $('#q-more').textContent = page.total > page.messages.length
    ? `Showing ${page.messages.length} of ${page.total}.` : '';
  selection();
}

function selection() {
  const n = state.selected.size;
  $('#q-selected').textContent = `${n} selected`;
  for (const b of $$('#page-queues [data-act]')) if (b.id) b.disabled = n === 0;
  const boxes = $$('#q-messages input.sel');
  $('#q-all').checked = boxes.length > 0 && boxes.every((b) => b.checked);
  for (const tr of $$('#q-messages tbody tr[data-id]')) tr.classList.toggle('selected', state.selected.has(tr.dataset.id));
}

/** Applies `action` to each of `bodies`; false when the administrator called it off. */
async function act(action, bodies, what) {
  if (action === 'delete' && !confirm(`Delete ${what}? The senders get no notice.`)) return false;
  try {
    const said = [];
    for (const b of bodies) said.push((await post(`/api/v1/queue/actions/${action}`, b)).message);
    notice(said.join('; '));
  } catch (e) {
    notice(`${action}: ${e.message}`, true);
  }
  await refresh();
  return true;
}

function selectionAction(action) {
  const ids = Array.from(state.selected);
  // Done with them: a second action needs a fresh choice, so none repeats by mistake.
  act(action, ids.map((id) => ({ id })), `${ids.length} message(s)`).then((done) => {
    if (done) { state.selected.clear(); selection(); }
  });
}

const destinationAction = (action, d) => act(action, [{ destination: d }], `every message for ${d}`);

// ---- Message tracking ---------------------------------------------------------------

async function showTracking(arg) {
  const [mode, ...rest] = (arg || '').split('/');
  const value = rest.join('/');
  $('#t-trace').replaceChildren();
  if (mode === 'search' && value) {
    const q = new URLSearchParams(value);
    for (const i of $$('#t-form [name]')) i.value = q.get(i.name) || '';
    await search(q);
  } else if (mode === 'trace' && value) {
    $('#t-results').replaceChildren();
    await trace(decodeURIComponent(value));
  } else {
    $('#t-results').replaceChildren(h('p', { class: 'muted' },
      'Search by message-id, queue id, sender, recipient or event; then follow a message hop by hop.'));
  }
}

async function search(q) {
  const found = await get(`/api/v1/track/search?${q}`);
  const rows = found.events.map((e) => h('tr', { class: `kind-${e.kind}` },
    h('td', {}, clock(e.time_ms)), h('td', {}, badge(e.kind)),
    h('td', { class: 'mono' }, e.queue_id ? h('a', { href: searchHash({ queue_id: e.queue_id }) }, e.queue_id) : ''),
    h('td', {}, e.message_id ? h('a', { class: 'trace-link', href: traceHash(e.message_id) }, e.message_id) : ''),
    h('td', {}, e.sender || ''), h('td', {}, e.recipients.join(', ')),
    h('td', {}, [e.connector, e.remote_host].filter(Boolean).join(' → ')),
    h('td', { class: 'reply' }, e.reply || e.reason || '')));
  const table = h('table', { class: 'grid', id: 't-events' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Queue id', 'Message-ID', 'Sender', 'Recipients', 'Connector / host', 'Reply'].map((c) => h('th', {}, c)))),
    h('tbody'));
  fill($('tbody', table), rows, 'Nothing found.', 8);
  $('#t-results').replaceChildren(h('h2', {}, `${found.events.length} event(s)`), table,
    found.truncated ? h('p', { class: 'muted' }, 'Cut short by the read limit: narrow the search.') : '');
}

const searchHash = (q) => `#tracking/search/${new URLSearchParams(q)}`;
const traceHash = (id) => `#tracking/trace/${encodeURIComponent(id)}`;

async function trace(id) {
  const t = await get(`/api/v1/track/trace?message_id=${encodeURIComponent(id)}`);
  const own = t.message_ids[0] || id;
  const related = t.message_ids.slice(1);
  // A hop is one queue id: the message's stay in one gateway (or a notice about it).
  const hops = new Map();
  for (const e of t.events) {
    const k = e.queue_id || '(no queue id)';
    if (!hops.has(k)) hops.set(k, []);
    hops.get(k).push(e);
  }
  const hopIndex = new Map(Array.from(hops.keys()).map((k, i) => [k, i + 1]));
  const parts = Array.from(hops, ([qid, events]) => h('div', { class: 'hop', id: `hop-${qid}`, 'data-queue-id': qid },
    h('h3', {}, `Hop ${hopIndex.get(qid)} · queue id `, h('span', { class: 'mono' }, qid),
      ' · ', events[0].message_id ? h('a', { class: 'trace-link', href: traceHash(events[0].message_id) }, events[0].message_id) : ''),
    h('ol', { class: 'timeline' }, events.map((e) => h('li', { class: `event kind-${e.kind}` },
      h('span', { class: 'dot' }),
      h('div', { class: 'when' }, clock(e.time_ms)),
      h('div', { class: 'what' }, badge(e.kind), ' ',
        e.recipients.length ? e.recipients.join(', ') : (e.sender ? `from ${e.sender}` : ''),
        e.connector || e.remote_host ? h('span', { class: 'muted' }, ` via ${[e.connector, e.remote_host].filter(Boolean).join(' → ')}`) : ''),
      e.reply || e.reason ? h('div', { class: 'reply' }, e.reply || e.reason) : '',
      e.related_queue_id ? h('div', { class: 'related' }, 'about queue id ',
        hops.has(e.related_queue_id)
          ? h('a', { href: `#hop-${e.related_queue_id}`, onclick: (ev) => { ev.preventDefault(); $(`[data-queue-id="${CSS.escape(e.related_queue_id)}"]`).scrollIntoView(); } }, e.related_queue_id)
          : h('a', { href: searchHash({ queue_id: e.related_queue_id }) }, e.related_queue_id)) : '')))));
  $('#t-trace').replaceChildren(
    h('h2', {}, 'Trace of ', h('span', { class: 'mono' }, own)),
    h('p', { class: 'muted' }, `${t.events.length} event(s) across ${hops.size} hop(s): queue ids ${t.queue_ids.join(', ') || 'none'}.`),
    related.length ? h('div', { class: 'related-list' }, 'Related messages (notices about it, or the message it answers): ',
      related.map((m) => h('a', { class: 'trace-link related-link', href: traceHash(m) }, m))) : '',
    t.events.length ? h('div', { class: 'hops' }, parts) : h('p', {}, 'No events for this message-id.'),
    t.truncated ? h('p', { class: 'muted' }, 'Cut short by the read limit.') : '');
}

// ---- Routing ---------------------------------------------------------------------------

async function showRouting() {
  const t = await get('/api/v1/routing');
  state.gwart = t;
  fill($('#r-connectors tbody'), t.connectors.map((c) => h('tr', { 'data-connector': c.name },
    h('td', {}, c.name), h('td', {}, c.kind), h('td', {}, badge(c.up ? 'up' : 'down')))), 'No connectors.', 3);
  drawTable();
}

function drawTable(matches) {
  const t = state.gwart;
  if (!t) return;
  const key = (c, p) => `${c}\u0000${p}`;
  const hit = new Map((matches || []).map((m, i) => [key(m.connector, m.pattern), i + 1]));
  fill($('#r-table tbody'), t.entries.map((e) => h('tr', {
    class: hit.has(key(e.connector, e.pattern)) ? 'match' : '', 'data-connector': e.connector,
  },
  h('td', {}, e.address_type), h('td', { class: 'mono' }, e.pattern), h('td', { class: 'num' }, e.cost),
  h('td', {}, e.scope), h('td', {}, e.connector), h('td', {}, badge(e.up ? 'up' : 'down')))),
  'No address spaces: nothing is routed.', 6);
}

async function routeTest(ev) {
  ev.preventDefault();
  const a = $('#r-address').value.trim();
  if (!a) return;
  try {
    const r = await get(`/api/v1/route?address=${encodeURIComponent(a)}`);
    if (r.unroutable) {
      $('#r-result').replaceChildren(h('p', { class: 'result bad' }, `${r.address}: not routable: ${r.unroutable}`));
    } else {
      const first = r.candidates.find((c) => c.up) || r.candidates[0];
      $('#r-result').replaceChildren(
        h('p', { class: 'result good' }, `${r.address} goes to `, h('strong', {}, first.connector),
          ` (address space ${first.pattern}, cost ${first.cost}${first.up ? '' : ', connector down'}).`),
        h('table', { class: 'grid', id: 'r-candidates' },
          h('thead', {}, h('tr', {}, ['#', 'Connector', 'Type', 'Address space', 'Cost', 'State'].map((c) => h('th', {}, c)))),
          h('tbody', {}, r.candidates.map((c, i) => h('tr', {},
            h('td', {}, i + 1), h('td', {}, c.connector), h('td', {}, c.address_type),
            h('td', { class: 'mono' }, c.pattern), h('td', { class: 'num' }, c.cost),
            h('td', {}, badge(c.up ? 'up' : 'down')))))));
    }
    drawTable(r.candidates);
  } catch (e) {
    $('#r-result').replaceChildren(h('p', { class: 'result bad' }, e.message));
  }
}

// ---- Status ----------------------------------------------------------------------------

async function showStatus() {
  const [st, hist] = await Promise.all([get('/api/v1/status'), get('/api/v1/status/history')]);
  header(st);
  const c = st.counters;
  const card = (label, value, id) => h('div', { class: 'card', 'data-fact': id }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
  $('#s-facts').replaceChildren(
    card('gateway', st.running ? 'running' : 'stopping', 'running'),
    card('sessions open', c.sessions_open, 'sessions_open'),
    card('sessions since start', c.sessions_total, 'sessions_total'),
    card('messages accepted', c.messages_accepted_total, 'accepted'),
    card('recipients delivered', c.recipients_delivered_total, 'delivered'),
    card('deferrals', c.recipients_deferred_total, 'deferred'),
    card('failures', c.recipients_failed_total, 'failed'),
    card('notices sent', c.notices_total, 'notices'),
    card('queued messages', st.queue.messages, 'queued'),
    card('spool', `${bytes(st.spool.live_bytes)} of ${bytes(st.spool.bytes)}`, 'spool'));
  if (document.activeElement !== $('#s-mode')) $('#s-mode').value = st.transfer_mode;
  $('#s-connectors').replaceChildren(...st.connectors.map((k) => h('span', { class: `chip ${k.up ? 'up' : 'down'}` }, `${k.name} (${k.kind}) ${k.up ? 'up' : 'down'}`)));
  const recent = (sel, list) => fill($(`${sel} tbody`), list.slice().reverse().map((r) => h('tr', {},
    h('td', {}, clock(r.time_ms)), h('td', {}, r.recipient), h('td', { class: 'reply' }, r.reply))), 'None yet.', 3);
  recent('#s-delivered', st.recent_delivered);
  recent('#s-failed', st.recent_failed);
  charts(hist);
}

function charts(hist) {
  const all = hist.samples.concat([hist.current]);
  const t1 = hist.current.time_ms;
  // The last hour; while the gateway has run less, at least its last ten minutes.
  const first = hist.samples.length ? hist.samples[0].time_ms : t1;
  const t0 = Math.max(t1 - hist.interval_ms * hist.capacity, Math.min(first, t1 - 600000));
  const pts = (list, f) => list.map((s) => [s.time_ms, f(s)]);
  chart($('#chart-depth'), t0, t1, [
    { name: 'messages', cls: 's1', points: pts(all, (s) => s.queue_messages) },
    { name: 'deferred recipients', cls: 's3', points: pts(all, (s) => s.recipients_deferred) },
    { name: 'held', cls: 's4', points: pts(all, (s) => s.queue_held) },
  ]);
  // Rates from the ring only: a difference over a few seconds would be noise.
  const rate = (f) => {
    const out = [];
    const s = hist.samples;
    for (let i = 1; i < s.length; i++) {
      const dt = s[i].time_ms - s[i - 1].time_ms;
      if (dt > 0) out.push([s[i].time_ms, Math.max(0, f(s[i]) - f(s[i - 1])) * 60000 / dt]);
    }
    return out;
  };
  chart($('#chart-rate'), t0, t1, [{ name: 'accepted', cls: 's1', points: rate((s) => s.accepted_total) }]);
  chart($('#chart-outcomes'), t0, t1, [
    { name: 'delivered', cls: 's2', points: rate((s) => s.delivered_total) },
    { name: 'deferred', cls: 's3', points: rate((s) => s.deferred_total) },
    { name: 'failed', cls: 's5', points: rate((s) => s.failed_total) },
  ]);
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** A ceiling for the y axis that splits into four round steps: at least 4. */
function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A line chart of `series` over [t0, t1] in inline SVG, with a legend. */
function chart(box, t0, t1, series) {
  const W = Math.max(320, box.clientWidth || 480);
  const H = 170;
  const L = 44; const R = 10; const T = 10; const B = 24;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'plot', role: 'img' });
  for (let i = 0; i <= 4; i++) {
    const v = max * i / 4;
    g.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: L - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  const span = Math.round((t1 - t0) / 60000);
  const step = span > 20 ? 10 : 2;
  for (let m = span - (span % step); m >= 0; m -= step) {
    const t = t1 - m * 60000;
    g.append(svg('text', { x: x(t), y: H - 6, class: 'tick', 'text-anchor': 'middle' }, m ? `−${m} min` : 'now'));
  }
  for (const s of series) {
    const p = s.points.filter((q) => q[0] >= t0);
    if (p.length > 1) {
      g.append(svg('polyline', { points: p.map((q) => `${x(q[0]).toFixed(1)},${y(q[1]).toFixed(1)}`).join(' '), class: `line ${s.cls}` }));
    }
    for (const q of p.slice(-1)) g.append(svg('circle', { cx: x(q[0]), cy: y(q[1]), r: 3, class: `pt ${s.cls}` }));
  }
  const legend = h('div', { class: 'legend' }, series.map((s) => {
    const last = s.points.length ? s.points[s.points.length - 1][1] : 0;
    return h('span', { class: `key ${s.cls}`, 'data-series': s.name }, `${s.name}: ${Math.round(last * 10) / 10}`);
  }));
  box.replaceChildren(g, legend);
}

// ---- header and wiring --------------------------------------------------------------

function header(st) {
  $('#hostname').textContent = st.hostname;
  document.title = `postern ${st.hostname}`;
  $('#mode-badge').textContent = `transfer mode: ${st.transfer_mode}`;
}

async function setMode() {
  try {
    const r = await api('PUT', '/api/v1/transfer-mode', { mode: $('#s-mode').value });
    notice(`Transfer mode is now ${r.mode}.`);
  } catch (e) {
    notice(`transfer mode: ${e.message}`, true);
  }
  refresh();
}

function wire() {
  setToken(state.token);
  $('#token-button').addEventListener('click', () => {
    if (state.token) { setToken(''); notice('Token forgotten.'); } else askToken().then(() => notice('Token set.'), () => {});
  });
  for (const b of $$('#page-queues button[id][data-act]')) b.addEventListener('click', () => selectionAction(b.dataset.act));
  for (const b of $$('[data-all]')) b.addEventListener('click', () => act(b.dataset.all, [{ all: true }], 'every queued message'));
  $('#q-all').addEventListener('change', (ev) => {
    for (const box of $$('#q-messages input.sel')) {
      box.checked = ev.target.checked;
      const id = box.closest('tr').dataset.id;
      if (box.checked) state.selected.add(id); else state.selected.delete(id);
    }
    selection();
  });
  $('#q-state').addEventListener('change', () => refresh());
  $('#q-destination').addEventListener('change', () => refresh());
  const kinds = $('#t-kind');
  for (const k of KINDS) kinds.append(h('option', { value: k }, k));
  $('#t-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = {};
    for (const i of $$('#t-form [name]')) if (i.value.trim()) q[i.name] = i.value.trim();
    if (!Object.keys(q).length) { notice('Fill in at least one field.', true); return; }
    location.hash = searchHash(q);
  });
  $('#r-test-form').addEventListener('submit', routeTest);
  $('#s-mode-set').addEventListener('click', setMode);
  window.addEventListener('hashchange', route);
  route();
}

document.addEventListener('DOMContentLoaded', wire);
