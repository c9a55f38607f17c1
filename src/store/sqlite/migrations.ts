// Versioned schema migrations for the embedded engine, applied in order at
// start; each runs in its own transaction and a failure stops the process.
import type Database from 'better-sqlite3';
import { savedEventRewrites } from '../saved-events.js';

/** The embedded engine's: SQL, or a change SQL statements cannot make, or both. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql?: string;
  /** Runs in the migration's transaction, after `sql`. */
  apply?: (db: Database.Database) => void;
}

// --- v5: statistics rollups ------------------------------------------------
// Generated once, here, so the three tables' triggers and backfills cannot
// drift apart. This is history: a later change to the rollups is a new
// migration, never an edit of these.

export interface Rollup {
  source: string;
  rollup: string;
  /** Rollup key column → its value from a source row `r`. */
  keys: Record<string, (r: string) => string>;
  /** Rollup counter column → what one source row `r` adds to it. */
  sums: Record<string, (r: string) => string>;
}

/** The source columns a rollup's keys and sums read: an update of any other changes no rollup. */
export function watchedColumns({ keys, sums }: Pick<Rollup, 'keys' | 'sums'>): string {
  return [
    ...new Set(
      [...Object.values(keys), ...Object.values(sums)].flatMap((f) =>
        [...f('x').matchAll(/x\.(\w+)/g)].map((m) => m[1]),
      ),
    ),
  ].join(', ');
}

/** The start of the 15-minute bucket of `at`, in ms, floored before 1970 too. */
const bucket = (at: string) => `${at} - ((${at} % 900000) + 900000) % 900000`;

const ROLLUPS_V5: Rollup[] = [
  {
    source: 'conversions',
    rollup: 'conversion_rollups',
    keys: {
      workspace_id: (r) => `${r}.workspace_id`,
      bucket: (r) => bucket(`${r}.at`),
      campaign_id: (r) => `coalesce(${r}.campaign_id, 0)`,
      postback_id: (r) => `coalesce(${r}.postback_id, 0)`,
      event: (r) => `${r}.event`,
      currency: (r) => `${r}.currency`,
    },
    sums: {
      n: () => '1',
      priced: (r) => `${r}.amount_micros IS NOT NULL`,
      micros: (r) => `coalesce(${r}.amount_micros, 0)`,
      negative_micros: (r) => `min(coalesce(${r}.amount_micros, 0), 0)`,
    },
  },
  {
    source: 'clicks',
    rollup: 'click_rollups',
    keys: {
      workspace_id: (r) => `${r}.workspace_id`,
      bucket: (r) => bucket(`${r}.at`),
      campaign_id: (r) => `coalesce(${r}.campaign_id, 0)`,
    },
    sums: { n: () => '1' },
  },
  {
    source: 'leads',
    rollup: 'lead_rollups',
    keys: {
      workspace_id: (r) => `${r}.workspace_id`,
      bucket: (r) => bucket(`${r}.created_at`),
      campaign_id: (r) => `coalesce(${r}.campaign_id, 0)`,
    },
    sums: { n: () => '1' },
  },
];

/**
 * Inserts add a source row to its bucket, deletes take it out, an update of a
 * key column does both; a bucket whose rows are all gone keeps n = 0 (readers
 * skip groups without rows). The backfill adds the rows already there one by
 * one, the way the insert trigger would have: a sum past 2^63 then turns into
 * a REAL here too, and statistics refuse it, as SQLite's SUM always did.
 */
function rollupSql(r: Rollup): string {
  const { source, rollup, keys, sums } = r;
  const keyColumns = Object.keys(keys).join(', ');
  const columns = [...Object.keys(keys), ...Object.keys(sums)].join(', ');
  const values = (r: string, sign: string) =>
    [
      ...Object.values(keys).map((k) => k(r)),
      ...Object.values(sums).map((v) => `${sign}(${v(r)})`),
    ].join(', ');
  const add = Object.keys(sums)
    .map((c) => `${c} = ${c} + excluded.${c}`)
    .join(', ');
  const upsert = (r: string, sign: string) =>
    `INSERT INTO ${rollup} (${columns}) VALUES (${values(r, sign)})
    ON CONFLICT (${keyColumns}) DO UPDATE SET ${add};`;
  const watched = watchedColumns(r);
  return `
CREATE TRIGGER ${source}_rollup_insert AFTER INSERT ON ${source} BEGIN
  ${upsert('NEW', '')}
END;
CREATE TRIGGER ${source}_rollup_delete AFTER DELETE ON ${source} BEGIN
  ${upsert('OLD', '-')}
END;
CREATE TRIGGER ${source}_rollup_update AFTER UPDATE OF ${watched} ON ${source} BEGIN
  ${upsert('OLD', '-')}
  ${upsert('NEW', '')}
END;
${backfillSql(r)}
`;
}

