// One app's deployment events (GET /api/apps/APP/history, as `deployex history --json`), newest first.
import { el, getJSON, setStatus, header } from './common.js';

const app = new URLSearchParams(location.search).get('app') || '';
header(`History of ${app}`);
document.title = `deployex · history of ${app}`;
const box = document.getElementById('history');

try {
  const events = await getJSON(`/api/apps/${encodeURIComponent(app)}/history`);
  const rows = (events || []).slice().reverse().map((e) => el('tr', { class: e.result === 'failed' ? 'failed' : '' },
    el('td', { 'data-label': 'At', text: e.at }),
    el('td', { 'data-label': 'Instance', text: `${e.app}/${e.instance}` }),
    el('td', { 'data-label': 'Kind', text: e.kind }),
    el('td', { 'data-label': 'Change', text: `${e.from || 'none'} → ${e.version}` }),
    el('td', { 'data-label': 'Result', text: e.result }),
    el('td', { 'data-label': 'Reason', text: e.reason || '' })));
  box.replaceChildren(rows.length
    ? el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, ...['At', 'Instance', 'Kind', 'Change', 'Result', 'Reason'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, ...rows)))
    : el('p', { text: `${app}: no deployment events yet.` }));
} catch (e) {
  box.replaceChildren();
  setStatus(e.message, true);
}
box.setAttribute('aria-busy', 'false');
