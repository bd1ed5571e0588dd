// The remote shell of one instance: xterm.js (vendored, see vendor/xterm/README)
// over a WebSocket to `deployex remote APP N` on a pty.  A single-use ticket
// from an authenticated POST (with the CSRF token) opens the socket; text
// frames carry keystrokes, a 4-byte binary frame a resize (columns, rows);
// the server's binary frames are the terminal's output.
import { Terminal } from './vendor/xterm/xterm.mjs';
import { header, post } from './common.js';

const q = new URLSearchParams(location.search);
const app = q.get('app') || '';
const n = q.get('n') || '1';
const box = document.getElementById('terminal');
const state = document.getElementById('state');
const flash = document.getElementById('flash');
const button = document.getElementById('connect');
header(`Shell of ${app}/${n}`);
document.title = `deployex · shell of ${app}/${n}`;
box.setAttribute('aria-label', `Shell of ${app}/${n}`);

const cols = Math.max(40, Math.min(200, Math.floor(box.clientWidth / 9) || 100));
const term = new Terminal({ cols, rows: 30, cursorBlink: true, scrollback: 5000 });
term.open(box);
let ws = null;

function resize() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const b = new Uint8Array([term.cols >> 8, term.cols & 255, term.rows >> 8, term.rows & 255]);
  ws.send(b);
}

term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(d); });

async function connect() {
  if (ws) ws.close();
  flash.textContent = '';
  state.textContent = 'connecting';
  const base = `/api/apps/${encodeURIComponent(app)}/instances/${encodeURIComponent(n)}/shell`;
  const t = await post(base);
  if (!t) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(`${scheme}//${location.host}${base}?ticket=${encodeURIComponent(t.ticket)}`);
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => { state.textContent = 'connected'; resize(); term.focus(); });
  ws.addEventListener('message', (e) => {
    term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
  });
  ws.addEventListener('close', (e) => {
    state.textContent = 'closed';
    flash.textContent = e.reason ? `The shell closed: ${e.reason}` : 'The shell closed.';
  });
}

button.addEventListener('click', () => connect().catch((e) => { flash.textContent = e.message; }));
connect().catch((e) => { flash.textContent = e.message; state.textContent = 'closed'; });
