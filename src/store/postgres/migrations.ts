// Versioned schema migrations for PostgreSQL, applied at start under an
// advisory lock so that nodes starting together never migrate twice.
import type pg from 'pg';
import { savedEventRewrites } from '../saved-events.js';
import { type Rollup, watchedColumns } from '../sqlite/migrations.js';

/** SQL, or a change SQL statements cannot make, or both; in one transaction. */
export interface PostgresMigration {
  version: number;
  name: string;
  sql?: string;
  /** Runs in the migration's transaction, after `sql`. */
  apply?: (client: pg.Client) => Promise<void>;
}

// --- v5: statistics rollups ------------------------------------------------
// Generated once, here, so the three tables' triggers and backfills cannot
// drift apart. This is history: a later change to the rollups is a new
// migration, never an edit of these.

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
      priced: (r) => `(${r}.amount_micros IS NOT NULL)::int`,
      micros: (r) => `coalesce(${r}.amount_micros, 0)`,
      negative_micros: (r) => `least(coalesce(${r}.amount_micros, 0), 0)`,
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
 * One row trigger per source table: an insert adds the row to its bucket, a
 * delete takes it out, an update of a key column does both. A connection
 * writes into shard pid % 16, so transactions on different connections
 * rarely wait for each other here (at the price of up to 16 rows per bucket
 * and key to read); a delete may take a row out of another shard than the
 * one it went into, and readers only ever sum shards. The backfill goes into
 * shard 0. The function finds the rollups in its own schema, whatever the
 * search_path of the session that writes.
 */
function rollupSql({ source, rollup, keys, sums }: Rollup): string {
  const conflict = [...Object.keys(keys), 'shard'].join(', ');
  const columns = [...Object.keys(keys), 'shard', ...Object.keys(sums)].join(', ');
  const upsert = (r: string, sign: string) =>
    `INSERT INTO ${rollup} AS t (${columns}) VALUES (${[
      ...Object.values(keys).map((k) => k(r)),
      'pg_backend_pid() % 16',
      ...Object.values(sums).map((v) => `${sign}(${v(r)})`),
    ].join(', ')})
      ON CONFLICT (${conflict}) DO UPDATE SET ${Object.keys(sums)
        .map((c) => `${c} = t.${c} + excluded.${c}`)
        .join(', ')};`;
  const watched = watchedColumns({ keys, sums });
  const total = (v: (r: string) => string) => `coalesce(sum(${v('x')}), 0)`;
  return `
CREATE FUNCTION ${rollup}_apply() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    ${upsert('OLD', '-')}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    ${upsert('NEW', '')}
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER ${source}_rollup AFTER INSERT OR DELETE OR UPDATE OF ${watched} ON ${source}
  FOR EACH ROW EXECUTE FUNCTION ${rollup}_apply();
INSERT INTO ${rollup} (${columns})
  SELECT ${Object.values(keys)
    .map((k) => k('x'))
    .join(', ')}, 0, ${Object.values(sums).map(total).join(', ')}
  FROM ${source} x GROUP BY ${Object.keys(keys)
    .map((_, i) => i + 1)
    .join(', ')};
`;
}

// --- v7: inserted rows rolled up once per statement --------------------------

/**
 * The insert half of v5's row trigger, once per statement: the statement's
 * new rows are summed by rollup key and each key is upserted once, in key
 * order (two connections of the same shard then lock shared keys in the same
 * order). Deletes and key updates keep v5's row trigger, which now watches
 * only them. The rollup keys and sums are v5's: the two must count alike.
 */
function statementRollupSql({ source, rollup, keys, sums }: Rollup): string {
  const conflict = [...Object.keys(keys), 'shard'].join(', ');
  const columns = [...Object.keys(keys), 'shard', ...Object.keys(sums)].join(', ');
  const byKey = Object.keys(keys)
    .map((_, i) => i + 1)
    .join(', ');
  const watched = watchedColumns({ keys, sums });
  return `
CREATE FUNCTION ${rollup}_add() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO ${rollup} AS t (${columns})
    SELECT ${Object.values(keys)
      .map((k) => k('x'))
      .join(', ')}, pg_backend_pid() % 16, ${Object.values(sums)
      .map((v) => `sum(${v('x')})`)
      .join(', ')}
    FROM new_rows x GROUP BY ${byKey} ORDER BY ${byKey}
    ON CONFLICT (${conflict}) DO UPDATE SET ${Object.keys(sums)
      .map((c) => `${c} = t.${c} + excluded.${c}`)
      .join(', ')};
  RETURN NULL;
END $$;
DROP TRIGGER ${source}_rollup ON ${source};
CREATE TRIGGER ${source}_rollup AFTER DELETE OR UPDATE OF ${watched} ON ${source}
  FOR EACH ROW EXECUTE FUNCTION ${rollup}_apply();
CREATE TRIGGER ${source}_rollup_insert AFTER INSERT ON ${source}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${rollup}_add();
`;
}

