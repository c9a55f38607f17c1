// Node builds every process.nextTick callback as an object literal whose first
// keys are computed ({ [async_id_symbol]: ..., [trigger_async_id_symbol]: ...,
// callback, args }), and its HTTP and stream code queues a dozen of them per
// request. V8 keeps the hidden class those objects end up with only while one
// of them is alive: a full garbage collection that finds none (the queue is
// empty between turns) drops it, and the next objects get a new one. After a
// few such collections, every nextTick built its object through V8's runtime,
// property by property (seen in a bare Fastify server too, once full
// collections were forced; a small heap that is never fully collected does
// not pay it).
//
// The server holds one such object for the life of the process, which keeps
// its class alive. Counted with callgrind over 8,000 postbacks on a warm
// server: 27 of those runtime calls per request before (about 13% of the
// process's instructions), none after.
import { createHook } from 'node:async_hooks';

let kept: object | null = null;

/**
 * Captures one nextTick object (through a hook enabled only for this call) and
 * keeps it. Returns it, for tests; null if this Node made none.
 */
export function keepTickShape(): object | null {
  if (kept !== null) return kept;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && kept === null) kept = resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
  return kept;
}
