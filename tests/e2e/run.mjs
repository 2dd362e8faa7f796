// End-to-end: real headless Chromium (Debian's package, driven by playwright-core) against a
// real trustline process and a real OpenID provider (oidc-provider), all on loopback.
//
// Run by scripts/test.sh (which builds the binary and sets TRUSTLINE_BIN). Screenshots of the
// main pages are always taken; with E2E_SCREENSHOTS=1 they are written to docs/screenshots/
// (the README's pictures), otherwise to the run's temp dir so a test run leaves the tree clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
let shots = path.join(repo, 'docs', 'screenshots');
const BIN = process.env.TRUSTLINE_BIN ?? path.join(repo, 'target', 'debug', 'trustline');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const waitFor = async (url, ms = 30000) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not come up`);
};

let dir, idp, server, browser, base, issuer, apiKey;
const children = [];
const env = () => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('TRUSTLINE_'))),
  TRUSTLINE_DATA_DIR: dir,
  TRUSTLINE_LISTEN: new URL(base).host,
  TRUSTLINE_PUBLIC_URL: base,
  TRUSTLINE_COOKIE_SECURE: 'false',
  TRUSTLINE_LOG_FORMAT: 'pretty',
  RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn',
  NO_COLOR: '1',
});
const cli = (...args) => execFileSync(BIN, args, { env: env(), encoding: 'utf8' });

const api = async (method, p, body) => {
  const r = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trustline-e2e-'));
  if (process.env.E2E_SCREENSHOTS !== '1') shots = path.join(dir, 'screenshots');
  mkdirSync(shots, { recursive: true });
  base = `http://127.0.0.1:${await freePort()}`;
  const idpPort = await freePort();
  issuer = `http://127.0.0.1:${idpPort}`;

  idp = spawn(process.execPath, [path.join(here, 'idp.mjs'), String(idpPort), base], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(idp);
  await waitFor(`${issuer}/.well-known/openid-configuration`);

  cli('tenant', 'create', '--id', 'acme', '--name', 'Acme Retail', '--sector', 'retail');
  for (const [realm, id] of [['staff', 'trustline-console'], ['customer', 'trustline-privacy']]) {
    execFileSync(BIN, ['idp', 'set', '--tenant', 'acme', '--realm', realm, '--issuer', issuer,
      '--client-id', id, '--role-claim', 'roles', '--customer-claim', 'customer_ref'],
    { env: { ...env(), IDP_CLIENT_SECRET: `${id}-secret` }, encoding: 'utf8' });
  }
  const keyOut = cli('api-key', 'create', '--tenant', 'acme', '--scopes', 'sessions,consent,enrol,audit', '--label', 'e2e');
  apiKey = keyOut.match(/(tlk_\S+)/)[1];

  server = spawn(BIN, ['serve'], { env: env(), stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(server);
  await waitFor(`${base}/readyz`, 60000);

  // Customers through the platform API.
  for (const ref of ['C-1001', 'C-2002']) {
    const r = await api('PUT', `/v1/customers/${ref}`, { methods: ['voiceprint', 'typing'] });
    assert.ok([200, 201].includes(r.status), JSON.stringify(r));
  }
  for (const ref of ['C-1001', 'C-2002']) await enrolVoice(ref);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Voiceprints through the platform API, as a contact centre would make them: the customer's
// consent captured by DTMF in the IVR, then enrolment from two utterances (the consent gate and
// the real models run; the pages show the rows this creates).
async function enrolVoice(ref) {
  const consent = await api('POST', '/v1/consents', {
    customer_ref: ref, purpose: 'voiceprint_enrolment', notice_version: '1.0.0', language: 'en',
    capture: { method: 'dtmf', ivr_call_id: `ivr-${ref}` },
  });
  assert.equal(consent.status, 201, JSON.stringify(consent));
  const wav = (name) => ({
    audio: readFileSync(path.join(repo, 'tests', 'fixtures', 'voice', `${name}.wav`)).toString('base64'),
    encoding: 'wav',
  });
  const r = await api('PUT', `/v1/customers/${ref}/voiceprint`, { utterances: [wav('tts_account'), wav('tts_hello')] });
  assert.equal(r.status, 201, JSON.stringify(r));
}

async function signIn(context, startPath, login) {
  const page = await context.newPage();
  await page.goto(base + startPath);
  // oidc-provider's login form, then its consent screen.
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  if (page.url().startsWith(issuer)) {
    await page.click('button[type=submit]');
  }
  await page.waitForLoadState('load');
  return page;
}

// Rewrite matching requests in flight, redirect hops included (Playwright's page.route does
// not see requests that are the target of a redirect; Chromium's Fetch domain does).
async function tamper(page, pattern, rewrite) {
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', (e) => {
    cdp.send('Fetch.continueRequest', { requestId: e.requestId, url: rewrite(new URL(e.request.url)).toString() }).catch(() => {});
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: pattern, requestStage: 'Request' }] });
}

