#!/usr/bin/env node
// Browser tests of Ember's web UI: starts a real `ember server` ($EMBER_BIN) on a free
// 127.0.0.1 port with a fresh data dir, loads real profiles from the shared test data
// (Go runtime/pprof, the Node.js SDK's captures, perf folded stacks) spread over the last
// hour, launches Debian's Chromium through playwright-core (never a downloaded browser),
// and runs every tests/ui/test_*.js in its own browser context.
//
//   node tests/ui/run.js [--bench] [test_x.js ...]
//
// A test module exports `async function (t)` with t = {page, context, browser, baseURL,
// outDir, server, data, screenshot(name), consoleErrors, pageErrors, bench, log}; it fails
// by throwing. Lines a test prints that look like "ui render 10000 nodes: 12.3 ms" are
// collected; with --bench they are appended to bench/RESULTS.md. Screenshots and logs go
// to $EMBER_TEST_OUT/ui (or a temp dir). The server and the browser this starts are always
// stopped, by pid. Exit status: 0 when every test passed.
'use strict';
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawn, execFileSync } = require('child_process');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '../..');
const EMBER = process.env.EMBER_BIN || path.join(ROOT, 'build/ember');
const TESTDATA = process.env.EMBER_TESTDATA || path.resolve(ROOT, '../shared/testdata');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TEST_TIMEOUT_MS = Number(process.env.UI_TEST_TIMEOUT_MS || 180000);
const BENCH_RE = /^ui render \d+ nodes: [\d.]+ ms\b.*$/;

const argv = process.argv.slice(2);
const BENCH = argv.includes('--bench');
const only = argv.filter((a) => !a.startsWith('--'));
const outRoot = process.env.EMBER_TEST_OUT || fs.mkdtempSync(path.join(os.tmpdir(), 'ember-ui-'));
const OUT = path.join(outRoot, 'ui');
fs.mkdirSync(OUT, { recursive: true });

