// One instance's top processes, read through the C node when the page asks
// (GET /api/apps/APP/instances/N/processes): by memory, by reductions, by
// message queue length.  A snapshot, refreshed by the button, never polled.
import { el, header } from './common.js';

const q = new URLSearchParams(location.search);
const app = q.get('app') || '';
const n = q.get('n') || '1';
const main = document.getElementById('processes');
const summary = document.getElementById('summary');
const flash = document.getElementById('flash');
header(`Processes of ${app}/${n}`);
document.title = `deployex · processes of ${app}/${n}`;

function bytes(b) {
  if (b >= 1048576) return `${(b / 1048576).toFixed(1)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}

function table(caption, rows) {
  const head = ['Pid', 'Name', 'Memory', 'Reductions', 'Queue', 'Current function'];
  return el('table', { class: 'procs' },
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((r) => el('tr', {},
      el('td', { 'data-label': 'Pid', text: r.pid }),
      el('td', { 'data-label': 'Name', class: 'name', text: r.name || '–' }),
      el('td', { 'data-label': 'Memory', text: bytes(r.memory_bytes) }),
      el('td', { 'data-label': 'Reductions', text: String(r.reductions) }),
      el('td', { 'data-label': 'Queue', text: String(r.message_queue_len) }),
      el('td', { 'data-label': 'Current function', text: r.current_function || '–' })))));
}

async function load() {
  summary.textContent = 'reading';
  flash.textContent = '';
  const path = `/api/apps/${encodeURIComponent(app)}/instances/${encodeURIComponent(n)}/processes`;
  const r = await fetch(path, { credentials: 'same-origin' });
  if (r.status === 401) { location.href = '/login'; return; }
  const doc = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) {
    summary.textContent = 'unavailable';
    flash.textContent = doc.error || `HTTP ${r.status}`;
    return;
  }
  summary.textContent = `${doc.processes} processes on ${doc.node}, at ${new Date().toLocaleTimeString()}`;
  main.replaceChildren(
    table('Top by memory', doc.by_memory),
    table('Top by reductions', doc.by_reductions),
    table('Top by message queue length', doc.by_message_queue));
}

document.getElementById('refresh').addEventListener('click', () => load().catch((e) => { flash.textContent = e.message; }));
load().catch((e) => { flash.textContent = e.message; });
