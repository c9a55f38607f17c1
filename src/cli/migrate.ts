// npm run db:migrate — apply pending migrations and exit (non-zero on failure).
import { ConfigError, loadConfig } from '../config.js';
import { openStore } from '../store/open-store.js';

try {
  const store = await openStore(loadConfig());
  await store.close();
  process.stdout.write('migrations applied\n');
} catch (error) {
  const message =
    error instanceof ConfigError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`clickback: migration failed: ${message}\n`);
  process.exit(1);
}