export const MIGRATIONS: PostgresMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE workspaces (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE campaigns (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  buyer TEXT NOT NULL DEFAULT '',
  destination_url TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX campaigns_workspace ON campaigns(workspace_id, id);
CREATE TABLE clicks (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  ip TEXT,
  user_agent TEXT,
  referrer TEXT,
  params JSONB NOT NULL
);
CREATE INDEX clicks_workspace_at ON clicks(workspace_id, at);
CREATE TABLE leads (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  clickid TEXT NOT NULL UNIQUE,
  campaign_id BIGINT,
  click_id BIGINT,
  external_id TEXT,
  username TEXT,
  params JSONB NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);
CREATE INDEX leads_workspace_id ON leads(workspace_id, id);
CREATE INDEX leads_workspace_at ON leads(workspace_id, created_at);
CREATE INDEX leads_workspace_external ON leads(workspace_id, external_id);
CREATE TABLE lead_fields (
  lead_id BIGINT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (lead_id, key)
);
CREATE TABLE postbacks (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  token TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  network TEXT NOT NULL,
  campaign_id BIGINT,
  clickid_param TEXT NOT NULL,
  currency TEXT NOT NULL,
  macros JSONB NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX postbacks_workspace ON postbacks(workspace_id, id);
-- One row per counted event. The two unique keys are the counting rules:
-- once_key (registration, first_deposit) and tid_key (one transaction id).
CREATE TABLE conversions (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  lead_id BIGINT NOT NULL REFERENCES leads(id),
  campaign_id BIGINT,
  postback_id BIGINT,
  event TEXT NOT NULL,
  amount_micros BIGINT,
  currency TEXT NOT NULL,
  tid TEXT,
  once_key TEXT,
  tid_key TEXT,
  at BIGINT NOT NULL
);
CREATE UNIQUE INDEX conversions_once ON conversions(lead_id, once_key);
CREATE UNIQUE INDEX conversions_tid ON conversions(lead_id, tid_key);
CREATE INDEX conversions_workspace_at ON conversions(workspace_id, at);
CREATE TABLE fingerprints (
  lead_id BIGINT NOT NULL,
  fingerprint TEXT NOT NULL,
  at BIGINT NOT NULL,
  conversion_id BIGINT NOT NULL,
  PRIMARY KEY (lead_id, fingerprint)
);
CREATE TABLE postback_logs (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  postback_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
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
  conversion_id BIGINT
);
CREATE INDEX postback_logs_workspace ON postback_logs(workspace_id, id);
CREATE INDEX postback_logs_clickid ON postback_logs(workspace_id, clickid);
`,
  },
  {
    version: 2,
    name: 'api keys',
    sql: `
CREATE TABLE api_keys (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
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
CREATE TABLE destinations (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
  campaign_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT true,
  settings TEXT NOT NULL,
  secret TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX destinations_campaign ON destinations(campaign_id, id);
CREATE TABLE forward_routes (
  campaign_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  destination_id BIGINT NOT NULL,
  PRIMARY KEY (campaign_id, event, destination_id)
);
CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  destination_id BIGINT NOT NULL,
  subject TEXT NOT NULL,
  subject_id BIGINT NOT NULL,
  lead_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  occurrence INTEGER NOT NULL,
  event_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  budget_from INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  lease_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  queued_at BIGINT NOT NULL,
  UNIQUE (destination_id, subject, subject_id)
);
CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 'pending';
CREATE TABLE deliveries (
  id BIGSERIAL PRIMARY KEY,
  workspace_id BIGINT NOT NULL,
  outbox_id BIGINT NOT NULL,
  destination_id BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  destination_event TEXT,
  event_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at BIGINT NOT NULL,
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
    // The embedded engine's rollups (see there), plus a shard per connection:
    // concurrent transactions counting into the same bucket would otherwise
    // queue on one row lock, each holding it until its COMMIT.
    sql: `
-- Writers wait until the triggers exist, so the backfill below misses no row
-- and counts none twice. A rollup row is updated in place many times: room
-- left in each page keeps those updates HOT, pruned without a VACUUM.
LOCK TABLE clicks, leads, conversions IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE conversion_rollups (
  workspace_id BIGINT NOT NULL,
  bucket BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  postback_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  currency TEXT NOT NULL,
  shard SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  priced BIGINT NOT NULL,
  micros NUMERIC NOT NULL,
  negative_micros NUMERIC NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id, postback_id, event, currency, shard)
) WITH (fillfactor = 70);
CREATE TABLE click_rollups (
  workspace_id BIGINT NOT NULL,
  bucket BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  shard SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id, shard)
) WITH (fillfactor = 70);
CREATE TABLE lead_rollups (
  workspace_id BIGINT NOT NULL,
  bucket BIGINT NOT NULL,
  campaign_id BIGINT NOT NULL,
  shard SMALLINT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, bucket, campaign_id, shard)
) WITH (fillfactor = 70);
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
    name: 'rollups of inserted rows written once per statement',
    // A row trigger ran a function and an upsert for every inserted click,
    // lead and conversion: about a fifth of PostgreSQL's CPU under postback
    // load. A batch statement's rows now add to each bucket once. The row
    // trigger stays for deletes and key updates, which are rare.
    sql: `
LOCK TABLE clicks, leads, conversions IN SHARE ROW EXCLUSIVE MODE;
${ROLLUPS_V5.map(statementRollupSql).join('')}`,
  },
  {
    version: 8,
    name: 'due deliveries found per destination',
    // A claim took every due row, numbered them per destination and kept the
    // first few of each: its cost grew with every row waiting (a destination
    // down for a while). Indexed by destination, a claim reads only the rows
    // it takes.
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
ALTER TABLE destinations ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 10,
    name: 'delivery lease owners',
    // Leases did not say whose they were, so a restarted node could not free
    // the ones its previous incarnation held: they waited to run out. A lease
    // now names its worker, and only a gone worker's leases are freed.
    sql: `
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
`,
  },
  {
    version: 11,
    name: 'event names of saved destinations as postbacks are counted',
    // An auto action, webhook or pixel mapping saved with a network's name
    // for an event (`emailconf`, `sale`) listened on a name no event is
    // recorded under, and never fired. The API now normalises the names; this
    // puts the ones saved before right, and rebuilds their routes.
    apply: normaliseSavedEvents,
  },
  {
    version: 12,
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
  {
    version: 13,
    name: "a conversion's lead checked by the store, not by a foreign key",
    // Every inserted conversion ran the foreign key's check: a query of its
    // own per row (through SPI, with its executor start) that also locked the
    // lead's row, a write into a page of the leads table at a random place.
    // About a tenth of PostgreSQL's CPU time per postback. The store only
    // ever inserts the id of a lead that the same statement has just read
    // (or, for further attempts, the same transaction), and leads are never
    // deleted by the application: the embedded engine dropped the same key
    // in its migration 11. Whatever the constraint is called, it goes.
    sql: `
DO $$
DECLARE c name;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint
    WHERE conrelid = 'conversions'::regclass AND confrelid = 'leads'::regclass AND contype = 'f'
  LOOP
    EXECUTE format('ALTER TABLE conversions DROP CONSTRAINT %I', c);
  END LOOP;
END $$;
`,
  },
];

async function normaliseSavedEvents(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{
    id: string;
    campaign_id: string;
    enabled: boolean;
    deleted_at: string | null;
    settings: string;
  }>('SELECT id, campaign_id, enabled, deleted_at, settings FROM destinations FOR UPDATE');
  const rewrites = savedEventRewrites(
    rows.map((r) => ({
      id: r.id,
      campaignId: r.campaign_id,
      enabled: r.enabled,
      deleted: r.deleted_at !== null,
      settings: r.settings,
    })),
  );
  for (const r of rewrites) {
    await client.query(
      'UPDATE destinations SET settings = $1, revision = revision + 1 WHERE id = $2',
      [r.settings, r.id],
    );
    await client.query(
      'DELETE FROM forward_routes WHERE campaign_id = $1 AND destination_id = $2',
      [r.campaignId, r.id],
    );
    if (r.routes === null || r.routes.length === 0) continue;
    await client.query(
      `INSERT INTO forward_routes (campaign_id, event, destination_id)
       SELECT $1::bigint, e, $2::bigint FROM unnest($3::text[]) AS e
       ON CONFLICT DO NOTHING`,
      [r.campaignId, r.id, r.routes],
    );
  }
}