const newContext = (locale = 'en-GB') => browser.newContext({ locale, extraHTTPHeaders: { 'accept-language': locale } });

test('staff sign in through the OpenID provider and see the console', async () => {
  const ctx = await newContext();
  const page = await signIn(ctx, '/console/acme/login', 'alice');
  assert.equal(new URL(page.url()).pathname, '/console');
  assert.equal(await page.textContent('[data-testid=roles]'), 'compliance_officer');
  assert.equal(await page.textContent('[data-testid=subject]'), 'alice');
  
  await page.click('a[href="/console/models"]');
  assert.ok(await page.isVisible('[data-testid=models]'));
  // Every calibration (DET) image the page shows has loaded and decoded.
  const images = await page.$$eval('[data-testid=calibration] img', (imgs) => imgs.map((i) => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]));
  assert.ok(images.length >= 4, `DET images shown: ${JSON.stringify(images)}`);
  for (const [src, loaded] of images) assert.ok(loaded, `${src} did not load`);
  await page.screenshot({ path: path.join(shots, 'console-models.png'), fullPage: true });
  // Sign out: the session is gone.
  await page.click('[data-testid=logout]');
  assert.equal(new URL(page.url()).pathname, '/signed-out');
  const r = await page.goto(`${base}/console`);
  assert.equal(r.status(), 401);
  await ctx.close();
});

test('staff without a role claim are refused', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  const responses = [];
  page.on('response', (r) => { if (r.url().startsWith(`${base}/auth/callback`)) responses.push(r.status()); });
  await page.goto(`${base}/console/acme/login`);
  await page.fill('input[name=login]', 'bob');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  if (page.url().startsWith(issuer)) await page.click('button[type=submit]');
  await page.waitForSelector('[data-reason]');
  assert.equal(await page.getAttribute('[data-reason]', 'data-reason'), 'no_role');
  assert.deepEqual(responses, [403]);
  const r = await page.goto(`${base}/console`);
  assert.equal(r.status(), 401, 'no session was created');
  await ctx.close();
});

test('a tampered state is refused', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await tamper(page, `${base}/auth/callback*`, (u) => {
    u.searchParams.set('state', 'tampered-' + u.searchParams.get('state'));
    return u;
  });
  await page.goto(`${base}/console/acme/login`);
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  if (page.url().startsWith(issuer)) await page.click('button[type=submit]');
  await page.waitForSelector('[data-reason]');
  assert.equal(await page.getAttribute('[data-reason]', 'data-reason'), 'state_mismatch');
  const r = await page.goto(`${base}/console`);
  assert.equal(r.status(), 401);
  await ctx.close();
});

test('a tampered nonce is refused', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  // Change the nonce on its way to the provider: the ID token then carries the wrong one.
  await tamper(page, `${issuer}/auth?*`, (u) => {
    u.searchParams.set('nonce', 'attacker-chosen');
    return u;
  });
  await page.goto(`${base}/console/acme/login`);
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  if (page.url().startsWith(issuer)) await page.click('button[type=submit]');
  await page.waitForSelector('[data-reason]');
  assert.equal(await page.getAttribute('[data-reason]', 'data-reason'), 'invalid_id_token');
  await ctx.close();
});

