// Starts @20minutes/s3rver (an S3 server that checks SigV4 signatures) for Ember's
// integration tests: node s3rver.js <port> <directory> [log]. Listens on 127.0.0.1 only,
// with the bucket "profiles"; access key and secret are S3RVER / S3RVER. Prints
// "ready <port>" once it accepts connections and runs until killed. With "log", it also
// prints one line per request (method, path and query, status), so a test can see what
// the server received.
//
// Run it as `node --openssl-legacy-provider s3rver.js ...`: s3rver encrypts its
// ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) only offers with
// the legacy provider; without it every truncated listing answers 500 InternalError.
'use strict'
const crypto = require('node:crypto')
if (!crypto.getCiphers().includes('des-cbc')) {
  console.error('s3rver.js: DES is unavailable; run node with --openssl-legacy-provider')
  process.exit(2)
}
const S3rver = require('@20minutes/s3rver')

const port = Number(process.argv[2])
const directory = process.argv[3]
const log = process.argv[4] === 'log'
if (!port || !directory) {
  console.error('usage: node s3rver.js <port> <directory>')
  process.exit(2)
}
new S3rver({
  address: '127.0.0.1',
  port,
  directory,
  silent: !log,
  configureBuckets: [{ name: 'profiles' }],
})
  .run()
  .then(() => console.log(`ready ${port}`))
  .catch((err) => {
    console.error(`s3rver failed: ${err.stack || err}`)
    process.exit(1)
  })
