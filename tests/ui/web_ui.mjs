// Driven by tests/ui/web_ui.sh: a real Chromium against the real `deployex web`.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

const require = createRequire(`${process.env.PEERS}/package.json`);
const { chromium } = require('playwright-core');
const WEB = process.env.WEB;
const SHOTS = process.env.SHOTS;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const status = () => JSON.parse(execFileSync(process.env.DEPLOYEX,
  ['-c', process.env.CONFIG, 'status', '--json'], { encoding: 'utf8' }));
const step = (what) => console.log(`- ${what}`);
const rowCell = (page, n, label) =>
  page.locator(`section[data-app="demo"] tr[data-instance="${n}"] td[data-label="${label}"]`);

mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const docs = [];
  page.on('response', (r) => { if (r.request().resourceType() === 'document') docs.push(r); });
  // The API GETs the pages make: the dashboard is live through its one event stream, never polls.
  const apiGets = [];
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (r.method() === 'GET' && path.startsWith('/api/')) apiGets.push(path);
  });

  step('without a session / sends to the login page');
  await page.goto(`${WEB}/`);
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal((await context.cookies()).length, 0);

  step('a wrong password is refused');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/login\?failed=1/);
  await page.getByRole('alert').filter({ hasText: 'Wrong password.' }).waitFor();

  step('the right password opens the dashboard');
  await page.getByLabel('Password').fill(process.env.PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${WEB}/`);
  const cookie = (await context.cookies()).find((c) => c.name === 'deployex_session');
  assert.ok(cookie, 'the session cookie');
  assert.equal(cookie.httpOnly, true, 'HttpOnly');
  assert.equal(cookie.sameSite, 'Strict', 'SameSite=Strict');
  assert.equal(cookie.path, '/');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read the cookie');
  for (const r of docs) assert.equal(r.headers()['content-security-policy'], CSP, `CSP of ${r.url()}`);

  step('the dashboard shows the real instances');
  const s = status();
  await rowCell(page, 2, 'PID').filter({ hasText: String(s.apps[0].instances[1].pid) }).waitFor();
  for (const i of s.apps[0].instances) {
    assert.equal(await rowCell(page, i.instance, 'PID').textContent(), String(i.pid));
    assert.equal(await rowCell(page, i.instance, 'State').textContent(), 'running');
    assert.equal(await rowCell(page, i.instance, 'Version').textContent(), '1.0.1');
    assert.equal(await rowCell(page, i.instance, 'Ready').textContent(), 'yes');
  }
  await page.locator('#host .mem').filter({ hasText: 'Memory' }).waitFor();
  await page.locator('section[data-app="demo"] .desired-version').filter({ hasText: '1.0.1' }).waitFor();
  await page.evaluate(() => { window.noReload = true; });
  await page.screenshot({ path: `${SHOTS}/web-dashboard.png`, fullPage: true });

  step('Restart demo/2: its pid changes on the page, without a reload');
  // Destructive actions ask first (DESIGN §9); every question is recorded, then accepted.
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); d.accept(); });
  const oldPid = String(s.apps[0].instances[1].pid);
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Restart demo/2' }).click();
  await page.waitForFunction(({ old }) => {
    const row = document.querySelector('section[data-app="demo"] tr[data-instance="2"]');
    const pid = row && row.querySelector('td[data-label="PID"]').textContent;
    const state = row && row.querySelector('td[data-label="State"]').textContent;
    return pid && pid !== old && pid !== '–' && state === 'running';
  }, { old: oldPid }, { timeout: 60000 });
  console.log(`  restart seen running with a new pid after ${Date.now() - t0} ms`);
  const newPid = await rowCell(page, 2, 'PID').textContent();
  assert.equal(String(status().apps[0].instances[1].pid), newPid, 'the page shows the daemon\'s new pid');
  assert.equal(await rowCell(page, 2, 'Forced').textContent(), '1');
  assert.equal(await page.evaluate(() => window.noReload), true, 'no reload');
  assert.deepEqual(dialogs, ['confirm: Restart demo/2?'], 'the restart asked first');

  // The rollout seen from the page: the (instance 1, instance 2) versions over time.
  async function watchRollout(want) {
    const seen = [];
    const end = Date.now() + 120000;
    for (;;) {
      const v = `${await rowCell(page, 1, 'Version').textContent()} ${await rowCell(page, 2, 'Version').textContent()}`;
      const st = `${await rowCell(page, 1, 'State').textContent()} ${await rowCell(page, 2, 'State').textContent()}`;
      if (seen[seen.length - 1] !== v) seen.push(v);
      if (v === `${want} ${want}` && st === 'running running') return seen;
      assert.ok(Date.now() < end, `rollout to ${want} not seen; saw ${seen.join(' | ')}`);
      await page.waitForTimeout(50);
    }
  }

  step('Pin demo to 1.0.0: the rollout progresses live, one instance at a time');
  await page.getByLabel('Version to pin for demo').selectOption('1.0.0');
  await page.getByRole('button', { name: 'Pin demo' }).click();
  await page.locator('section[data-app="demo"] .origin').filter({ hasText: 'override' }).waitFor();
  let seen = await watchRollout('1.0.0');
  console.log(`  seen: ${seen.join(' | ')}`);
  assert.ok(seen.includes('1.0.0 1.0.1'), 'instance 1 first, instance 2 still on 1.0.1');
  assert.equal(status().apps[0].desired.origin, 'override');
  assert.equal(dialogs.at(-1), 'confirm: Pin demo to 1.0.0? It will be deployed.', 'the pin asked first');

  step('Unpin demo: back to the bucket\'s 1.0.1, live');
  await page.getByRole('button', { name: 'Unpin demo' }).click();
  await page.locator('section[data-app="demo"] .origin').filter({ hasText: 'source' }).waitFor();
  seen = await watchRollout('1.0.1');
  console.log(`  seen: ${seen.join(' | ')}`);
  assert.ok(seen.includes('1.0.1 1.0.0'), 'instance 1 first again');
  assert.equal(dialogs.at(-1), 'confirm: Unpin demo? It follows the bucket again.', 'the unpin asked first');
  const asked = dialogs.length;

  step('Pause demo, then Resume demo');
  await page.getByRole('button', { name: 'Pause demo' }).click();
  await page.locator('section[data-app="demo"] .badge.paused').waitFor();
  assert.equal(status().apps[0].paused, true);
  await page.getByRole('button', { name: 'Resume demo' }).click();
  await page.locator('section[data-app="demo"] .badge.paused').waitFor({ state: 'detached' });
  assert.equal(status().apps[0].paused, false);
  assert.equal(dialogs.length, asked, 'pause and resume change nothing that runs: no question');

  step('the dashboard followed all of that through /api/events: it never polled the status');
  // (It reads an app's history, for the pin list, when a deployment changed it.)
  assert.equal(apiGets.filter((p) => p === '/api/events').length >= 1, true, 'the event stream');
  assert.deepEqual(apiGets.filter((p) => p === '/api/status' || p === '/api/host'), [],
    `status read besides the stream: ${apiGets.join(' ')}`);

  step('every control has its accessible name');
  for (const name of ['Restart demo/1', 'Restart demo/2', 'Restart demo', 'Pin demo', 'Pause demo']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 1, name);
  }
  for (const name of ['Logs demo/1', 'Logs demo/2', 'History demo']) {
    assert.equal(await page.getByRole('link', { name, exact: true }).count(), 1, name);
  }

  step('phone width: nothing overflows sideways');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 391, `the page is ${overflow} px wide at 390 px`);
  await page.screenshot({ path: `${SHOTS}/web-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  step('History demo lists the deployments');
  await page.getByRole('link', { name: 'History demo' }).click();
  await page.waitForURL(/\/history\?app=demo/);
  await page.locator('main#history tbody tr').first().waitFor();
  assert.ok(await page.locator('main#history tbody tr').count() >= 6);

  step('Logs demo/1 streams new lines');
  await page.goto(`${WEB}/`);
  await page.getByRole('link', { name: 'Logs demo/1' }).click();
  await page.waitForURL(/\/logs\?app=demo&n=1/);
  await page.locator('#state').filter({ hasText: 'following' }).waitFor();
  const marker = `ui-test-marker-${Date.now()}`;
  const t1 = Date.now();
  appendFileSync(`${process.env.LOGDIR}/demo/demo-1-stdout.log`, `${marker}\n`);
  await page.locator('#log .line').filter({ hasText: marker }).waitFor({ timeout: 15000 });
  console.log(`  a new log line shown after ${Date.now() - t1} ms`);
  await page.screenshot({ path: `${SHOTS}/web-logs.png` });

  step('Processes demo/1 lists the real processes of the node, read through the C node');
  await page.goto(`${WEB}/`);
  await page.getByRole('link', { name: 'Processes demo/1' }).click();
  await page.waitForURL(/\/processes\?app=demo&n=1/);
  await page.locator('#summary').filter({ hasText: /processes on|unavailable/ }).waitFor({ timeout: 30000 });
  assert.match(await page.locator('#summary').textContent(), /^\d+ processes on demo-1@/,
    `the process list: ${await page.locator('#flash').textContent()}`);
  const nprocs = parseInt(await page.locator('#summary').textContent(), 10);
  assert.ok(nprocs > 20, `${nprocs} processes`);
  assert.equal(await page.locator('table.procs').count(), 3);
  const names = await page.locator('table.procs td.name').allTextContents();
  assert.ok(names.some((x) => ['code_server', 'application_controller', 'init', 'kernel_sup', 'logger'].includes(x)),
    `well-known OTP processes among ${names.join(' ')}`);
  const pids = await page.locator('table.procs tbody td[data-label="Pid"]').allTextContents();
  assert.ok(pids.length >= 20 && pids.every((x) => /^<0\.\d+\.\d+>$/.test(x)), 'rows of real pids');
  await page.screenshot({ path: `${SHOTS}/web-processes.png` });

  step('Shell demo/1: node(). on the node answers its name');
  await page.goto(`${WEB}/`);
  await page.getByRole('link', { name: 'Shell demo/1' }).click();
  await page.waitForURL(/\/shell\?app=demo&n=1/);
  await page.locator('#state').filter({ hasText: 'connected' }).waitFor({ timeout: 20000 });
  const rows = page.locator('.xterm-rows');
  await rows.filter({ hasText: /\(demo-1@[^)]+\)1>/ }).waitFor({ timeout: 30000 }); // the remsh prompt
  await page.keyboard.type('node().\n');
  await rows.filter({ hasText: /'demo-1@[A-Za-z0-9_.-]+'/ }).waitFor({ timeout: 15000 });
  const screen = await rows.textContent();
  console.log(`  the shell answered: ${screen.match(/'demo-1@[A-Za-z0-9_.-]+'/)[0]}`);
  await page.screenshot({ path: `${SHOTS}/web-shell.png` });
  await page.goto(`${WEB}/`); // leaving the page closes the socket: the helper ends the shell

  step('no console errors so far');
  assert.deepEqual(errors, []);

  step('Log out: the session is gone');
  await page.goto(`${WEB}/`);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(/\/login$/);
  const after = await page.evaluate(async () => (await fetch('/api/status')).status);
  assert.equal(after, 401);

  step('the login rate limit: the 6th attempt in a minute is refused');
  let code = 0;
  for (let i = 2; i <= 6; i++) { // the wrong password above was the first
    await page.goto(`${WEB}/login`);
    await page.getByLabel('Password').fill('still-wrong');
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${WEB}/login` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    code = resp.status();
    assert.equal(code, i < 6 ? 303 : 429, `attempt ${i}`);
  }
  await page.getByText('Too many login attempts').waitFor();
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