let serverProc = null;
let browserServer = null;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function request(url, { method = 'GET', body = null, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(60000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body) req.write(body);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- pprof: rewrite time_nanos (field 9) so that a real profile lands at a chosen time ----

function readVarint(buf, pos) {
  let v = 0n, shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

function varint(v) {
  v = BigInt(v);
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

/** The gzipped pprof `gz` with time_nanos = tNs and duration_nanos = durNs (top-level fields
 * 9 and 10 replaced; everything else copied byte for byte). */
function pprofAt(gz, tNs, durNs) {
  const p = zlib.gunzipSync(gz);
  const parts = [];
  let pos = 0;
  while (pos < p.length) {
    const start = pos;
    let key;
    [key, pos] = readVarint(p, pos);
    const field = Number(key >> 3n), wt = Number(key & 7n);
    if (wt === 0) [, pos] = readVarint(p, pos);
    else if (wt === 1) pos += 8;
    else if (wt === 5) pos += 4;
    else if (wt === 2) { let n; [n, pos] = readVarint(p, pos); pos += Number(n); }
    else throw new Error(`pprof: wire type ${wt}`);
    if (field !== 9 && field !== 10) parts.push(p.subarray(start, pos));
  }
  parts.push(Buffer.from([9 << 3]), varint(tNs), Buffer.from([10 << 3]), varint(durNs));
  return zlib.gzipSync(Buffer.concat(parts));
}

// ---- the server -----------------------------------------------------------------------

async function startServer() {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(OUT, 'data-'));
  const logPath = path.join(OUT, 'server.log');
  const log = fs.openSync(logPath, 'w');
  const args = ['server', '-server.http-listen-address=127.0.0.1', `-server.http-listen-port=${port}`,
    `-storage.filesystem.dir=${dataDir}`, '-validation.reject-older-than=0',
    '-querier.max-query-lookback=0', '-querier.max-query-length=0'];
  serverProc = spawn(EMBER, args, { stdio: ['ignore', log, log], cwd: dataDir });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (serverProc.exitCode !== null) throw new Error(`ember server exited (${serverProc.exitCode}); see ${logPath}`);
    try {
      if ((await request(url + '/ready')).status === 200) break;
    } catch (_) { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('ember server did not become ready');
    await sleep(50);
  }
  const server = {
    url, port, dataDir, logPath, pid: serverProc.pid,
    async ingest(query, body, contentType = 'application/octet-stream') {
      const r = await request(`${url}/ingest?${query}`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
      if (r.status !== 200) throw new Error(`ingest ${query.slice(0, 120)}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      return r;
    },
    async connect(method, msg, service = 'querier.v1.QuerierService') {
      const r = await request(`${url}/${service}/${method}`, {
        method: 'POST', body: JSON.stringify(msg), headers: { 'Content-Type': 'application/json' },
      });
      if (r.status !== 200) throw new Error(`${method}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      return JSON.parse(r.body.toString() || '{}');
    },
    request: (p, opts) => request(url + p, opts),
  };
  return server;
}

async function stopServer() {
  const p = serverProc;
  serverProc = null;
  if (!p || p.exitCode !== null) return p ? p.exitCode : null;
  const exited = new Promise((r) => p.once('exit', (code, sig) => r(code === null ? sig : code)));
  process.kill(p.pid, 'SIGTERM');
  const rc = await Promise.race([exited, sleep(30000).then(() => 'timeout')]);
  if (rc === 'timeout') { try { process.kill(p.pid, 'SIGKILL'); } catch (_) { /* gone */ } return 'killed'; }
  return rc;
}

/** Real profiles over the last hour: what the tests can count on (returned as `data`). */
async function loadProfiles(server) {
  const now = Date.now();
  const nowS = Math.floor(now / 1000);
  const services = ['shop-api', 'shop-worker', 'billing'];
  const go = (f) => fs.readFileSync(path.join(TESTDATA, 'go', f));
  const cpu = [0, 1, 2, 3].map((i) => go(`svc-cpu-${i}.pb.gz`));
  let requests = 0;
  // Go CPU: every 5 minutes over the last hour, each service, rotating the four captures.
  for (let k = 0; k < 12; k++) {
    for (let s = 0; s < services.length; s++) {
      const t = nowS - 3600 + 150 + k * 300 + s * 7;
      const body = pprofAt(cpu[(k + s) % 4], BigInt(t) * 1000000000n, 3000000000n);
      const name = encodeURIComponent(`${services[s]}{env=test,region=${s % 2 ? 'us' : 'eu'}}`);
      await server.ingest(`name=${name}&from=${t}&until=${t + 3}&format=pprof&spyName=gospy`, body);
      requests++;
    }
  }
  // The other Go profile types, a few times for each service.
  for (const f of ['svc-heap.pb.gz', 'svc-allocs.pb.gz', 'svc-mutex.pb.gz', 'svc-block.pb.gz', 'svc-goroutine.pb.gz']) {
    for (let s = 0; s < services.length; s++) {
      for (const ago of [3000, 1800, 600]) {
        const t = nowS - ago - s * 11;
        const name = encodeURIComponent(`${services[s]}{env=test,region=${s % 2 ? 'us' : 'eu'}}`);
        await server.ingest(`name=${name}&from=${t}&until=${t + 10}&format=pprof&spyName=gospy`,
          pprofAt(go(f), BigInt(t) * 1000000000n, 10000000000n));
        requests++;
      }
    }
  }
  // The Node.js SDK's exact requests, moved into the last hour (same name and parameters).
  const tsv = fs.readFileSync(path.join(TESTDATA, 'nodejs', 'requests.tsv'), 'utf8').trim().split('\n');
  for (const [i, line] of tsv.entries()) {
    const [file, method, url, ctype] = line.split('\t');
    const body = fs.readFileSync(path.join(TESTDATA, 'nodejs', file));
    for (const ago of [2400, 1200, 300]) {
      const t = nowS - ago + i * 3;
      const q = new URLSearchParams(url.split('?')[1]);
      q.set('from', String(t));
      q.set('until', String(t + 3));
      const r = await server.request(`/ingest?${q}`, {
        method, body: pprofAt(body, BigInt(t) * 1000000000n, 3000000000n), headers: { 'Content-Type': ctype },
      });
      if (r.status !== 200) throw new Error(`nodejs ${file}: ${r.status} ${r.body}`);
      requests++;
    }
  }
  // perf folded stacks of a C program, every 10 minutes.
  const folded = fs.readFileSync(path.join(TESTDATA, 'perf', 'workload.folded'));
  for (let k = 0; k < 6; k++) {
    const t = nowS - 3300 + k * 600;
    await server.ingest(`name=${encodeURIComponent('perf-workload{env=test}')}&from=${t}&until=${t + 10}&sampleRate=499`,
      folded, 'text/plain');
    requests++;
  }
  const types = await server.connect('ProfileTypes', { start: String(now - 2 * 3600000), end: String(now + 60000) });
  return {
    requests, services: [...services, 'nodeapp', 'perf-workload'],
    from: now - 3600000, until: now,
    profileTypes: (types.profileTypes || []).map((t) => t.ID),
  };
}

// ---- the browser ----------------------------------------------------------------------

async function startBrowser() {
  const { chromium } = require('playwright-core');
  // launchServer makes a fresh temporary --user-data-dir itself (and removes it on close),
  // and gives us the browser's pid.
  browserServer = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const browser = await chromium.connect(browserServer.wsEndpoint());
  return browser;
}

async function stopBrowser(browser) {
  const bs = browserServer;
  browserServer = null;
  if (!bs) return;
  const pid = bs.process() ? bs.process().pid : null;
  try { if (browser) await Promise.race([browser.close(), sleep(10000)]); } catch (_) { /* closing */ }
  try { await Promise.race([bs.close(), sleep(10000)]); } catch (_) { /* closing */ }
  if (pid) { try { process.kill(pid, 0); process.kill(pid, 'SIGKILL'); } catch (_) { /* gone */ } }
}

// ---- running tests --------------------------------------------------------------------

function recordBench(lines) {
  if (!lines.length) return;
  let rev = 'unknown';
  try { rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(); } catch (_) { /* no git */ }
  const date = new Date().toISOString().slice(0, 10);
  const rows = lines.map((l) => `| ${date} | ${rev} | ${os.hostname()} (${os.cpus().length} cpu) | ${l} (Chromium ${CHROMIUM_VERSION}) |\n`);
  fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), rows.join(''));
}

let CHROMIUM_VERSION = '?';

async function runOne(file, browser, server, data, benchLines) {
  const name = path.basename(file, '.js');
  const testOut = path.join(OUT, name);
  fs.mkdirSync(testOut, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [], pageErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
    // A bench line may also be printed by the page itself (console.log in the browser).
    else if (BENCH_RE.test(m.text().trim())) console.log(m.text().trim());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e && e.stack || e)));
  let shot = 0;
  const t = {
    page, context, browser, baseURL: server.url + '/', outDir: testOut, server, data, bench: BENCH,
    consoleErrors, pageErrors,
    screenshot: async (label) => {
      const p = path.join(testOut, `${String(++shot).padStart(2, '0')}-${label}.png`);
      await page.screenshot({ path: p, fullPage: true });
      return p;
    },
    log: (...a) => console.log(`    ${name}:`, ...a),
  };
  // Collect benchmark lines the test prints.
  const origLog = console.log;
  console.log = (...a) => {
    const line = a.map(String).join(' ');
    if (BENCH_RE.test(line.trim())) benchLines.push(line.trim());
    origLog(...a);
  };
  const started = Date.now();
  let err = null;
  try {
    const mod = require(file);
    const fn = typeof mod === 'function' ? mod : mod.run || mod.default;
    if (typeof fn !== 'function') throw new Error('the module exports no test function');
    let timer;
    await Promise.race([fn(t), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS); })])
      .finally(() => clearTimeout(timer));
  } catch (e) {
    err = e;
    try { await page.screenshot({ path: path.join(testOut, 'failure.png'), fullPage: true }); } catch (_) { /* page gone */ }
  } finally {
    console.log = origLog;
    await context.close().catch(() => {});
  }
  return { name, err, ms: Date.now() - started };
}