/** Adds every row of the source to its rollup, one by one, as the insert trigger did. */
function backfillSql({ source, rollup, keys, sums }: Rollup): string {
  const keyColumns = Object.keys(keys).join(', ');
  const columns = [...Object.keys(keys), ...Object.keys(sums)].join(', ');
  const values = [
    ...Object.values(keys).map((k) => k('x')),
    ...Object.values(sums).map((v) => `(${v('x')})`),
  ].join(', ');
  const add = Object.keys(sums)
    .map((c) => `${c} = ${c} + excluded.${c}`)
    .join(', ');
  return `INSERT INTO ${rollup} (${columns}) SELECT ${values} FROM ${source} x WHERE true
  ON CONFLICT (${keyColumns}) DO UPDATE SET ${add};`;
}

/**
 * Rebuilds the statistics rollups from the rows, for rows written in bulk
 * around the store (the benchmark's seeding): since migration 7 the store adds
 * the rows it inserts itself, and nothing else does.
 */
export const REBUILD_ROLLUPS_SQL = ROLLUPS_V5.map(
  (r) => `DELETE FROM ${r.rollup};\n${backfillSql(r)}\n`,
).join('');

export const MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  buyer TEXT NOT NULL DEFAULT '',
  destination_url TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX campaigns_workspace ON campaigns(workspace_id, id);
CREATE TABLE clicks (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  ip TEXT,
  user_agent TEXT,
  referrer TEXT,
  params TEXT NOT NULL
);
CREATE INDEX clicks_workspace_at ON clicks(workspace_id, at);
CREATE TABLE leads (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  clickid TEXT NOT NULL UNIQUE,
  campaign_id INTEGER,
  click_id INTEGER,
  external_id TEXT,
  username TEXT,
  params TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE INDEX leads_workspace_id ON leads(workspace_id, id);
CREATE INDEX leads_workspace_at ON leads(workspace_id, created_at);
CREATE INDEX leads_workspace_external ON leads(workspace_id, external_id);
CREATE TABLE lead_fields (
  lead_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (lead_id, key)
) WITHOUT ROWID;
CREATE TABLE postbacks (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  token TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  network TEXT NOT NULL,
  campaign_id INTEGER,
  clickid_param TEXT NOT NULL,
  currency TEXT NOT NULL,
  macros TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX postbacks_workspace ON postbacks(workspace_id, id);
-- One row per counted event. The two unique keys are the counting rules:
-- once_key (registration, first_deposit) and tid_key (one transaction id).
CREATE TABLE conversions (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  lead_id INTEGER NOT NULL REFERENCES leads(id),
  campaign_id INTEGER,
  postback_id INTEGER,
  event TEXT NOT NULL,
  amount_micros INTEGER,
  currency TEXT NOT NULL,
  tid TEXT,
  once_key TEXT,
  tid_key TEXT,
  at INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversions_once ON conversions(lead_id, once_key);
CREATE UNIQUE INDEX conversions_tid ON conversions(lead_id, tid_key);
CREATE INDEX conversions_workspace_at ON conversions(workspace_id, at);
-- Events without a transaction id: the last counted time of each fingerprint.
CREATE TABLE fingerprints (
  lead_id INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  at INTEGER NOT NULL,
  conversion_id INTEGER NOT NULL,
  PRIMARY KEY (lead_id, fingerprint)
) WITHOUT ROWID;
CREATE TABLE postback_logs (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  postback_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  method TEXT NOT NULL,
  url TEXT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  body TEXT,
  http_status INTEGER NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  event TEXT,
  clickid TEXT,
  conversion_id INTEGER
);
CREATE INDEX postback_logs_workspace ON postback_logs(workspace_id, id);
CREATE INDEX postback_logs_clickid ON postback_logs(workspace_id, clickid);
`,
  },
  {
    version: 2,
    name: 'api keys',
    sql: `
-- Long-lived credentials for bots and scripts; only a hash of the key is kept.
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id, id);
`,
  },
  {
    version: 3,
    name: 'covering indexes for statistics',
    // Statistics read only these columns: scanning the index alone avoids a
    // row lookup per conversion, click and lead.
    sql: `
DROP INDEX conversions_workspace_at;
CREATE INDEX conversions_stats ON conversions(workspace_id, at, event, currency, amount_micros, campaign_id, postback_id, lead_id);
DROP INDEX clicks_workspace_at;
CREATE INDEX clicks_stats ON clicks(workspace_id, at, campaign_id);
DROP INDEX leads_workspace_at;
CREATE INDEX leads_stats ON leads(workspace_id, created_at, campaign_id);
`,
  },
  {
    version: 4,
    name: 'forwarding: destinations, routes, outbox, deliveries',
    sql: `
-- Where a campaign's events go: Facebook pixels, webhooks and the bot's auto
-- actions. Settings are JSON; secret holds the encrypted token or signing key.
CREATE TABLE destinations (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  campaign_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  settings TEXT NOT NULL,
  secret TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX destinations_campaign ON destinations(campaign_id, id);
-- Which of our events reach which destination; rebuilt whenever a destination
-- changes, so enqueueing is one indexed INSERT ... SELECT inside the event's
-- own transaction. '*' stands for every conversion event.
CREATE TABLE forward_routes (
  campaign_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  destination_id INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, event, destination_id)
) WITHOUT ROWID;
-- One row per (destination, thing that happened), written in the same
-- transaction as the conversion, click or contact; the worker drains it.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  destination_id INTEGER NOT NULL,
  subject TEXT NOT NULL,
  subject_id INTEGER NOT NULL,
  lead_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  occurrence INTEGER NOT NULL,
  event_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  budget_from INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  lease_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,
  UNIQUE (destination_id, subject, subject_id)
);
CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 'pending';
-- Every outbound attempt: the source logs.
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  outbox_id INTEGER NOT NULL,
  destination_id INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  destination_event TEXT,
  event_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  http_status INTEGER,
  status TEXT NOT NULL,
  error TEXT,
  request TEXT NOT NULL,
  response TEXT
);
CREATE INDEX deliveries_workspace ON deliveries(workspace_id, id);
CREATE INDEX deliveries_destination ON deliveries(destination_id, id);
`,
  },
  {
    version: 5,
    name: 'statistics rollups',
    // Statistics read one row per 15 minutes and key (campaign, postback,
    // event, currency) instead of one per conversion. The triggers keep them in
    // the writing transaction, so they are never behind; 15-minute buckets put
    // every day edge of every current time zone (:30 and :45 offsets, DST
    // switches) on a bucket edge.
    sql: `
