// Runs the real Pyroscope Node.js SDK against an Ember server for a few seconds of busy
// work, then stops it (which flushes). Usage: node push.js <serverAddress> <seconds> [tenant]
const Pyroscope = require('@pyroscope/nodejs');
const crypto = require('crypto');

const [server, seconds, tenant] = [process.argv[2], Number(process.argv[3] || 4), process.argv[4]];
Pyroscope.init({
  serverAddress: server,
  appName: 'nodeapp',
  tags: { env: 'integ' },
  flushIntervalMs: 2000,
  tenantID: tenant,
  wall: { samplingDurationMs: 2000 },
});
Pyroscope.start();

function hashLoop(ms) {
  const end = Date.now() + ms;
  let h = Buffer.alloc(32);
  const keep = [];
  while (Date.now() < end) {
    h = crypto.createHash('sha256').update(h).digest();
    if (keep.length < 5000) keep.push(Buffer.from(h));
  }
  return keep.length;
}

const until = Date.now() + seconds * 1000;
function tick() {
  hashLoop(50);
  if (Date.now() < until) setTimeout(tick, 5);
  else Pyroscope.stop().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
tick();
