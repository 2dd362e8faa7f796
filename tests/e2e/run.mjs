// End-to-end: real headless Chromium (Debian's package, driven by playwright-core) against a
// real trustline process and a real OpenID provider (oidc-provider), all on loopback.
//
// Run by scripts/test.sh (which builds the binary and sets TRUSTLINE_BIN). Screenshots of the
// main pages are always taken; with E2E_SCREENSHOTS=1 they are written to docs/screenshots/
// (the README's pictures), otherwise to the run's temp dir so a test run leaves the tree clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
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

let dir, idp, server, browser, base, listenPort, issuer, apiKey, hookSecret;
// What the tenant's webhook received (the platform's side: it would send these by SMS or chat).
const hookMessages = [];
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const axeResults = {};
const children = [];
const env = () => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('TRUSTLINE_'))),
  TRUSTLINE_DATA_DIR: dir,
  TRUSTLINE_LISTEN: `127.0.0.1:${listenPort}`,
  TRUSTLINE_PUBLIC_URL: base,
  TRUSTLINE_COOKIE_SECURE: 'false',
  // The platform's webhook receiver below listens on loopback: the operator allow-list lets it
  // through the SSRF guard (webhook_allow_private), as a deployment on a private network would.
  TRUSTLINE_WEBHOOK_ALLOW_PRIVATE: '["127.0.0.0/8"]',
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
  // `localhost`, not 127.0.0.1: WebAuthn needs a domain as the relying party id (an IP address
  // is refused by browsers and by the server), and Chromium treats localhost as secure. The
  // server itself listens on 127.0.0.1 (TRUSTLINE_LISTEN below).
  listenPort = await freePort();
  base = `http://localhost:${listenPort}`;
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

  // The platform's webhook: checks trustline's signature and keeps what it is asked to deliver.
  const hookPort = await freePort();
  const hook = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const expected = `sha256=${createHmac('sha256', Buffer.from(hookSecret, 'hex')).update(body).digest('hex')}`;
      if (req.headers['x-trustline-signature'] !== expected) { res.writeHead(401).end(); return; }
      hookMessages.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => hook.listen(hookPort, '127.0.0.1', r));
  children.push({ kill: () => hook.close() });
  const wh = await api('PUT', '/v1/webhook', { url: `http://127.0.0.1:${hookPort}/hook` });
  assert.equal(wh.status, 200, JSON.stringify(wh));
  hookSecret = wh.body.secret;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  // Every page axe-core checked, in every test.
  for (const [name, res] of Object.entries(axeResults)) console.log(`axe-core ${name}: ${JSON.stringify(res)}`);
  if (shots && Object.keys(axeResults).length) writeFileSync(path.join(shots, 'axe-results.json'), `${JSON.stringify(axeResults, null, 2)}\n`);
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

// The link the webhook delivered for `linkId` (the outbox worker sends it within a second).
async function delivered(linkId) {
  const until = Date.now() + 15000;
  while (Date.now() < until) {
    const m = hookMessages.find((x) => x.event === 'customer_link' && x.link_id === linkId);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`link ${linkId} was not delivered`);
}

// A session of `ref` verified now with one of their recovery codes.
async function verifiedSession(ref) {
  const codes = await api('POST', `/v1/customers/${ref}/factors/recovery_codes`, {});
  assert.equal(codes.status, 201, JSON.stringify(codes));
  const s = await api('POST', '/v1/sessions', { customer_ref: ref, channel: 'video' });
  assert.equal(s.status, 201, JSON.stringify(s));
  const v = await api('POST', `/v1/sessions/${s.body.session_id}/factors/recovery_code`, { code: codes.body.codes[0] });
  assert.equal(v.body.decision.outcome, 'verified', JSON.stringify(v));
  return s.body.session_id;
}

let agentContext;
async function agentPage() {
  if (!agentContext) {
    agentContext = await newContext();
    const p = await signIn(agentContext, '/console/acme/login', 'agent');
    assert.equal(new URL(p.url()).pathname, '/agent');
    await p.close();
  }
  return agentContext.newPage();
}