-- Keys that can be NULL in the source are 0 here: a NULL in a primary key
-- would never conflict, so the upsert would add a row per event.
CREATE TABLE conversion_rollups (
  workspace_id INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  postback_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  currency TEXT NOT NULL,
  n INTEGER NOT NULL,
  priced INTEGER NOT NULL,
  micros INTEGER NOT NULL,
  negative_micros INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id, postback_id, event, currency)
) WITHOUT ROWID;
CREATE TABLE click_rollups (
  workspace_id INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id)
) WITHOUT ROWID;
CREATE TABLE lead_rollups (
  workspace_id INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  campaign_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id)
) WITHOUT ROWID;
${ROLLUPS_V5.map(rollupSql).join('')}`,
  },
  {
    version: 6,
    name: 'fewer index writes per click and postback',
    // Every index a postback writes into at a random place costs a page in the
    // commit. postback_logs_clickid served no query (the log search matches
    // the clickid or a substring of the URL, which scans by id anyway), and
    // most conversions (deposits, custom events) have no once_key, so their
    // entries in conversions_once were NULLs that enforced nothing.
    // conversions_tid keeps every row and serves lookups by lead. A click's
    // lead has no chat yet: leads_workspace_external keeps bound leads only.
    sql: `
DROP INDEX postback_logs_clickid;
DROP INDEX conversions_once;
CREATE UNIQUE INDEX conversions_once ON conversions(lead_id, once_key) WHERE once_key IS NOT NULL;
DROP INDEX leads_workspace_external;
CREATE INDEX leads_workspace_external ON leads(workspace_id, external_id) WHERE external_id IS NOT NULL;
`,
  },
  {
    version: 7,
    name: 'rollups of inserted rows written by the store, once per batch',
    // An insert trigger made every click, lead and conversion insert a
    // program with a statement journal: about 2 µs of a click's 12 in the
    // store. The store now adds the rows it inserts to the rollups itself, one
    // upsert per bucket and key per batch (src/store/sqlite/rollups.ts).
    // Updates and deletes, which an operator may run by hand, keep their
    // triggers; rows inserted by hand are not counted in statistics.
    sql: `
DROP TRIGGER IF EXISTS conversions_rollup_insert;
DROP TRIGGER IF EXISTS clicks_rollup_insert;
DROP TRIGGER IF EXISTS leads_rollup_insert;
`,
  },
  {
    version: 8,
    name: 'due deliveries found per destination',
    // A claim took every due row, sorted them per destination and kept the
    // first few of each: with 200,000 rows waiting (a destination down for a
    // while) that was 130 ms on the thread that answers clicks, per claim.
    // Indexed by destination, a claim reads only the rows it takes.
    sql: `
CREATE INDEX outbox_pending ON outbox(destination_id, next_at, id) WHERE status = 'pending';
DROP INDEX outbox_due;
`,
  },
  {
    version: 9,
    name: 'destination revisions',
    // A change to a source is merged into the row it read, with awaits in
    // between (secrets sealed, a webhook's host resolved); the revision lets
    // the write refuse a row that changed meanwhile, so the merge runs again.
    sql: `
