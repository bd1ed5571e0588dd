// The dashboard: one EventSource on /api/events; every `status` event re-renders the
// apps from the same JSON `deployex status --json` prints, every `host` event the host line.
import { el, post, getJSON, duration, bytes, setStatus, header } from './common.js';

header('deployex');
const appsBox = document.getElementById('apps');
const hostBox = document.getElementById('host');
const daemonBox = document.getElementById('daemon');

let snapshot = null;         // the last status document
let receivedAt = 0;          // when it arrived (uptimes advance from there)
const chosen = new Map();    // app -> the version picked in its pin list (kept across renders)
const histories = new Map(); // app -> {key, events}

async function act(path, body, question) {
  if (question && !confirm(question)) return;
  try {
    const r = await post(path, body);
    if (r) setStatus(r.warning ? `${r.message} (${r.warning})` : r.message, !!r.warning);
  } catch (e) {
    setStatus(e.message, true);
  }
}

// The history feeds the pin list (recently published versions) and each instance's last failure.
async function loadHistory(app, key) {
  const h = histories.get(app.name);
  if (h && h.key === key) return;
  histories.set(app.name, { key, events: h ? h.events : [] });
  try {
    const events = await getJSON(`/api/apps/${encodeURIComponent(app.name)}/history`);
    histories.set(app.name, { key, events: events || [] });
    render();
  } catch (e) {
    setStatus(e.message, true);
  }
}

function versionsOf(app) {
  const seen = new Set();
  const out = [];
  const add = (v) => { if (v && !seen.has(v) && !app.ghosts.includes(v)) { seen.add(v); out.push(v); } };
  add(app.desired.version);
  const events = (histories.get(app.name) || { events: [] }).events;
  for (let i = events.length - 1; i >= 0 && out.length < 20; i--) add(events[i].version);
  for (const i of app.instances) add(i.version);
  return out;
}

function lastFailure(app, n) {
  const events = (histories.get(app.name) || { events: [] }).events;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.instance === n && e.result === 'failed') return `${e.at}: ${e.reason || e.kind + ' failed'}`;
  }
  return null;
}

function field(label, value, cls) {
  return el('td', { 'data-label': label, class: cls, text: value });
}

function instanceRow(app, i) {
  const target = `${app.name}/${i.instance}`;
  const ld = i.last_deploy ? `${i.last_deploy.kind} ${i.last_deploy.result} ${i.last_deploy.at}` : '–';
  // The daemon's last_error ({at, text}) when it has one, else the latest failed history event.
  const err = (i.last_error && `${i.last_error.at}: ${i.last_error.text}`) || lastFailure(app, i.instance) || '–';
  const uptime = el('td', { 'data-label': 'Uptime', class: 'uptime', text: i.pid ? duration(i.uptime_ms) : '–' });
  uptime.dataset.ms = i.pid ? i.uptime_ms : '';
  return el('tr', { 'data-instance': i.instance },
    el('th', { scope: 'row', text: target }),
    field('State', i.state, `state state-${i.state}`),
    field('Version', i.version || '–'),
    field('Target', i.target_version || '–'),
    field('Ready', i.ready ? 'yes' : 'no'),
    field('OTP', i.otp_release ? `${i.otp} (${i.otp_release})` : i.otp),
    field('PID', i.pid ? String(i.pid) : '–', 'pid'),
    uptime,
    field('Crashes', String(i.crash_restarts)),
    field('Forced', String(i.forced_restarts)),
    field('Last deploy', ld),
    field('Last error', err, 'last-error'),
    el('td', { 'data-label': 'Actions' }, el('div', { class: 'actions' },
      el('button', {
        type: 'button', 'aria-label': `Restart ${target}`, text: 'Restart',
        onclick: () => act(`/api/apps/${app.name}/restart`, { instance: i.instance }, `Restart ${target}?`),
      }),
      el('a', {
        class: 'button', 'aria-label': `Logs ${target}`, text: 'Logs',
        href: `/logs?app=${encodeURIComponent(app.name)}&n=${i.instance}`,
      }),
      el('a', {
        class: 'button', 'aria-label': `Processes ${target}`, text: 'Processes',
        href: `/processes?app=${encodeURIComponent(app.name)}&n=${i.instance}`,
      }),
      el('a', {
        class: 'button', 'aria-label': `Shell ${target}`, text: 'Shell',
        href: `/shell?app=${encodeURIComponent(app.name)}&n=${i.instance}`,
      }))));
}