test('a customer sees only their own data and no staff page', async () => {
  const ctx = await newContext();
  const page = await signIn(ctx, '/privacy/acme/login', 'carol');
  assert.equal(new URL(page.url()).pathname, '/privacy');
  assert.equal(await page.textContent('[data-testid=subject]'), 'C-1001');
  const html = await page.content();
  assert.ok(!html.includes('C-2002'));
  assert.equal(await page.locator('[data-testid=templates] tr[data-modality]').count(), 2);
  await page.screenshot({ path: path.join(shots, 'privacy-centre.png'), fullPage: true });
  // The download holds this customer only, whatever the URL asks for.
  const r = await page.request.get(`${base}/privacy/export.json?customer_ref=C-2002`);
  assert.equal(r.status(), 200);
  assert.match(r.headers()['content-disposition'], /attachment/);
  const doc = await r.json();
  assert.equal(doc.customer_ref, 'C-1001');
  assert.ok(!JSON.stringify(doc).includes('C-2002'));
  // Staff pages are closed.
  for (const p of ['/console', '/console/models']) {
    const s = await page.goto(base + p);
    assert.equal(s.status(), 403, p);
  }
  await ctx.close();
});

test('a forged CSRF token is rejected and nothing is deleted', async () => {
  const ctx = await newContext();
  const page = await signIn(ctx, '/privacy/acme/login', 'carol');
  await page.locator('form[action="/privacy/templates/delete"] input[name=csrf]').evaluate((el) => { el.value = 'forged'; });
  const [resp] = await Promise.all([
    page.waitForResponse(`${base}/privacy/templates/delete`),
    page.click('[data-testid=delete-templates]'),
  ]);
  assert.equal(resp.status(), 403);
  assert.equal(await page.getAttribute('[data-code]', 'data-code'), 'csrf');
  await page.goto(`${base}/privacy`);
  assert.equal(await page.locator('[data-testid=templates] tr[data-modality]').count(), 2);
  await ctx.close();
});

test('a customer deletes their biometric profiles (data key destroyed)', async () => {
  const ctx = await newContext('nl-NL');
  const page = await signIn(ctx, '/privacy/acme/login', 'carol');
  assert.equal(await page.getAttribute('html', 'lang'), 'nl');
  await page.screenshot({ path: path.join(shots, 'privacy-centre-nl.png'), fullPage: true });
  await page.click('[data-testid=delete-templates]');
  assert.equal(await page.textContent('[data-testid=deleted-count]'), '2');
  await page.screenshot({ path: path.join(shots, 'privacy-deleted.png'), fullPage: true });
  await page.goto(`${base}/privacy`);
  assert.ok(await page.isVisible('[data-testid=no-templates]'));
  await ctx.close();
  // The other customer's profiles are untouched.
  const other = await newContext();
  const p2 = await signIn(other, '/privacy/acme/login', 'dave');
  assert.equal(await p2.locator('[data-testid=templates] tr[data-modality]').count(), 2);
  await other.close();
});

test('the platform opens the privacy centre with a single-use link', async () => {
  const r = await api('POST', '/v1/customers/C-2002/privacy-link');
  assert.equal(r.status, 201);
  const ctx = await newContext();
  const page = await ctx.newPage();
  await page.goto(r.body.url);
  assert.equal(new URL(page.url()).pathname, '/privacy');
  assert.equal(await page.textContent('[data-testid=subject]'), 'C-2002');
  // Preferred methods: choose "code only".
  await page.uncheck('input[value=voiceprint]');
  await page.uncheck('input[value=typing]');
  await page.check('input[value=code_only]');
  await page.click('[data-testid=save-methods]');
  assert.ok(await page.isChecked('input[value=code_only]'));
  assert.ok(!(await page.isChecked('input[value=voiceprint]')));
  const again = await (await newContext()).newPage();
  const second = await again.goto(r.body.url);
  assert.equal(second.status(), 404, 'links are single use');
  await ctx.close();
});

