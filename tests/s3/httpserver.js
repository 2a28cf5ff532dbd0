// A static file server on 127.0.0.1 for the http(s):// source tests.
// usage: node httpserver.js --dir DIR --port-file F [--ranges yes|no] [--head yes|no] [--log F]
//   --ranges no   ignore Range headers (answer 200 with the whole file, no Accept-Ranges)
//   --head no     answer HEAD with 405 (the client must fall back to a GET)
// --log appends one JSON line per request (method, path, range).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const args = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
const ranges = args.ranges !== 'no';
const head = args.head !== 'no';

const server = http.createServer((req, res) => {
  const urlPath = decodeURIComponent(req.url.split('?')[0]);
  if (args.log) {
    fs.appendFileSync(args.log, JSON.stringify({ method: req.method, path: req.url,
      range: req.headers.range || null }) + '\n');
  }
  if (req.method === 'HEAD' && !head) {
    res.writeHead(405);
    res.end();
    return;
  }
  const file = path.join(args.dir, path.normalize(urlPath));
  if (!file.startsWith(path.resolve(args.dir)) || !fs.existsSync(file)) {
    res.writeHead(404, { 'Content-Length': 9 });
    res.end(req.method === 'HEAD' ? undefined : 'not found');
    return;
  }
  const data = fs.readFileSync(file);
  const headers = { 'Content-Type': 'application/octet-stream', ETag: '"v1"' };
  if (ranges) headers['Accept-Ranges'] = 'bytes';
  const m = ranges && req.headers.range && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
  if (m) {
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : data.length - 1, data.length - 1);
    if (start >= data.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
      res.end();
      return;
    }
    headers['Content-Range'] = `bytes ${start}-${end}/${data.length}`;
    headers['Content-Length'] = end - start + 1;
    res.writeHead(206, headers);
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
    return;
  }
  headers['Content-Length'] = data.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : data);
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(args['port-file'] + '.tmp', String(server.address().port));
  fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