function appSection(app) {
  const name = app.name;
  const versions = versionsOf(app);
  const pick = chosen.has(name) && versions.includes(chosen.get(name)) ? chosen.get(name) : versions[0];
  const select = el('select', { 'aria-label': `Version to pin for ${name}`, onchange: (e) => chosen.set(name, e.target.value) },
    ...versions.map((v) => el('option', { value: v, text: v, selected: v === pick })));
  const d = app.desired;
  const desired = el('p', { class: 'desired' },
    el('span', { text: 'Desired ' }),
    el('strong', { class: 'desired-version', text: d.version || 'none' }),
    el('span', { class: 'origin', text: ` (${d.origin}${d.hash ? ', ' + d.hash : ''})` }),
    app.paused ? el('span', { class: 'badge paused', text: 'PAUSED' }) : null);
  const controls = el('div', { class: 'controls' },
    select,
    el('button', {
      type: 'button', 'aria-label': `Pin ${name}`, text: 'Pin', disabled: versions.length === 0,
      onclick: () => { const v = select.value; act(`/api/apps/${name}/pin`, { version: v }, `Pin ${name} to ${v}? It will be deployed.`); },
    }),
    d.origin === 'override' ? el('button', {
      type: 'button', 'aria-label': `Unpin ${name}`, text: 'Unpin',
      onclick: () => act(`/api/apps/${name}/unpin`, {}, `Unpin ${name}? It follows the bucket again.`),
    }) : null,
    app.paused
      ? el('button', { type: 'button', 'aria-label': `Resume ${name}`, text: 'Resume', onclick: () => act(`/api/apps/${name}/resume`, {}) })
      : el('button', { type: 'button', 'aria-label': `Pause ${name}`, text: 'Pause', onclick: () => act(`/api/apps/${name}/pause`, {}) }),
    el('button', {
      type: 'button', 'aria-label': `Restart ${name}`, text: 'Restart all',
      onclick: () => act(`/api/apps/${name}/restart`, {}, `Restart every instance of ${name}, one at a time?`),
    }),
    el('a', { class: 'button', 'aria-label': `History ${name}`, text: 'History', href: `/history?app=${encodeURIComponent(name)}` }));
  const ghosts = app.ghosts.length ? el('div', { class: 'ghosts' },
    el('span', { text: 'Ghosts: ' }),
    ...app.ghosts.map((g) => el('span', { class: 'ghost' },
      el('span', { text: g }),
      el('button', {
        type: 'button', 'aria-label': `Unghost ${name} ${g}`, text: 'Unghost',
        onclick: () => act(`/api/apps/${name}/unghost`, { version: g }, `Unghost ${name} ${g}? It may be deployed again.`),
      }))),
    app.ghosts.length > 1 ? el('button', {
      type: 'button', 'aria-label': `Unghost all ${name}`, text: 'Unghost all',
      onclick: () => act(`/api/apps/${name}/unghost`, { all: true }, `Unghost every version of ${name}?`),
    }) : null) : null;
  const table = el('table', {},
    el('thead', {}, el('tr', {}, ...['Instance', 'State', 'Version', 'Target', 'Ready', 'OTP', 'PID', 'Uptime', 'Crashes', 'Forced',
      'Last deploy', 'Last error', 'Actions'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...app.instances.map((i) => instanceRow(app, i))));
  return el('section', { class: 'app', 'aria-labelledby': `app-${name}`, 'data-app': name },
    el('h2', { id: `app-${name}`, text: `${name} ` }, el('small', { text: app.language })),
    desired,
    d.error ? el('p', { class: 'error', text: d.error }) : null,
    ghosts, controls,
    el('div', { class: 'table-wrap' }, table));
}

function render() {
  if (!snapshot) return;
  const s = snapshot;
  daemonBox.textContent = s.daemon.running ? `daemon running (pid ${s.daemon.pid}, ${s.daemon.version})` : 'daemon NOT running';
  daemonBox.className = s.daemon.running ? 'daemon' : 'daemon error';
  const focused = document.activeElement && document.activeElement.getAttribute('aria-label');
  appsBox.replaceChildren(...(s.apps.length ? s.apps.map(appSection) : [el('p', { text: 'No apps configured.' })]));
  appsBox.setAttribute('aria-busy', 'false');
  if (focused) {
    const again = [...appsBox.querySelectorAll('[aria-label]')].find((e) => e.getAttribute('aria-label') === focused);
    if (again) again.focus();
  }
  for (const a of s.apps) loadHistory(a, `${a.desired.version}|${a.instances.map((i) => i.last_deploy && i.last_deploy.at).join(',')}`);
}

function renderHost(h) {
  const used = h.mem_total_bytes - h.mem_available_bytes;
  hostBox.replaceChildren(
    el('span', { text: h.hostname }),
    el('span', { class: 'cpu', text: `CPU ${h.cpu_pct === null ? '–' : h.cpu_pct + ' %'} of ${h.cpus}` }),
    el('span', { class: 'mem', text: `Memory ${bytes(used)} / ${bytes(h.mem_total_bytes)}` }),
    el('span', { class: 'load', text: `Load ${h.load.map((x) => x.toFixed(2)).join(' ')}` }),
    el('span', { text: `Up ${duration(h.uptime_s * 1000)}` }));
}

// Uptimes advance between snapshots without asking the server.
setInterval(() => {
  const dt = Date.now() - receivedAt;
  for (const td of appsBox.querySelectorAll('td.uptime')) {
    if (td.dataset.ms) td.textContent = duration(Number(td.dataset.ms) + dt);
  }
}, 1000);

const events = new EventSource('/api/events');
events.addEventListener('status', (e) => {
  snapshot = JSON.parse(e.data);
  receivedAt = Date.now();
  render();
});
events.addEventListener('host', (e) => renderHost(JSON.parse(e.data)));
events.addEventListener('error', async () => {
  if (events.readyState === EventSource.CLOSED) {
    const r = await fetch('/api/session', { credentials: 'same-origin' }).catch(() => null);
    if (r && r.status === 401) location.href = '/login';
    else setStatus('Lost the connection to the server; reload the page.', true);
  }
});
