// The baseline: a bare node:http server answering a fixed 200, measured in the
// same run as Clickback so the ratio means something on any machine.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 8199);
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