// The code the signed-in agent reads out for the session's newest link of `purpose`.
async function agentCode(sid, purpose) {
  const page = await agentPage();
  await page.goto(`${base}/agent/sessions/${sid}`);
  const code = (await page.textContent(`[data-testid=agent-code-${purpose}]`)).trim();
  await page.close();
  return code;
}

// axe-core in the page, evaluated by the driver (DevTools evaluation is outside the page's CSP,
// which forbids inline scripts, so the pages are checked under their real policy); records the
// result per page and fails on any serious or critical violation.
async function axeCheck(page, name) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    const out = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return {
      violations: out.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })),
      passed: out.passes.length,
    };
  });
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.ok(r.passed > 0, `${name}: axe-core checked nothing`);
  axeResults[name] = {
    rules_passed: r.passed, violations: r.violations.length, serious_or_critical: bad.length,
    ids: r.violations.map((v) => `${v.id}:${v.impact}`),
  };
  assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad)}`);
}

// Phone width: no horizontal scrolling, and every control a finger can hit (>= 44 px).
async function phoneChecks(page, name) {
  const { scroll, width, small } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
    // A check box or radio button is hit through its label (label.check), which is measured.
    small: [...document.querySelectorAll('button, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, a, label.check')]
      .map((e) => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
      .filter(([, h]) => h > 0 && h < 44),
  }));
  assert.ok(scroll <= width, `${name}: ${scroll}px wide at ${width}px`);
  assert.deepEqual(small, [], `${name}: touch targets under 44 px`);
}

const phoneContext = (locale = 'en-GB') => browser.newContext({
  locale, extraHTTPHeaders: { 'accept-language': locale },
  viewport: { width: 360, height: 780 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
});

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
  await axeCheck(page, 'privacy-centre');
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

test('the platform opens the privacy centre with a single-use link (verified session, agent code)', async () => {
  const sid = await verifiedSession('C-2002');
  const asked = await api('POST', `/v1/sessions/${sid}/privacy-link-requests`);
  assert.equal(asked.status, 201, JSON.stringify(asked));
  const link = await delivered(asked.body.link_id);
  const code = await agentCode(sid, 'privacy');
  const ctx = await newContext();
  const page = await ctx.newPage();
  await page.goto(link.url);
  await axeCheck(page, 'privacy-link-landing');
  await page.fill('[data-testid=code]', code);
  await page.click('[data-testid=confirm]');
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
  const second = await again.goto(link.url);
  assert.equal(second.status(), 410, 'links are single use');
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

test('camera consent on the customer\'s phone (360 px): request, link, code, choice, grant, change, withdrawal live at the agent', async () => {
  const r = await api('POST', '/v1/sessions', { customer_ref: 'C-1001', channel: 'video' });
  assert.equal(r.status, 201, JSON.stringify(r));
  const sid = r.body.session_id;
  const refused = await api('POST', `/v1/sessions/${sid}/camera-grants`, { customer_ref: 'C-1001' });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'consent_required');

  // The platform asks; the webhook brings the link (the platform would text it to the phone).
  const asked = await api('POST', `/v1/sessions/${sid}/camera-consent-requests`);
  assert.equal(asked.status, 201, JSON.stringify(asked));
  const link = await delivered(asked.body.link_id);
  assert.ok(!JSON.stringify(asked.body).match(/"code"/) && !('code' in link));

  // The agent's live view (read only) shows the code to read out.
  const agent = await agentPage();
  await agent.setViewportSize({ width: 1000, height: 700 });
  await agent.goto(`${base}/agent/sessions/${sid}`);
  const code = (await agent.textContent('[data-testid=agent-code-camera]')).trim();
  assert.match(code, /^[0-9]{6}$/);
  assert.equal(await agent.getAttribute('[data-testid=agent-choice]', 'data-mode'), 'none');
  assert.equal(await agent.locator('#agent-choice button, #agent-choice input, #agent-choice form').count(), 0, 'no way to override');

  const phone = await phoneContext();
  const page = await phone.newPage();
  await page.goto(link.url);
  assert.equal(await page.getAttribute('[data-testid=landing]', 'data-purpose'), 'camera');
  await phoneChecks(page, 'landing');
  await axeCheck(page, 'landing');
  await page.screenshot({ path: path.join(shots, 'camera-1-landing.png'), fullPage: true });
  // A wrong code first: the error is on the same page, accessible too.
  await page.fill('[data-testid=code]', '000000');
  await page.click('[data-testid=confirm]');
  assert.ok(await page.isVisible('[data-testid=wrong-code]'));
  await axeCheck(page, 'landing-wrong-code');
  await page.screenshot({ path: path.join(shots, 'camera-2-wrong-code.png'), fullPage: true });
  // Keyboard only: type the code and press Enter.
  await page.focus('[data-testid=code]');
  await page.keyboard.type(code);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/camera\//);
  assert.ok((await page.textContent('[data-testid=notice]')).includes('You choose how'));
  assert.equal(await page.getAttribute('[data-testid=current-choice]', 'data-mode'), 'none');
  await phoneChecks(page, 'camera-choice');
  await axeCheck(page, 'camera-choice');
  await page.screenshot({ path: path.join(shots, 'camera-3-choice.png'), fullPage: true });

  // Steps from the choice page: each is counted as one user action (tap, key press).
  const steps = { grant: 0, change: 0, withdraw: 0 };
  // The form posts and the answer redirects back to the same URL: wait for the new document.
  const tap = async (kind, selector) => {
    steps[kind] += 1;
    await Promise.all([page.waitForEvent('load'), page.tap(selector)]);
  };

  await tap('grant', '[data-testid=mode-two_way]');
  assert.equal(await page.getAttribute('[data-testid=current-choice]', 'data-mode'), 'two_way');
  await agent.waitForSelector('[data-testid=agent-choice][data-mode=two_way]', { timeout: 5000 });
  const grant = await api('POST', `/v1/sessions/${sid}/camera-grants`, { customer_ref: 'C-1001' });
  assert.equal(grant.status, 201, JSON.stringify(grant));
  const claims = JSON.parse(Buffer.from(grant.body.grant.split('.')[1], 'base64url'));
  assert.equal(claims.choice.mode, 'two_way');
  assert.equal(claims.choice.background_blur, true, 'the policy default (blur on) was kept');
  assert.equal(claims.choice.recording_allowed, false);
  await phoneChecks(page, 'camera-granted');
  await axeCheck(page, 'camera-granted');
  await page.screenshot({ path: path.join(shots, 'camera-4-granted.png'), fullPage: true });
  await agent.screenshot({ path: path.join(shots, 'camera-agent-two-way.png'), fullPage: true });

  await tap('change', '[data-testid=mode-one_way]');
  await agent.waitForSelector('[data-testid=agent-choice][data-mode=one_way]', { timeout: 5000 });
  const changed = await api('POST', `/v1/sessions/${sid}/camera-grants`, { customer_ref: 'C-1001' });
  assert.equal(JSON.parse(Buffer.from(changed.body.grant.split('.')[1], 'base64url')).choice.mode, 'one_way');

  await tap('withdraw', '[data-testid=mode-audio_only]');
  assert.equal(await page.getAttribute('[data-testid=current-choice]', 'data-mode'), 'audio_only');
  // Pushed to the agent's open page over SSE (no reload).
  await agent.waitForSelector('[data-testid=agent-choice][data-mode=audio_only]', { timeout: 5000 });
  const after = await api('POST', `/v1/sessions/${sid}/camera-grants`, { customer_ref: 'C-1001' });
  assert.equal(after.status, 403);
  await axeCheck(page, 'camera-withdrawn');
  await page.screenshot({ path: path.join(shots, 'camera-5-withdrawn.png'), fullPage: true });
  await agent.screenshot({ path: path.join(shots, 'camera-agent-withdrawn.png'), fullPage: true });
  await axeCheck(agent, 'agent-view');

  console.log(`camera consent steps: grant ${steps.grant}, change ${steps.change}, withdraw ${steps.withdraw}`);
  assert.ok(steps.withdraw <= steps.grant && steps.change <= steps.grant, JSON.stringify(steps));
  assert.ok(steps.grant <= steps.withdraw && steps.grant <= steps.change, JSON.stringify(steps));

  // The spent link, opened again (a forwarded SMS): a typed error page, accessible.
  const other = await phoneContext();
  const fwd = await other.newPage();
  const resp = await fwd.goto(link.url);
  assert.equal(resp.status(), 410);
  assert.equal(await fwd.getAttribute('[data-reason]', 'data-reason'), 'link_used');
  await phoneChecks(fwd, 'error-link-used');
  await axeCheck(fwd, 'error-link-used');
  await fwd.screenshot({ path: path.join(shots, 'camera-6-link-used.png'), fullPage: true });
  // A mistyped or made-up link: its error page too.
  const bogus = await fwd.goto(`${base}/l/not-a-real-link-token`);
  assert.ok([404, 410].includes(bogus.status()), String(bogus.status()));
  await phoneChecks(fwd, 'error-link-invalid');
  await axeCheck(fwd, 'error-link-invalid');
  await fwd.screenshot({ path: path.join(shots, 'camera-7-link-invalid.png'), fullPage: true });
  await other.close();
  await phone.close();
  await agent.close();

});

// The page's language: <html lang>, and the switch marks it as the current one.
async function pageLanguage(page) {
  const lang = await page.getAttribute('html', 'lang');
  const current = await page.getAttribute('[data-testid=lang-switch] a[aria-current=true]', 'data-lang');
  assert.equal(current, lang, 'the switch marks the page\'s language');
  return lang;
}

test('customer pages in Polish from Accept-Language: pl, and the language switch (360 px)', async () => {
  const sid = await verifiedSession('C-2002');
  const asked = await api('POST', `/v1/sessions/${sid}/privacy-link-requests`);
  assert.equal(asked.status, 201, JSON.stringify(asked));
  const link = await delivered(asked.body.link_id);
  const code = await agentCode(sid, 'privacy');

  const phone = await phoneContext('pl-PL');
  const page = await phone.newPage();
  await page.goto(link.url);
  assert.equal(await pageLanguage(page), 'pl');
  assert.equal(await page.textContent('h1'), 'Twoje centrum prywatności');
  assert.match(await page.textContent('[data-testid=landing]'), /Wpisz kod, który odczyta Ci konsultant/);
  assert.equal(await page.textContent('[data-testid=confirm]'), 'Dalej');
  // Every language is offered by its own name.
  const offered = await page.$$eval('[data-testid=lang-switch] a', (as) => as.map((a) => `${a.lang}:${a.textContent}`));
  assert.deepEqual(offered, ['en:English', 'nl:Nederlands', 'sv:Svenska', 'pl:Polski', 'no:Norsk']);
  await phoneChecks(page, 'landing-pl');
  await axeCheck(page, 'landing-pl');
  await page.screenshot({ path: path.join(shots, 'i18n-1-landing-pl.png'), fullPage: true });

  // A wrong code: the plural follows Polish grammar (4 attempts left: "Zostały 4 próby").
  await page.fill('[data-testid=code]', '000000');
  await page.click('[data-testid=confirm]');
  assert.match(await page.textContent('[data-testid=wrong-code]'), /^Ten kod jest nieprawidłowy\. Zostały \d próby\.$/);
  await axeCheck(page, 'landing-wrong-code-pl');

  // The switch: one tap to Norwegian, which the next pages keep (a cookie, not the browser's header).
  await Promise.all([page.waitForEvent('load'), page.tap('[data-testid=lang-switch] a[data-lang=no]')]);
  assert.equal(await pageLanguage(page), 'no');
  assert.equal(await page.textContent('h1'), 'Personvernsenteret ditt');
  await phoneChecks(page, 'landing-no');
  await axeCheck(page, 'landing-no');
  await page.fill('[data-testid=code]', code);
  await Promise.all([page.waitForURL(/\/privacy$/), page.click('[data-testid=confirm]')]);
  assert.equal(await pageLanguage(page), 'no');
  assert.equal(await page.textContent('h1'), 'Personvernsenter');
  await page.screenshot({ path: path.join(shots, 'i18n-2-privacy-no.png'), fullPage: true });

  // Back to Polish on the privacy centre: purposes, notices and dates in Polish.
  await Promise.all([page.waitForEvent('load'), page.tap('[data-testid=lang-switch] a[data-lang=pl]')]);
  assert.equal(await pageLanguage(page), 'pl');
  assert.equal(await page.textContent('h1'), 'Centrum prywatności');
  assert.equal(await page.textContent('[data-purpose=voiceprint_enrolment] h3'), 'Rozpoznawanie Cię po głosie');
  assert.match(await page.textContent('[data-purpose=keystroke_enrolment] [data-testid=notice]'), /Czy możemy nauczyć się rytmu Twojego pisania/);
  const enrolled = await page.textContent('[data-testid=templates] tr[data-modality] td:nth-child(2)');
  assert.match(enrolled, /^\d{1,2} (stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|listopada|grudnia) \d{4} r\., \d{2}:\d{2} UTC$/);
  assert.equal(await page.textContent('[data-testid=templates] tr[data-modality] td:nth-child(1)'), 'Odcisk głosu');
  await phoneChecks(page, 'privacy-centre-pl');
  await axeCheck(page, 'privacy-centre-pl');
  await page.screenshot({ path: path.join(shots, 'i18n-3-privacy-pl.png'), fullPage: true });

  // An error page in Polish, with the switch too.
  const bogus = await page.goto(`${base}/l/not-a-real-link-token`);
  assert.ok([404, 410].includes(bogus.status()), String(bogus.status()));
  assert.equal(await pageLanguage(page), 'pl');
  assert.equal(await page.textContent('[data-code]'), 'Ten link jest nieprawidłowy, wygasł lub został już użyty. Poproś o nowy.');
  await phoneChecks(page, 'error-link-invalid-pl');
  await axeCheck(page, 'error-link-invalid-pl');
  await page.screenshot({ path: path.join(shots, 'i18n-4-error-pl.png'), fullPage: true });
  await phone.close();
});

// A platform authenticator in the browser (Chrome DevTools' virtual authenticator: CTAP2,
// internal transport, resident keys, user verification by "screen lock"), for `page` only.
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials };
}

test('passkeys in Chromium (360 px): registered in the privacy centre, then a CIBA step-up approved on the phone', async () => {
  const phone = await phoneContext();
  const page = await signIn(phone, '/privacy/acme/login', 'carol');
  assert.equal(new URL(page.url()).pathname, '/privacy');
  const authenticator = await virtualAuthenticator(page);
  assert.ok(await page.isVisible('[data-testid=no-passkeys]'));

  // Register: the page's own script runs WebAuthn create() against the server's options.
  await page.fill('#passkey-name', 'my phone');
  await Promise.all([page.waitForEvent('load'), page.tap('[data-testid=add-passkey]')]);
  const listed = await page.locator('[data-testid=passkey-list] li').allTextContents();
  assert.equal(listed.length, 1, `passkeys listed: ${JSON.stringify(listed)} status: ${await page.textContent('[data-testid=passkey-status]')}`);
  assert.match(listed[0], /my phone/);
  const creds = await authenticator.credentials();
  assert.equal(creds.length, 1, 'the key is on the device');
  assert.equal(creds[0].rpId, 'localhost');
  // Check it: an assertion the server verifies.
  await page.tap('[data-testid=check-passkey]');
  await page.waitForSelector('[data-testid=passkey-status][data-code=verified]', { timeout: 10000 });
  await phoneChecks(page, 'privacy-passkeys');
  await axeCheck(page, 'privacy-passkeys');
  await page.screenshot({ path: path.join(shots, 'passkey-1-privacy-registered.png'), fullPage: true });

  // The platform asks for a step-up in a live session; the link comes through the webhook.
  const s = await api('POST', '/v1/sessions', { customer_ref: 'C-1001', channel: 'video' });
  assert.equal(s.status, 201, JSON.stringify(s));
  const sid = s.body.session_id;
  const before = await api('GET', `/v1/sessions/${sid}`);
  assert.notEqual(before.body.decision.outcome, 'verified', JSON.stringify(before.body.decision));
  assert.ok(JSON.stringify(before.body.decision.step_up?.factors ?? []).includes('passkey'), 'a passkey is offered');
  const asked = await api('POST', `/v1/sessions/${sid}/passkey-requests`, {});
  assert.equal(asked.status, 202, JSON.stringify(asked));
  assert.equal(asked.body.delivery, 'webhook');
  const link = await (async () => {
    const until = Date.now() + 15000;
    while (Date.now() < until) {
      const m = hookMessages.find((x) => x.event === 'customer_link' && x.purpose === 'passkey' && x.session_id === sid);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('passkey link was not delivered');
  })();

  // The phone (the same device, holding the passkey) opens it: the binding code, one button.
  await page.goto(link.url);
  assert.equal(await page.textContent('[data-testid=binding-code]'), asked.body.binding_code);
  await phoneChecks(page, 'passkey-approval');
  await axeCheck(page, 'passkey-approval');
  await page.screenshot({ path: path.join(shots, 'passkey-2-approval.png'), fullPage: true });
  await page.tap('[data-testid=approve]');
  await page.waitForSelector('[data-testid=passkey-status][data-code=approved]', { timeout: 10000 });
  assert.equal(await page.locator('[data-testid=approve]').count(), 0, 'nothing left to tap');
  await axeCheck(page, 'passkey-approved');
  await page.screenshot({ path: path.join(shots, 'passkey-3-approved.png'), fullPage: true });

  // The factor reached the session (the platform's API), and the request says approved.
  const after = await api('GET', `/v1/sessions/${sid}`);
  assert.equal(after.status, 200);
  assert.equal(after.body.decision.outcome, 'verified', JSON.stringify(after.body.decision));
  assert.equal(after.body.decision.assurance, 'multi_factor');
  assert.ok(JSON.stringify(after.body.decision.factors).includes('passkey'), JSON.stringify(after.body.decision.factors));
  const status = await api('GET', `/v1/sessions/${sid}/passkey-requests/${asked.body.request_id}`);
  assert.equal(status.body.status, 'approved');
  console.log(`passkey step-up: session ${sid} ${after.body.decision.outcome}, assurance ${after.body.decision.assurance}, amr ${JSON.stringify(after.body.decision.amr)}`);
  // The spent link cannot approve again.
  const again = await page.goto(link.url);
  assert.equal(again.status(), 410);
  await phone.close();
});

// The tenant's brand, set by a tenant admin in the console and shown on the customer pages at
// phone width: name, logo (from our own route) and colours (from our own stylesheet), under the
// pages' strict CSP; axe-core on every page, the console's refusal page included.
test('a tenant admin brands the customer pages: console, landing and camera page, privacy centre at 360 px', async () => {
  const NAME = 'Acme Retail & Co';
  const PRIMARY = '#0b5394'; // white text on it: 7.6:1
  const ACCENT = '#7a1f5c'; // on white: 10.2:1
  const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
  const logo = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" width="120" height="40">'
    + '<title>Acme</title><rect width="120" height="40" rx="6" fill="#0b5394"/>'
    + '<circle cx="20" cy="20" r="12" fill="#ffffff"/><path d="M40 28 L52 12 L64 28 Z" fill="#f2c230"/></svg>');

  const admin = await newContext();
  const page = await signIn(admin, '/console/acme/login', 'admin');
  await page.goto(`${base}/console/brand`);
  assert.ok(await page.isVisible('[data-testid=brand-form]'));
  await axeCheck(page, 'console-brand');
  // An unreadable pair is refused on the form's own page (accessible too), and nothing changes.
  await page.fill('#b-name', NAME);
  await page.fill('#b-primary', '#ffe600');
  await page.fill('#b-accent', ACCENT);
  await page.click('[data-testid=brand-save]');
  assert.equal(await page.getAttribute('[data-testid=brand-error]', 'data-reason'), 'contrast_too_low');
  await axeCheck(page, 'console-brand-refused');
  await page.screenshot({ path: path.join(shots, 'brand-console-refused.png'), fullPage: true });
  const unchanged = await (await fetch(`${base}/brand/acme/style.css`)).text();
  assert.match(unchanged, /--primary: #1f5fbf;/);
  // A script-carrying SVG is refused too.
  await page.fill('#b-primary', PRIMARY);
  await page.setInputFiles('#b-logo', { name: 'evil.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') });
  await page.click('[data-testid=brand-save]');
  assert.equal(await page.getAttribute('[data-testid=brand-error]', 'data-reason'), 'svg_not_allowed');
  // The real brand.
  await page.fill('#b-name', NAME);
  await page.fill('#b-primary', PRIMARY);
  await page.fill('#b-accent', ACCENT);
  await page.setInputFiles('#b-logo', { name: 'acme.svg', mimeType: 'image/svg+xml', buffer: logo });
  await page.click('[data-testid=brand-save]');
  assert.ok(await page.isVisible('[data-testid=brand-saved]'));
  assert.equal(await page.textContent('[data-testid=brand-preview] [data-testid=brand]'), NAME);
  assert.ok(await page.$eval('[data-testid=brand-preview] img', (i) => i.complete && i.naturalWidth > 0), 'logo in the preview');
  await axeCheck(page, 'console-brand-saved');
  await page.screenshot({ path: path.join(shots, 'brand-console.png'), fullPage: true });
  // The change is a staff action in the log, visible in the console's export.
  const actions = await page.request.get(`${base}/console/export.jsonl?kind=staff_action`);
  const changed = (await actions.text()).trim().split('\n').map((l) => JSON.parse(l).body)
    .filter((b) => b.action === 'brand_changed');
  assert.equal(changed.length, 1, JSON.stringify(changed));
  assert.equal(changed[0].actor, 'admin');
  assert.equal(changed[0].details.primary_color, PRIMARY);
  await admin.close();

  // What a customer's phone shows: name, a logo that loaded, the brand's colours in use.
  const branded = async (p, name) => {
    assert.equal((await p.textContent('header [data-testid=brand]')).trim(), NAME, name);
    assert.ok(await p.$eval('header img.logo', (i) => i.complete && i.naturalWidth > 0), `${name}: logo loaded`);
    const colours = await p.evaluate(() => ({
      button: getComputedStyle(document.querySelector('main button, main .button')).backgroundColor,
      name: getComputedStyle(document.querySelector('header [data-testid=brand]')).color,
    }));
    assert.deepEqual(colours, { button: rgb(PRIMARY), name: rgb(ACCENT) }, name);
  };
  const r = await api('POST', '/v1/sessions', { customer_ref: 'C-1001', channel: 'video' });
  assert.equal(r.status, 201, JSON.stringify(r));
  const sid = r.body.session_id;
  const asked = await api('POST', `/v1/sessions/${sid}/camera-consent-requests`);
  assert.equal(asked.status, 201, JSON.stringify(asked));
  const link = await delivered(asked.body.link_id);
  const code = await agentCode(sid, 'camera');
  const phone = await phoneContext();
  const cam = await phone.newPage();
  const landing = await cam.goto(link.url);
  assert.doesNotMatch(landing.headers()['content-security-policy'], /unsafe-inline/);
  await branded(cam, 'brand-landing');
  await phoneChecks(cam, 'brand-landing');
  await axeCheck(cam, 'brand-landing');
  await cam.screenshot({ path: path.join(shots, 'brand-landing.png'), fullPage: true });
  await cam.fill('[data-testid=code]', code);
  await cam.click('[data-testid=confirm]');
  await cam.waitForURL(/\/camera\//);
  await branded(cam, 'brand-camera-choice');
  await phoneChecks(cam, 'brand-camera-choice');
  await axeCheck(cam, 'brand-camera-choice');
  await cam.screenshot({ path: path.join(shots, 'brand-camera.png'), fullPage: true });
  await phone.close();

  const phone2 = await phoneContext();
  const privacy = await signIn(phone2, '/privacy/acme/login', 'carol');
  assert.equal(new URL(privacy.url()).pathname, '/privacy');
  await branded(privacy, 'brand-privacy-centre');
  const { scroll, width } = await privacy.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `privacy centre: ${scroll}px wide at ${width}px`);
  await axeCheck(privacy, 'brand-privacy-centre');
  await privacy.screenshot({ path: path.join(shots, 'brand-privacy-centre.png'), fullPage: true });
  await phone2.close();

  for (const [name, res] of Object.entries(axeResults)) if (name.includes('brand')) console.log(`axe-core ${name}: ${JSON.stringify(res)}`);
  writeFileSync(path.join(shots, 'axe-results.json'), `${JSON.stringify(axeResults, null, 2)}\n`);
});
