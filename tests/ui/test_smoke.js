// Smoke test: the page loads from the binary with no console or page errors, its assets come
// back 200, and a profile type picker is filled with exactly what the API's ProfileTypes lists.
'use strict';
const assert = require('assert');

module.exports = async function smoke({ page, baseURL, data, consoleErrors, pageErrors, screenshot, server }) {
  assert.ok(data.profileTypes.length >= 5, `the loaded data has profile types (${data.profileTypes.length})`);
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  page.on('requestfailed', (r) => failed.push(`failed ${r.url()}: ${r.failure() && r.failure().errorText}`));

  const resp = await page.goto(baseURL, { waitUntil: 'load' });
  assert.strictEqual(resp.status(), 200, 'GET / answers 200');
  assert.match(resp.headers()['content-type'] || '', /^text\/html/);

  // Some <select> on the page offers every profile type the API knows (as option values).
  const ids = data.profileTypes;
  await page.waitForFunction((want) => [...document.querySelectorAll('select')].some((s) => {
    const vals = new Set([...s.options].map((o) => o.value));
    return want.every((id) => vals.has(id));
  }), ids, { timeout: 30000 });
  const picker = await page.evaluate((want) => {
    const s = [...document.querySelectorAll('select')].find((x) => want.every((id) => [...x.options].some((o) => o.value === id)));
    return { id: s.id, values: [...s.options].map((o) => o.value).filter(Boolean), visible: !!(s.offsetWidth || s.offsetHeight) };
  }, ids);
  assert.ok(picker.visible, `the profile type picker #${picker.id} is visible`);
  assert.deepStrictEqual([...new Set(picker.values)].sort(), [...ids].sort(), 'the picker lists exactly the API profile types');

  // Let queries the page starts on load settle, then check nothing went wrong.
  await page.waitForLoadState('networkidle', { timeout: 30000 }).catch(() => {});
  await screenshot('loaded');
  assert.deepStrictEqual(pageErrors, [], 'no uncaught page errors');
  assert.deepStrictEqual(consoleErrors, [], 'no console errors');
  assert.deepStrictEqual(failed, [], 'no failed requests');

  // The page came from the binary: its asset URLs carry the build's version segment.
  const scripts = await page.evaluate(() => [...document.querySelectorAll('script[src],link[href]')].map((e) => e.src || e.href));
  assert.ok(scripts.some((u) => /\/ui\/v-[0-9a-f]{16}\//.test(u)), `versioned asset URLs (${scripts.join(', ')})`);
  const r = await server.request(new URL(scripts.find((u) => /\.js$/.test(u))).pathname);
  assert.strictEqual(r.status, 200);
  assert.match(r.headers['cache-control'], /max-age=31536000/);
};
