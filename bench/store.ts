// npm run bench:store — the store alone, without HTTP: postbacks and clicks
// written by concurrent callers in this process, the way the routes call it.
// Each write's CPU cost (this process, and PostgreSQL's when it runs on this
// machine) without the noise of the HTTP server and the load generator: the
// tool for measuring a change to the write path. Checks every write landed.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingPlan, signedAmount } from '../src/domain/events.js';
import { type DestinationSettings, routeEvents } from '../src/domain/forwarding.js';
import { newClickid } from '../src/domain/random-id.js';
import type { Campaign, PostbackConfig, Store } from '../src/store/store.js';
import {
  benchArgs,
  databaseTicks,
  POSTGRES,
  seedBasics,
  seedLeads,
  type Target,
  target,
} from './support.js';
import { describeFrames, walFrames } from './wal-frames.js';

const args = benchArgs();
const SECONDS = Number(args.get('duration') ?? 10);
const WARMUP = Number(args.get('warmup') ?? 2);
/** Concurrent callers, as the HTTP bench's connections. */
const CALLERS = Number(args.get('callers') ?? 32);
const LEADS = Number(args.get('leads') ?? 100_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
/** Writes whose WAL frames are counted, after FRAMES_WARM more (embedded engine; 0: none). */
const FRAMES = Number(args.get('frames') ?? 20_000);
const FRAMES_WARM = 2_000;
const ONLY = args.get('only')?.split(',') ?? null;
/** The campaign forwards clicks and deposits to a Facebook pixel: each write also queues a delivery. */
const FORWARD = args.has('forward');
const only = (scenario: string) => ONLY === null || ONLY.includes(scenario);

const work = mkdtempSync(join(tmpdir(), 'clickback-bench-store-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

interface Measured {
  writes: number;
  perSecond: number;
  cpuUs: number;
  databaseCpuUs: number | null;
}

/** Runs `write` from CALLERS concurrent loops for `seconds`, counting what each returned. */
async function drive(
  seconds: number,
  write: (n: number) => Promise<string>,
): Promise<Measured & { outcomes: Map<string, number> }> {
  const outcomes = new Map<string, number>();
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  const database = databaseTicks();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const outcome = await write(n++);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const databaseAfter = databaseTicks();
  const writes = [...outcomes.values()].reduce((a, b) => a + b, 0);
  return {
    outcomes,
    writes,
    perSecond: writes / elapsed,
    cpuUs: (used.user + used.system) / writes,
    // Linux clock ticks of 10 ms.
    databaseCpuUs:
      database !== null && databaseAfter !== null
        ? ((databaseAfter - database) * 10_000) / writes
        : null,
  };
}

/** Deposits with distinct transaction ids over existing leads, as the postback route records them. */
function postbackWriter(
  store: Store,
  postback: PostbackConfig,
  clickids: string[],
  run: string,
): (n: number) => Promise<string> {
  return async (n) => {
    const clickid = clickids[(n * 7919) % clickids.length] as string;
    const tid = `${run}-${n}`;
    const micros = signedAmount('deposit', BigInt((n % 500) * 1_000_000 + 250_000));
    const at = Date.now();
    const outcome = await store.recordEvent({
      workspaceId: postback.workspaceId,
      scopeCampaignId: postback.campaignId,
      clickid,
      postbackId: postback.id,
      plan: countingPlan({ event: 'deposit', micros, currency: 'USD', tid }),
      micros,
      currency: 'USD',
      tid,
      fields: {},
      at,
      windowMs: 60_000,
      log: {
        postbackId: postback.id,
        workspaceId: postback.workspaceId,
        at,
        method: 'GET',
        url: `/api/postbacks/${postback.token}/deposit?clickid=${clickid}&amount=${n % 500}.25&tid=${tid}`,
        ip: '127.0.0.1',
        userAgent: 'bench',
        body: null,
      },
      note: null,
    });
    return outcome.status;
  };
}

/** Ad clicks with distinct parameters, as the click route records them. */
function clickWriter(store: Store, campaign: Campaign): (n: number) => Promise<string> {
  return async (n) => {
    await store.recordClick({
      campaign,
      params: { fbclid: `IwAR${n}`, utm_campaign: 'bench', utm_source: 'fb', sub1: String(n) },
      ip: '127.0.0.1',
      userAgent: 'bench',
      referrer: null,
      at: Date.now(),
      newClickid,
    });
    return 'recorded';
  };
}

/** With --forward: a Facebook pixel on the campaign for clicks and deposits. */
async function forward(t: Target, workspaceId: string, campaignId: string): Promise<void> {
  if (!FORWARD) return;
  const store = await t.open();
  const settings: DestinationSettings = {
    kind: 'facebook',
    facebook: {
      pixelId: '1234567890',
      testEventCode: null,
      mapping: { click: 'Lead', first_deposit: 'Purchase', deposit: 'Purchase' },
      actionSource: 'website',
    },
  };
  await store.createDestination(
    workspaceId,
    campaignId,
    { name: 'Pixel', enabled: true, settings, secret: null, routes: routeEvents(settings) },
    Date.now(),
  );
  await store.close();
}

interface Row extends Measured {
  scenario: string;
  check: string;
}

/** One line per scenario: WAL frames per write (see wal-frames.ts). */
const frames: string[] = [];

async function scenario(
  name: string,
  table: string,
  prepare: (t: Target) => Promise<(store: Store, run: string) => (n: number) => Promise<string>>,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const t = await target(`store_${table}_${round}`, work);
    const writer = await prepare(t);
    const store = await t.open();
    await drive(WARMUP, writer(store, 'warm'));
    const before = await t.count(table);
    const queuedBefore = FORWARD ? await t.count('outbox') : 0;
    const m = await drive(SECONDS, writer(store, `run${round}`));
    await store.close();
    const written = (await t.count(table)) - before;
    const recorded = m.outcomes.get('recorded') ?? 0;
    // With --forward, every write queues exactly one delivery for the pixel.
    const queued = FORWARD ? (await t.count('outbox')) - queuedBefore : recorded;
    const ok = written === recorded && recorded === m.writes && queued === recorded;
    rows.push({
      scenario: `${name}${FORWARD ? ', forwarded' : ''}, round ${round}`,
      ...m,
      check: `${recorded} recorded, ${written} ${table} written${FORWARD ? `, ${queued} deliveries queued` : ''}${ok ? ' ✓' : ' ✗'}`,
    });
    await t.dispose();
  }
  if (!POSTGRES && FRAMES > 0) {
    const t = await target(`store_${table}_frames`, work);
    const writer = await prepare(t);
    const counted = await walFrames(t.url.slice('sqlite:'.length), (s) => writer(s, 'frames'), {
      callers: CALLERS,
      warm: FRAMES_WARM,
      writes: FRAMES,
    });
    frames.push(describeFrames(`${name}${FORWARD ? ', forwarded' : ''}`, counted));
    await t.dispose();
  }
  return rows;
}

async function main() {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ${POSTGRES ? 'PostgreSQL' : 'embedded SQLite'}`,
  );
  console.log(
    `${CALLERS} concurrent callers, ${SECONDS} s per round after ${WARMUP} s warm-up, ${ROUNDS} rounds, each on a fresh database\n`,
  );
  const rows: Row[] = [];
  if (only('postbacks')) {
    rows.push(
      ...(await scenario(`postbacks: deposits over ${LEADS} leads`, 'conversions', async (t) => {
        const seed = await seedBasics(t);
        await forward(t, seed.workspaceId, seed.campaign.id);
        const since = Date.now() - 86_400_000;
        const clickids = await seedLeads(
          t,
          seed.workspaceId,
          [seed.campaign.id],
          LEADS,
          since,
          86_400_000,
        );
        return (store, run) => postbackWriter(store, seed.postback, clickids, run);
      })),
    );
  }
  if (only('clicks')) {
    rows.push(
      ...(await scenario('clicks', 'clicks', async (t) => {
        const seed = await seedBasics(t);
        await forward(t, seed.workspaceId, seed.campaign.id);
        return (store) => clickWriter(store, seed.campaign);
      })),
    );
  }
  const database = POSTGRES !== null && rows.some((r) => r.databaseCpuUs !== null);
  console.log(
    `| scenario | writes/s | µs CPU per write (this process)${database ? ' | µs PostgreSQL CPU per write' : ''} | check |`,
  );
  console.log(`|---|---:|---:|${database ? '---:|' : ''}---|`);
  for (const r of rows) {
    const db = database ? ` ${r.databaseCpuUs === null ? '-' : r.databaseCpuUs.toFixed(1)} |` : '';
    console.log(
      `| ${r.scenario} | ${Math.round(r.perSecond)} | ${r.cpuUs.toFixed(1)} |${db} ${r.check} |`,
    );
  }
  if (frames.length > 0) {
    console.log(
      `\nWAL frames, counted over ${FRAMES} writes after ${FRAMES_WARM} (within 0.5% from run to run; ${CALLERS} callers, so one commit per ${CALLERS} writes):`,
    );
    for (const line of frames) console.log(`  ${line}`);
  }
  if (rows.some((r) => r.check.endsWith('✗'))) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