test('a customer grants and withdraws a consent (withdrawal as easy as the grant)', async () => {
  const ctx = await newContext();
  const page = await signIn(ctx, '/privacy/acme/login', 'carol');
  // carol's voiceprint consent came by DTMF at set-up; typing is hers to give here.
  const purpose = '[data-purpose=keystroke_enrolment]';
  assert.equal(await page.getAttribute(purpose, 'data-state'), 'none');
  assert.match(await page.textContent(`${purpose} [data-testid=notice]`), /typ/);
  await page.click('[data-testid=grant-keystroke_enrolment]');
  assert.equal(await page.getAttribute(purpose, 'data-state'), 'granted');
  await page.screenshot({ path: path.join(shots, 'privacy-consent-granted.png'), fullPage: true });
  await page.click('[data-testid=withdraw-keystroke_enrolment]');
  assert.equal(await page.getAttribute(purpose, 'data-state'), 'none');
  // The download now holds the consent, its signed receipt, and both log entries.
  const r = await page.request.get(`${base}/privacy/export.json`);
  const doc = await r.json();
  const typing = doc.consents.filter((c) => c.purpose === 'keystroke_enrolment');
  assert.equal(typing.length, 1);
  assert.equal(typing[0].end_reason, 'withdrawn');
  assert.equal(doc.receipts.filter((x) => JSON.stringify(x).includes(typing[0].consent_id)).length, 1);
  const kinds = doc.log_entries.map((e) => e.kind);
  assert.ok(kinds.includes('consent_granted') && kinds.includes('consent_withdrawn'), kinds.join());
  await ctx.close();
});

test('a compliance officer searches, opens a proof, verifies the log and exports', async () => {
  const ctx = await newContext();
  const page = await signIn(ctx, '/console/acme/login', 'alice');
  await page.fill('input[name=customer]', 'C-1001');
  await page.fill('input[name=purpose]', 'keystroke_enrolment');
  await page.click('[data-testid=search]');
  const kinds = await page.locator('[data-testid=results] tr[data-kind]').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
  assert.deepEqual(kinds, ['consent_withdrawn', 'consent_granted']);
  await page.screenshot({ path: path.join(shots, 'console-search.png'), fullPage: true });

  // The granted entry: inclusion proof against a signed tree head, and its receipt.
  await page.click('[data-testid=results] tr[data-kind=consent_granted] a');
  assert.ok(await page.isVisible('[data-testid=inclusion-proof]'));
  assert.match(await page.textContent('[data-testid=root-hash]'), /^[0-9a-f]{64}$/);
  await page.screenshot({ path: path.join(shots, 'console-entry-proof.png'), fullPage: true });
  await page.click('[data-testid=receipt-link]');
  assert.match(await page.textContent('[data-testid=receipt]'), /keystroke_enrolment/);

  await page.goto(`${base}/console/log`);
  await page.click('[data-testid=verify]');
  assert.equal(await page.getAttribute('[data-testid=verify-result]', 'data-ok'), 'true');
  await page.screenshot({ path: path.join(shots, 'console-log-verified.png'), fullPage: true });

  // Export of the filtered set, through the browser's download.
  await page.goto(`${base}/console?customer=C-1001`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\n');
  assert.equal(lines[0], 'index,created_at_ms,kind,customer_ref,session_id,leaf_hash,body');
  assert.ok(lines.some((l) => l.includes('consent_withdrawn')));
  assert.ok(lines.slice(1).every((l) => l.includes('C-1001')));
  const jsonl = await page.request.get(`${base}/console/export.jsonl?kind=template_deleted`);
  const deleted = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(deleted.length >= 2 && deleted.every((e) => e.body.by === 'privacy_centre'));
  // Staff actions are themselves in the log.
  const actions = await page.request.get(`${base}/console/export.jsonl?kind=staff_action`);
  const seen = new Set((await actions.text()).trim().split('\n').map((l) => JSON.parse(l).body.action));
  for (const a of ['login', 'search', 'view_entry', 'view_receipt', 'verify_log', 'export_csv']) assert.ok(seen.has(a), a);
  await ctx.close();
});
