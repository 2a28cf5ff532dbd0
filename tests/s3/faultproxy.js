// A fault-injecting HTTP proxy for the S3 tests, listening on 127.0.0.1 only.
// usage: node faultproxy.js --target 127.0.0.1:PORT --port-file F [--mode M] [--count N] [--log F]
// Modes:
//   pass       forward everything
//   drop       for the first N ranged GETs, send the headers and half of the body, then reset
//   slowdown   answer the first N requests with 503 SlowDown
//   always503  answer every request with 503 SlowDown
//   failafter  forward the first N requests, answer every later one with 503 SlowDown
//   dropevery  like drop, but every second ranged GET, N times at most (so the drops land on the
//              reads of every rank, not on one request)
// --log appends one JSON line per request: method, path, Range header, the fault ('503', 'drop'
// or null), and the x-amz-server-side-encryption* headers (never Authorization or other
// credentials).
'use strict';
const fs = require('fs');
const http = require('http');

const args = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
if (!args.target || !args['port-file']) {
  console.error('usage: node faultproxy.js --target HOST:PORT --port-file F [--mode M] [--count N] [--log F]');
  process.exit(2);
}
const [thost, tport] = args.target.split(':');
if (thost !== '127.0.0.1' && thost !== 'localhost' && thost !== '::1') {
  console.error('faultproxy: only loopback targets are allowed');
  process.exit(2);
}
const mode = args.mode || 'pass';
let remaining = Number(args.count || 0);
let ranged = 0; /* ranged GETs seen (dropevery) */

function log(entry) {
  if (args.log) fs.appendFileSync(args.log, JSON.stringify(entry) + '\n');
}

function slowdown(req, res) {
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
    '<Message>Please reduce your request rate.</Message></Error>';
  res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const server = http.createServer((req, res) => {
  const entry = {
    method: req.method,
    path: req.url,
    range: req.headers.range || null,
    sse: req.headers['x-amz-server-side-encryption'] || null,
    sse_kms_key_id: req.headers['x-amz-server-side-encryption-aws-kms-key-id'] || null,
    fault: null,
  };
  const failAfter = mode === 'failafter' && remaining-- <= 0;
  if (mode === 'always503' || failAfter || (mode === 'slowdown' && remaining > 0)) {
    if (mode === 'slowdown') remaining--;
    entry.fault = '503';
    log(entry);
    req.resume();
    req.on('end', () => slowdown(req, res));
    return;
  }
  const rangedGet = req.method === 'GET' && req.headers.range;
  if (mode === 'dropevery' && rangedGet) ranged++;
  const dropThis = (mode === 'drop' || (mode === 'dropevery' && ranged % 2 === 0)) &&
    remaining > 0 && rangedGet;
  if (dropThis) {
    remaining--;
    entry.fault = 'drop';
  }
  log(entry);
  const up = http.request(
    { host: thost, port: Number(tport), method: req.method, path: req.url, headers: req.headers },
    (ures) => {
      if (!dropThis) {
        res.writeHead(ures.statusCode, ures.headers);
        ures.pipe(res);
        return;
      }
      const chunks = [];
      ures.on('data', (c) => chunks.push(c));
      ures.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(ures.statusCode, ures.headers);
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
          setTimeout(() => res.socket.destroy(), 20);
        });
      });
    });
  up.on('error', (e) => {
    res.writeHead(502);
    res.end(String(e.message));
  });
  req.pipe(up);
});
server.keepAliveTimeout = 1000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
  fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