async function main() {
  const files = fs.readdirSync(HERE).filter((f) => /^test_.*\.js$/.test(f))
    .filter((f) => !only.length || only.some((o) => path.basename(o) === f || path.basename(o) === f.replace(/\.js$/, '')))
    .sort().map((f) => path.join(HERE, f));
  if (!files.length) throw new Error('no tests/ui/test_*.js to run');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/install-deps.sh (Debian's chromium)`);
  try { CHROMIUM_VERSION = execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().replace(/^Chromium\s+/, '').split(' ')[0]; } catch (_) { /* keep ? */ }
  console.log(`ui: ember ${EMBER}, chromium ${CHROMIUM_VERSION}, output in ${OUT}`);
  const server = await startServer();
  const t0 = Date.now();
  const data = await loadProfiles(server);
  console.log(`ui: loaded ${data.requests} ingest requests (${data.profileTypes.length} profile types) in ${Date.now() - t0} ms`);
  const browser = await startBrowser();
  const results = [];
  const benchLines = [];
  for (const f of files) {
    const r = await runOne(f, browser, server, data, benchLines);
    results.push(r);
    console.log(`${r.err ? 'FAIL' : 'ok  '} ${r.name} (${r.ms} ms)${r.err ? ': ' + (r.err.stack || r.err) : ''}`);
  }
  await stopBrowser(browser);
  const rc = await stopServer();
  const serverLog = fs.readFileSync(server.logPath, 'utf8');
  if (/ERROR: (Address|Leak|Undefined|Thread)Sanitizer|runtime error:/.test(serverLog)) {
    results.push({ name: 'server sanitizer report', err: new Error(`see ${server.logPath}`) });
    console.log(`FAIL sanitizer report in ${server.logPath}`);
  }
  if (rc !== 0) console.log(`ui: note: ember server exit status ${rc}`);
  if (BENCH) recordBench(benchLines);
  for (const l of benchLines) console.log(`ui: bench: ${l}`);
  const failed = results.filter((r) => r.err).length;
  console.log(`ui: ${results.length - failed}/${results.length} passed; screenshots in ${OUT}`);
  return failed ? 1 : 0;
}

async function cleanup() {
  await stopBrowser(null).catch(() => {});
  await stopServer().catch(() => {});
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { cleanup().finally(() => process.exit(130)); });
}

main().then(async (rc) => { await cleanup(); process.exit(rc); },
  async (e) => { console.error(`ui: ${e.stack || e}`); await cleanup(); process.exit(1); });
