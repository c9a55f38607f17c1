// The outbound HTTP client: private addresses refused before any connection
// (literal or resolved), a hard timeout, and a bounded response body. Local
// node:http servers stand in for destinations and count what reaches them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import {
  checkPublicUrl,
  isPrivateAddress,
  type OutboundRequest,
  PrivateAddressError,
  RESPONSE_LIMIT,
  send,
} from '../../src/forwarders/outbound-http.js';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A local server; `connections` counts TCP connections, not only requests. */
async function localServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) =>
    res.end('ok'),
  host = '127.0.0.1',
) {
  const received: Received[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      handler(req, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function request(url: string, patch: Partial<OutboundRequest> = {}): OutboundRequest {
  return {
    method: 'GET',
    url,
    headers: {},
    body: null,
    timeoutMs: 2_000,
    allowPrivate: false,
    ...patch,
  };
}

describe('isPrivateAddress', () => {
  const table: Array<[string, boolean]> = [
    // IPv4: loopback, private, link-local, CGNAT, "this network", multicast, reserved
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['0.0.0.0', true],
    ['0.1.2.3', true],
    ['192.0.0.8', true],
    ['198.18.0.1', true],
    ['198.19.255.255', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['240.0.0.1', true],
    ['255.255.255.255', true],
    // IPv4: public, including neighbours of the blocked ranges
    ['8.8.8.8', false],
    ['1.1.1.1', false],
    ['203.0.113.9', false],
    ['172.15.255.255', false],
    ['172.32.0.1', false],
    ['100.63.255.255', false],
    ['100.128.0.1', false],
    ['11.0.0.1', false],
    ['126.255.255.255', false],
    ['128.0.0.1', false],
    ['169.253.255.255', false],
    ['192.167.255.255', false],
    ['192.169.0.1', false],
    ['198.20.0.1', false],
    ['223.255.255.255', false],
    // IPv6
    ['::1', true],
    ['::', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fe80::1', true],
    ['febf::1', true],
    ['ff02::1', true],
    ['64:ff9b::7f00:1', true],
    ['2001:4860:4860::8888', false],
    ['2606:4700:4700::1111', false],
    ['2a00:1450:4001::1', false],
    ['fec0::1', false],
    // IPv4-mapped IPv6, dotted and hex (WHATWG URLs normalise to hex)
    ['::ffff:127.0.0.1', true],
    ['::FFFF:10.1.2.3', true],
    ['::ffff:169.254.169.254', true],
    ['::ffff:7f00:1', true],
    ['::ffff:c0a8:101', true],
    ['::ffff:8.8.8.8', false],
    ['::ffff:808:808', false],
    // not addresses at all
    ['localhost', false],
    ['example.com', false],
    ['', false],
    ['127.0.0.256', false],
  ];
  for (const [address, expected] of table) {
    test(`${address || '(empty)'} → ${expected}`, () => {
      assert.equal(isPrivateAddress(address), expected);
    });
  }
});

describe('checkPublicUrl', () => {
  test('literal and resolved private hosts are refused', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'https://10.0.0.1:8443/hook',
      'http://[::1]:8080/',
      'http://[::ffff:192.168.0.1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://localhost:3000/x',
    ]) {
      const error = await checkPublicUrl(url);
      assert.ok(error instanceof PrivateAddressError, url);
      assert.equal(error.code, 'private_address');
    }
  });

  test('public addresses pass; a name that does not resolve now passes too', async () => {
    assert.equal(await checkPublicUrl('https://8.8.8.8/hook'), null);
    assert.equal(await checkPublicUrl('https://[2001:4860:4860::8888]/hook'), null);
    assert.equal(await checkPublicUrl('https://no-such-host.invalid/hook'), null);
  });
});

describe('send', () => {
  test('allowPrivate: reaches a local server with method, headers and body', async () => {
    const server = await localServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    try {
      const body = JSON.stringify({ value: 'ключ' });
      const response = await send(
        request(`http://127.0.0.1:${server.port}/hook?a=1`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': 'cb-cv-1' },
          body,
          allowPrivate: true,
        }),
      );
      assert.deepEqual(
        { ...response, durationMs: 0 },
        { status: 201, body: '{"ok":true}', error: null, privateAddress: false, durationMs: 0 },
      );
      assert.ok(response.durationMs >= 0);
      const got = server.received[0];
      assert.equal(server.received.length, 1);
      assert.equal(got?.method, 'POST');
      assert.equal(got?.url, '/hook?a=1');
      assert.equal(got?.body, body);
      assert.equal(got?.headers['content-length'], String(Buffer.byteLength(body)));
      assert.equal(got?.headers['user-agent'], 'Clickback');
      assert.equal(got?.headers['idempotency-key'], 'cb-cv-1');
    } finally {
      await server.close();
    }
  });

  test('allowPrivate: a non-2xx answer is returned as it is', async () => {
    const server = await localServer((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    try {
      const response = await send(
        request(`http://localhost:${server.port}/`, { allowPrivate: true }),
      );
      assert.equal(response.status, 503);
      assert.equal(response.body, 'busy');
      assert.equal(response.error, null);
    } finally {
      await server.close();
    }
  });

  test('refuses literal private addresses without connecting', async () => {
    const server = await localServer();
    const v6 = await localServer(undefined, '::1').catch(() => null);
    try {
      const urls = [
        `http://127.0.0.1:${server.port}/`,
        `http://2130706433:${server.port}/`,
        `http://127.1:${server.port}/`,
        `http://[::ffff:127.0.0.1]:${server.port}/`,
      ];
      if (v6) urls.push(`http://[::1]:${v6.port}/`);
      for (const url of urls) {
        const response = await send(request(url, { method: 'POST', body: '{}' }));
        assert.equal(response.status, null, url);
        assert.equal(response.privateAddress, true, url);
        assert.match(response.error ?? '', /private or loopback/, url);
      }
      assert.equal(server.connections(), 0);
      assert.equal(v6?.connections() ?? 0, 0);
    } finally {
      await server.close();
      await v6?.close();
    }
  });

  test('refuses a name that resolves to a private address (the DNS lookup hook)', async () => {
    const server = await localServer();
    try {
      const response = await send(request(`http://localhost:${server.port}/`));
      assert.equal(response.status, null);
      assert.equal(response.privateAddress, true);
      assert.match(response.error ?? '', /localhost resolves to .*private or loopback/);
      assert.equal(server.connections(), 0);
      assert.equal(server.received.length, 0);
    } finally {
      await server.close();
    }
  });

  test('a kept-alive connection from an allowed request does not let a refused one through', async () => {
    // The agents keep sockets alive per host:port. A socket opened for a request
    // that may reach private addresses (the Graph URL) must not carry one that may not.
    const server = await localServer();
    try {
      const allowed = await send(
        request(`http://localhost:${server.port}/graph`, { allowPrivate: true }),
      );
      assert.equal(allowed.status, 200);
      const refused = await send(request(`http://localhost:${server.port}/webhook`));
      assert.deepEqual(
        server.received.map((r) => r.url),
        ['/graph'],
        'the refused request reached the private server',
      );
      assert.equal(refused.status, null);
      assert.equal(refused.privateAddress, true);
    } finally {
      await server.close();
    }
  });

  test('a destination that never answers times out: status null, the timeout named', async () => {
    const server = await localServer(() => {
      // never answers
    });
    try {
      const started = Date.now();
      const response = await send(
        request(`http://127.0.0.1:${server.port}/slow`, { allowPrivate: true, timeoutMs: 150 }),
      );
      assert.equal(response.status, null);
      assert.equal(response.body, null);
      assert.equal(response.privateAddress, false);
      assert.match(response.error ?? '', /no answer within 150 ms/);
      const took = Date.now() - started;
      assert.ok(took >= 140 && took < 2_000, `took ${took} ms`);
    } finally {
      await server.close();
    }
  });

  test('a refused connection is an error without a status, not a private address', async () => {
    const server = await localServer();
    const port = server.port;
    await server.close();
    const response = await send(request(`http://127.0.0.1:${port}/`, { allowPrivate: true }));
    assert.equal(response.status, null);
    assert.equal(response.privateAddress, false);
    assert.match(response.error ?? '', /ECONNREFUSED/);
  });

  test('the response body is cut to RESPONSE_LIMIT bytes', async () => {
    assert.equal(RESPONSE_LIMIT, 4096);
    const server = await localServer((_req, res) => {
      res.write('a'.repeat(1000));
      res.write('b'.repeat(5000));
      res.end('c'.repeat(10_000));
    });
    try {
      const response = await send(
        request(`http://127.0.0.1:${server.port}/`, { allowPrivate: true }),
      );
      assert.equal(response.status, 200);
      assert.equal(response.body, `${'a'.repeat(1000)}${'b'.repeat(RESPONSE_LIMIT - 1000)}`);
    } finally {
      await server.close();
    }
  });

  test('an invalid URL is answered, not thrown', async () => {
    const response = await send(request('not a url'));
    assert.equal(response.status, null);
    assert.equal(response.error, 'invalid URL');
    assert.equal(response.privateAddress, false);
  });
});
