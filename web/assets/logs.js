// One instance's log: the last N lines, then every new line, over one EventSource
// (GET /api/apps/APP/instances/N/logs, the output of `deployex logs APP N -f`).
import { el, header } from './common.js';

const KEEP = 5000; // lines kept on the page
const q = new URLSearchParams(location.search);
const app = q.get('app') || '';
const n = q.get('n') || '1';
const form = document.getElementById('logs-form');
const streamSel = document.getElementById('stream');
const linesIn = document.getElementById('lines');
const pre = document.getElementById('log');
const state = document.getElementById('state');
header(`Logs of ${app}/${n}`);
document.title = `deployex · logs of ${app}/${n}`;
streamSel.value = q.get('stream') === 'stderr' ? 'stderr' : 'stdout';
if (q.get('lines')) linesIn.value = q.get('lines');

let es = null;
function open() {
  if (es) es.close();
  pre.replaceChildren();
  const url = `/api/apps/${encodeURIComponent(app)}/instances/${encodeURIComponent(n)}/logs` +
    `?stream=${streamSel.value}&lines=${Number(linesIn.value) || 0}&follow=1`;
  es = new EventSource(url);
  state.textContent = 'connecting';
  es.addEventListener('open', () => { state.textContent = 'following'; });
  es.addEventListener('message', (e) => {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(el('span', { class: 'line', text: e.data + '\n' }));
    while (pre.childElementCount > KEEP) pre.firstElementChild.remove();
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  });
  es.addEventListener('end', () => { state.textContent = 'ended'; es.close(); });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) state.textContent = 'closed';
    else state.textContent = 'reconnecting';
  });
}
form.addEventListener('submit', (e) => { e.preventDefault(); open(); });
open();
