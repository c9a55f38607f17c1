// A TCP proxy in front of the real PostgreSQL, for tests that take the
// database away from a running server and give it back: `refuse` is a server
// that is down (its port closed, every connection cut), `blackhole` one that
// cannot be reached (connections cut, new ones accepted and never answered),
// `stall` a network that stops carrying anything, open connections included
// (nothing is cut: bytes just stop, both ways), `pass` the database back. A
// connection stalled stays so for good, as when a firewall or NAT has
// forgotten it; the database learns it is gone (and rolls back what it had
// open) only when the client closes it.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'stall';

export class PgProxy {
  private listener: Server | null = null;
  private readonly open = new Set<Socket>();
  /** Client and database ends of each connection passed through. */
  private readonly pairs = new Set<[Socket, Socket]>();
  mode: ProxyMode = 'pass';
  /** Connections accepted so far, in every mode. */
  accepted = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** Listens on a free port and passes everything to `targetUrl`'s host and port. */
  static async start(targetUrl: string): Promise<PgProxy> {
    const url = new URL(targetUrl);
    const target = { host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) };
    const probe = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        resolve((probe.address() as { port: number }).port);
      });
    });
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new PgProxy(target, port);
    await proxy.listen();
    return proxy;
  }

  /** `targetUrl` with its host and port replaced by the proxy's. */
  url(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  private listen(): Promise<void> {
    const listener = createServer((client) => this.accept(client));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private accept(client: Socket): void {
    this.accepted++;
    this.track(client);
    // Unreachable: the connection is taken and nothing ever comes back.
    if (this.mode === 'blackhole' || this.mode === 'stall') return;
    const upstream = tcpConnect(this.target.port, this.target.host);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const cut = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut);
    upstream.on('close', cut);
  }

  private track(socket: Socket): void {
    this.open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.open.delete(socket));
  }

  private cutAll(): void {
    for (const socket of this.open) socket.destroy();
  }

  async set(mode: ProxyMode): Promise<void> {
    if (mode === this.mode) return;
    this.mode = mode;
    if (mode === 'stall') {
      for (const [client, upstream] of this.pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      return;
    }
    if (mode === 'refuse') {
      const listener = this.listener;
      this.listener = null;
      this.cutAll();
      await new Promise((resolve) => listener?.close(resolve));
      return;
    }
    // A database that goes away takes its connections with it.
    if (mode === 'blackhole') this.cutAll();
    if (!this.listener) await this.listen();
  }

  async close(): Promise<void> {
    this.cutAll();
    const listener = this.listener;
    this.listener = null;
    await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
  }
}
