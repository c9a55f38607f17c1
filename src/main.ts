// The process: configuration, store, server, graceful shutdown.
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { keepTickShape } from './keep-tick-shape.js';
import { openStore } from './store/open-store.js';

/**
 * On a stop, a request still arriving after this long, with no other request
 * being answered, is cut off: a client that stalls mid-request must not hold
 * the stop open. Nothing was answered, so nothing acknowledged is lost; the
 * network sends it again.
 */
const UNFINISHED_REQUEST_GRACE_MS = 3_000;
/** The longest a stop waits, at least: a write waiting on a database lock gets its answer first. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  keepTickShape();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`clickback: bad configuration: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const store = await openStore(config);
  const app = await buildApp({ config, store, logger: { level: config.logLevel } });
  await app.listen({ port: config.port, host: config.host });
  // Request schemas not needed yet compile a second later, in the background:
  // the first requests after a restart (networks retrying) come first.
  const compileLater = setTimeout(() => {
    app.validators.compileRest().catch((error: unknown) => {
      app.log.error({ err: error }, 'a request schema does not compile');
    });
  }, 1000);
  compileLater.unref();
  // Attempts cut off by a previous stop are picked up again (same event ids).
  const freed = await app.forwarder.releaseGoneLeases();
  if (freed > 0) app.log.info({ deliveries: freed }, 'deliveries cut off by a stop are due again');
  app.forwarder.start();
  app.retention.start();
  app.log.info({ publicUrl: config.publicUrl, engine: store.engine }, 'clickback is ready');
  if (store.engine === 'postgres' && config.secretKey === null) {
    app.log.warn(
      'SECRET_KEY is not set: this server uses the key in DATA_DIR; every server on this database must use the same key',
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping: no new requests, finishing the ones in flight');
    const timer = setTimeout(
      () => {
        app.log.error('in-flight requests did not finish in time; exiting');
        process.exit(1);
      },
      Math.max(SHUTDOWN_TIMEOUT_MS, config.databaseQueryTimeoutMs + 5_000),
    );
    timer.unref();
    // Node closes idle connections once when the server closes; keep doing it
    // for connections that become idle while in-flight requests finish. After
    // the grace, the connections left hold requests never completed.
    const since = Date.now();
    const idle = setInterval(() => {
      app.server.closeIdleConnections();
      if (Date.now() - since >= UNFINISHED_REQUEST_GRACE_MS && app.inFlight.size === 0) {
        app.server.closeAllConnections();
      }
    }, 100);
    idle.unref();
    try {
      await app.close();
      clearInterval(idle);
      await store.close();
      app.log.info('stopped');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // A setting found bad only once in use (SECRET_KEY) is reported like the others.
  if (error instanceof ConfigError) {
    process.stderr.write(`clickback: bad configuration: ${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(
    `clickback: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
