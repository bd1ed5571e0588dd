// Shared by the pages: DOM building with textContent only, the CSRF-carrying POST,
// and the formatting of times and sizes.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

let csrf = null;
async function token() {
  if (!csrf) {
    const r = await fetch('/api/session', { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/login'; throw new Error('logged out'); }
    csrf = (await r.json()).csrf;
  }
  return csrf;
}

export async function post(path, body = {}) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': await token() },
    body: JSON.stringify(body),
  });
  if (r.status === 401) { location.href = '/login'; return null; }
  const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
  return j;
}

export async function getJSON(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (r.status === 401) { location.href = '/login'; return null; }
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

export async function logout() {
  await post('/logout').catch(() => {});
  location.href = '/login';
}

export function duration(ms) {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d${String(h).padStart(2, '0')}h`;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

export function bytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function setStatus(text, isError = false) {
  const s = document.getElementById('flash');
  if (!s) return;
  s.textContent = text;
  s.className = isError ? 'flash error' : 'flash';
}

export function header(title) {
  const nav = el('nav', {},
    el('a', { href: '/', text: 'Dashboard' }),
    el('button', { type: 'button', class: 'link', text: 'Log out', onclick: logout }));
  document.body.prepend(el('header', {}, el('h1', { text: title }), nav));
}
