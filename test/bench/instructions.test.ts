// bench:instructions: a server run under callgrind, driven, and counted only
// while told to. The bare server is enough to hold the counting to account:
// if callgrind_control cannot reach the process, nothing is counted and the
// harness must fail rather than print zeros.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';

test('bench:instructions counts the instructions per request of a server under callgrind', async () => {
  const dir = tempDir();
  try {
    const json = join(dir.path, 'instructions.json');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/instructions.ts',
        '--only=baseline',
        '--warm=300',
        '--requests=300',
        `--json=${json}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 },
    );
    const [bare, ...others] = JSON.parse(readFileSync(json, 'utf8')) as Array<{
      scenario: string;
      requests: number;
      mainThread: number;
      allThreads: number;
    }>;
    assert.equal(others.length, 0);
    assert.equal(bare?.requests, 300);
    // A bare node:http request is some tens of thousands of instructions once
    // warm, a few hundred thousand while the compiler is still at work.
    assert.ok(
      (bare?.mainThread ?? 0) > 20_000 && (bare?.mainThread ?? 0) < 2_000_000,
      `main thread: ${bare?.mainThread}`,
    );
    assert.ok((bare?.allThreads ?? 0) >= (bare?.mainThread ?? 0));
  } finally {
    dir.remove();
  }
});
