// keepTickShape: the nextTick object it keeps survives full garbage
// collections, and the ones Node makes afterwards still share its hidden class
// (V8's own check, in a child process with --expose-gc and natives syntax).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../src/keep-tick-shape.ts', import.meta.url));

const SCRIPT = `
import { createHook } from 'node:async_hooks';
const { keepTickShape } = await import(${JSON.stringify(MODULE)});
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');

function tickObject() {
  let made = null;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'TickObject' && made === null) made = resource;
    },
  });
  hook.enable();
  process.nextTick(() => {});
  hook.disable();
  return made;
}
async function collect() {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
}

const kept = new WeakRef(keepTickShape());
const loose = new WeakRef(tickObject());
await collect();
const fresh = tickObject();
console.log(JSON.stringify({
  symbols: Object.getOwnPropertySymbols(kept.deref() ?? {}).length,
  keptAlive: kept.deref() !== undefined,
  looseAlive: loose.deref() !== undefined,
  sameClass: kept.deref() !== undefined && sameMap(kept.deref(), fresh),
  sameAgain: keepTickShape() === kept.deref(),
}));
`;

test('the kept nextTick object outlives full collections, and later ones share its hidden class', () => {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--allow-natives-syntax',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      SCRIPT,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  const seen = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
  assert.deepEqual(seen, {
    // async id and trigger id: it is a nextTick object
    symbols: 2,
    keptAlive: true,
    // the same collections free one nobody keeps, so they did run
    looseAlive: false,
    sameClass: true,
    sameAgain: true,
  });
});
