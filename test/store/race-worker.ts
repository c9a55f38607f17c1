// One competitor in the cross-connection race: its own SQLite connection,
// released at the same instant as the others by a shared barrier.
import { parentPort, workerData } from 'node:worker_threads';
import { countingPlan } from '../../src/domain/events.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const { path, workspaceId, clickid, barrier, copies } = workerData as {
  path: string;
  workspaceId: string;
  clickid: string;
  barrier: SharedArrayBuffer;
  copies: number;
};
const store = openSqliteStore({ path });
const gate = new Int32Array(barrier);
Atomics.add(gate, 1, 1);
Atomics.wait(gate, 0, 0);
const statuses: string[] = [];
for (let i = 0; i < copies; i++) {
  const micros = 100_000_000n;
  const outcome = await store.recordEvent({
    workspaceId,
    scopeCampaignId: null,
    clickid,
    postbackId: null,
    plan: countingPlan({ event: 'first_deposit', micros, currency: 'USD', tid: 'ftd-1' }),
    micros,
    currency: 'USD',
    tid: 'ftd-1',
    fields: {},
    at: Date.now(),
    windowMs: 60_000,
    log: null,
    note: null,
  });
  statuses.push(outcome.status);
}
await store.close();
parentPort?.postMessage(statuses);
