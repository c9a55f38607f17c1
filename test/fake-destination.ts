// A local HTTP server standing in for Facebook, a tracker or a bot: it keeps
// every request it receives and answers as the test scripts it to.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The status this request was answered with; null when it was left hanging. */
  status: number | null;
}

/** How to answer one request: a status and body, a delay first, or never. */
export type Answer = { status: number; body?: string; delayMs?: number } | 'hang';

export interface FakeDestination {
  url: string;
  port: number;
  received: Received[];
  /** Answers for the next requests, in order; after them, `fallback`. */
  script: Answer[];
  fallback: Answer;
  /** Answers by what a request carries, before the script; null: the script answers. */
  decide: ((body: string) => Answer | null) | null;
  /** Most requests seen at once. */
  maxConcurrent: number;
  json(index: number): Record<string, unknown>;
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function fakeDestination(port = 0): Promise<FakeDestination> {
  let inFlight = 0;
  const hanging = new Set<() => void>();
  const fake = {
    url: '',
    port: 0,
    received: [] as Received[],
    script: [] as Answer[],
    fallback: { status: 200, body: '{"events_received":1}' } as Answer,
    decide: null as ((body: string) => Answer | null) | null,
    maxConcurrent: 0,
    json(index: number) {
      const r = fake.received[index];
      if (!r) throw new Error(`no request #${index}; got ${fake.received.length}`);
      return JSON.parse(r.body) as Record<string, unknown>;
    },
    async waitFor(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (fake.received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} requests, got ${fake.received.length}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = fake.decide?.(body) ?? fake.script.shift() ?? fake.fallback;
      fake.received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: Date.now(),
        status: answer === 'hang' ? null : answer.status,
      });
      inFlight++;
      fake.maxConcurrent = Math.max(fake.maxConcurrent, inFlight);
      if (answer === 'hang') {
        const release = () => {
          inFlight--;
          res.destroy();
        };
        hanging.add(release);
        res.on('close', () => hanging.delete(release));
        return;
      }
      setTimeout(() => {
        inFlight--;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body ?? '{}');
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${fake.port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const release of hanging) release();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