ALTER TABLE destinations ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 10,
    name: 'delivery lease owners',
    // A server freed every lease at start, those of another live server on
    // the same file too, which then sent its rows a second time. A lease now
    // names its worker, and only a gone worker's leases are freed.
    sql: `
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
`,
  },
  {
    version: 11,
    name: "a conversion's lead checked by the store, not by a foreign key",
    // SQLite checked conversions.lead_id against leads on every insert: a
    // lookup of the lead's row at a random place in the leads table, 7% of a
    // postback's CPU time in the store (npm run bench:store, four alternated
    // pairs: 15.7 against 16.8 µs). The store only ever inserts the id of a
    // lead it has just read, in the same transaction or from its cache of
    // committed leads, and leads are never deleted by the application. The
    // crash test checks that no conversion names a missing lead.
    apply: dropConversionLeadReference,
  },
  {
    version: 12,
    name: 'event names of saved destinations as postbacks are counted',
    // An auto action, webhook or pixel mapping saved with a network's name
    // for an event (`emailconf`, `sale`) listened on a name no event is
    // recorded under, and never fired. The API now normalises the names; this
    // puts the ones saved before right, and rebuilds their routes.
    apply: normaliseSavedEvents,
  },
  {
    version: 13,
    name: "a source's last delivery found per destination",
    // A source's health (domain/source-health.ts) starts from its newest
    // delivered attempt. The log's index by destination would walk every
    // failure since then to find it: for a pixel refused for weeks, all of its
    // log. Only delivered rows are in this one: a failed attempt costs it
    // nothing, a delivered one an entry at the end of its destination's range.
    sql: `
CREATE INDEX deliveries_delivered ON deliveries(destination_id, id) WHERE status = 'delivered';
`,
  },
];

function normaliseSavedEvents(db: Database.Database): void {
  const rows = db
    .prepare('SELECT id, campaign_id, enabled, deleted_at, settings FROM destinations')
    .all() as {
    id: number;
    campaign_id: number;
    enabled: number;
    deleted_at: number | null;
    settings: string;
  }[];
  const rewrites = savedEventRewrites(
    rows.map((r) => ({
      id: r.id,
      campaignId: r.campaign_id,
      enabled: r.enabled === 1,
      deleted: r.deleted_at !== null,
      settings: r.settings,
    })),
  );
  const update = db.prepare(
    'UPDATE destinations SET settings = ?, revision = revision + 1 WHERE id = ?',
  );
  const dropRoutes = db.prepare(
    'DELETE FROM forward_routes WHERE campaign_id = ? AND destination_id = ?',
  );
  const addRoute = db.prepare(
    'INSERT OR IGNORE INTO forward_routes (campaign_id, event, destination_id) VALUES (?, ?, ?)',
  );
  for (const r of rewrites) {
    update.run(r.settings, r.id);
    dropRoutes.run(r.campaignId, r.id);
    for (const event of r.routes ?? []) addRoute.run(r.campaignId, event, r.id);
  }
}

const LEAD_REFERENCE = 'lead_id INTEGER NOT NULL REFERENCES leads(id)';

/**
 * Removes the REFERENCES clause from the conversions table's definition. It
 * changes no stored row or index, so the definition is edited in place, the
 * procedure SQLite documents for removing a foreign key ("Making Other Kinds
 * Of Table Schema Changes" in its ALTER TABLE page), instead of copying the
 * whole table. The table must read the same columns afterwards.
 */
function dropConversionLeadReference(db: Database.Database): void {
  const table = db
    .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'conversions'")
    .get() as { sql: string };
  // Already gone, by hand: nothing to do.
  if (!table.sql.includes(LEAD_REFERENCE)) return;
  const columns = JSON.stringify(db.pragma('table_info(conversions)'));
  const version = db.pragma('schema_version', { simple: true }) as number;
  // better-sqlite3 keeps SQLite's defensive mode on, which forbids this edit.
  db.unsafeMode(true);
  try {
    db.pragma('writable_schema = ON');
    db.prepare(
      "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'conversions'",
    ).run(table.sql.replace(LEAD_REFERENCE, 'lead_id INTEGER NOT NULL'));
    // Makes every connection read the schema again.
    db.pragma(`schema_version = ${version + 1}`);
  } finally {
    db.pragma('writable_schema = OFF');
    db.unsafeMode(false);
  }
  if (JSON.stringify(db.pragma('table_info(conversions)')) !== columns) {
    throw new Error('migration 11 changed the columns of conversions');
  }
  if ((db.pragma('foreign_key_list(conversions)') as unknown[]).length !== 0) {
    throw new Error('migration 11 left a foreign key on conversions');
  }
}
