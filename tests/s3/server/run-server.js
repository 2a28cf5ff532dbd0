// Starts @20minutes/s3rver (verifies SigV4; default credentials S3RVER/S3RVER) on 127.0.0.1.
// usage: node run-server.js DATA_DIR PORT PORT_FILE [BUCKET...]   (PORT 0 = any free port)
// Writes the bound port to PORT_FILE once the server is ready.
'use strict';
const fs = require('fs');
const S3rver = require('@20minutes/s3rver');

const [dir, port, portFile, ...buckets] = process.argv.slice(2);
if (!dir || port === undefined || !portFile) {
  console.error('usage: node run-server.js DATA_DIR PORT PORT_FILE [BUCKET...]');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory: dir,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
server.run((err, addr) => {
  if (err) {
    console.error('s3rver failed to start:', err.message);
    process.exit(1);
  }
  fs.writeFileSync(portFile + '.tmp', String(addr.port));
  fs.renameSync(portFile + '.tmp', portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
