#!/usr/bin/env node
// npm test: every suite on the embedded engine, every HTTP test again on
// PostgreSQL, the browser tests in Chromium, and one closing line with the
// totals of all passes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function testFiles(dir, skip = []) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (skip.includes(path)) continue;
    if (statSync(path).isDirectory()) out.push(...testFiles(path, skip));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function run(label, files, env, extra = []) {
  return new Promise((resolve) => {
    console.log(`\n== ${label}`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...extra, ...files], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const counts = { pass: 0, fail: 0, skipped: 0 };
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk).slice(-4000);
    });
    child.on('close', (code) => {
      for (const key of Object.keys(counts)) {
        const match = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tail);
        if (match) counts[key] = Number(match[1]);
      }
      if (code !== 0 && counts.fail === 0) counts.fail = 1;
      resolve(counts);
    });
  });
}

async function postgresReachable() {
  const { default: pg } = await import('pg');
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const passes = [
  await run('all suites (HTTP on SQLite)', testFiles('test', ['test/e2e']), {
    TEST_ENGINE: 'sqlite',
  }),
];
if (process.env.CI || (await postgresReachable())) {
  passes.push(
    await run('HTTP suites on PostgreSQL', testFiles('test/http'), { TEST_ENGINE: 'postgres' }),
  );
} else {
  console.log(
    '\n== HTTP suites on PostgreSQL: skipped, no server at TEST_DATABASE_URL (CI fails instead)',
  );
}
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (process.env.CI || existsSync(chromium)) {
  console.log('\n== building the web app for the browser tests');
  const build = spawnSync('npm', ['run', 'build:web'], { stdio: 'inherit' });
  if (build.status !== 0) passes.push({ pass: 0, fail: 1, skipped: 0 });
  else
    passes.push(
      await run('browser tests in Chromium', testFiles('test/e2e'), {}, ['--test-concurrency=1']),
    );
} else {
  console.log(
    `\n== browser tests: skipped, no Chromium at ${chromium} (apt-get install -y chromium; CI fails instead)`,
  );
}
const total = passes.reduce(
  (sum, c) => ({
    pass: sum.pass + c.pass,
    fail: sum.fail + c.fail,
    skipped: sum.skipped + c.skipped,
  }),
  { pass: 0, fail: 0, skipped: 0 },
);
console.log(`\ntests: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(total.fail > 0 ? 1 : 0);
