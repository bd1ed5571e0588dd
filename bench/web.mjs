// bench/web's browser side: see the header of bench/web.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';

const require = createRequire(`${process.env.PEERS}/package.json`);
const { chromium } = require('playwright-core');
const WEB = process.env.WEB, APP = process.env.APP;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (xs) => `median=${median(xs).toFixed(0)} min=${Math.min(...xs).toFixed(0)} max=${Math.max(...xs).toFixed(0)} ms`;
const rss = () => {
  const s = readFileSync(`/proc/${process.env.WEBPID}/status`, 'utf8');
  const kb = (k) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))[1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, threads: kb('Threads'),
    anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
};
const record = () => JSON.parse(readFileSync(process.env.RECORD, 'utf8'));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext();
  const login = await context.newPage();
  await login.goto(`${WEB}/login`);
  await login.getByLabel('Password').fill('bench-password');
  await login.getByRole('button', { name: 'Log in' }).click();
  await login.waitForURL(`${WEB}/`);
  const state = await context.storageState();
  await login.close();
  const before = rss();

  // 10 dashboards, opened one after the other, each measured by the page itself.  One
  // browser context each, as 10 operators would have: a browser holds at most 6 HTTP/1.1
  // connections to a host, and each dashboard keeps one for its event stream.
  const pages = [], paints = [], ready = [];
  for (let i = 0; i < 10; i++) {
    const p = await (await browser.newContext({ storageState: state })).newPage();
    await p.goto(`${WEB}/`);
    await p.locator(`section[data-app="${APP}"] tr[data-instance="2"]`).waitFor();
    const t = await p.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation')[0];
      return { fcp: fcp ? fcp.startTime : NaN, start: nav.startTime };
    });
    const shown = await p.evaluate(() => performance.now());
    paints.push(t.fcp);
    ready.push(shown);
    pages.push(p);
  }
  console.log(`first-contentful-paint of / (10 dashboards): ${fmt(paints)}`);
  console.log(`instances on the page (navigation start -> rows): ${fmt(ready)}`);

  // Crash -> dashboard: every open dashboard notes when demo/1's crash count changes.
  const lat = [];
  for (let k = 0; k < Number(process.env.SAMPLES); k++) {
    // The previous sample's restart must be done: a record in backoff has pid 0, and
    // `kill -KILL 0` would end this bench's own process group.
    let r0 = null;
    for (const end = Date.now() + 60000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      try { r0 = record(); } catch { r0 = null; /* mid-rename */ }
      if (r0 && r0.pid > 0 && r0.state === 'running') break;
    }
    if (!r0 || !(r0.pid > 0) || r0.state !== 'running') throw new Error('instance 1 did not come back running');
    for (const p of pages) {
      await p.evaluate(({ app, want }) => {
        window.crashSeen = 0;
        const check = () => {
          const td = document.querySelector(`section[data-app="${app}"] tr[data-instance="1"] td[data-label="Crashes"]`);
          if (!window.crashSeen && td && td.textContent === want) window.crashSeen = Date.now();
        };
        new MutationObserver(check).observe(document.getElementById('apps'), { childList: true, subtree: true });
      }, { app: APP, want: String(r0.crash_restarts + 1) });
    }
    const killedAt = Date.now();
    execSync(`kill -KILL ${r0.pid}`);
    let recordedAt = 0;
    const end = Date.now() + 20000;
    while (!recordedAt && Date.now() < end) {
      try { if (record().crash_restarts > r0.crash_restarts) recordedAt = Date.now(); } catch { /* mid-rename */ }
      if (!recordedAt) await new Promise((r) => setTimeout(r, 2));
    }
    if (!recordedAt) throw new Error('the daemon never recorded the crash');
    let seen = [];
    while (Date.now() < end) {
      seen = await Promise.all(pages.map((p) => p.evaluate(() => window.crashSeen)));
      if (seen.every((x) => x)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!seen.every((x) => x)) throw new Error('a dashboard never showed the crash');
    // kill -> shown bounds recorded -> shown from above: the record comes after the kill.
    const worst = Math.max(...seen) - killedAt;
    lat.push(worst);
    console.log(`  crash ${k + 1}: kill -9 -> shown on all 10 dashboards: ${worst} ms`);
    // Let it come back and be ready before the next sample.
    const back = Date.now() + 30000;
    while (Date.now() < back) {
      const r = record();
      if (r.pid && r.pid !== r0.pid && r.state === 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  const after = rss();
  console.log(`web process: RSS ${before.rss.toFixed(1)} MB logged in, ${after.rss.toFixed(1)} MB with 10 dashboards ` +
    `(peak ${after.hwm.toFixed(1)} MB, ${after.threads} threads; ${after.anon.toFixed(1)} MB anonymous, ` +
    `${after.file.toFixed(1)} MB file-backed: the binary and its shared libraries)`);
  console.log(`RESULT web_first_paint median=${median(paints).toFixed(0)} ms target<300 ms: ${median(paints) < 300 ? 'met' : 'MISSED'}`);
  console.log(`RESULT web_crash_to_dashboard (kill -9 -> all 10 shown) ${fmt(lat)} target<1000 ms: ${Math.max(...lat) < 1000 ? 'met' : 'MISSED'}`);
  console.log(`RESULT web_rss_10_dashboards=${after.rss.toFixed(1)} MB target<15 MB: ${after.rss < 15 ? 'met' : 'MISSED'}`);
} finally {
  await browser.close();
}
