// npm run migrate-data -- --from sqlite:<path> --to postgres://... [--schema name]
// Copies a single-machine install into an empty PostgreSQL database and checks
// it; on any failure nothing is committed and the exit status is 1.
import { parseArgs } from 'node:util';
import { formatMicros } from '../domain/money.js';
import { type MigrateDataReport, migrateData } from '../store/migrate-data.js';

const USAGE =
  'usage: npm run migrate-data -- --from sqlite:<path> --to postgres://... [--schema name]';

try {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      schema: { type: 'string' },
    },
    strict: true,
  });
  const from = values.from ?? '';
  const to = values.to ?? '';
  if (!from.startsWith('sqlite:') || from.length === 'sqlite:'.length) {
    throw new Error(`--from must be sqlite:<path>; ${USAGE}`);
  }
  if (!/^postgres(ql)?:\/\//.test(to)) throw new Error(`--to must be postgres://...; ${USAGE}`);
  const fromPath = from.slice('sqlite:'.length);
  const report = await migrateData({
    fromPath,
    toUrl: to,
    ...(values.schema ? { toSchema: values.schema } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(summary(fromPath, withoutPassword(to), values.schema, report));
} catch (error) {
  process.stderr.write(
    `clickback: migrate-data failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}

function summary(
  from: string,
  to: string,
  schema: string | undefined,
  report: MigrateDataReport,
): string {
  const width = Math.max(...Object.keys(report.tables).map((t) => t.length));
  const lines = [
    `copied ${from} into ${to}${schema ? ` (schema ${schema})` : ''} in ${(report.ms / 1000).toFixed(1)} s; counts and sums verified`,
    ...Object.entries(report.tables).map(([t, n]) => `  ${t.padEnd(width)}  ${n}`),
    `conversions by event: ${list(report.events, String)}`,
    `amounts by currency: ${list(report.sums, (micros) => formatMicros(BigInt(micros)))}`,
  ];
  if (report.nulReplaced > 0) {
    lines.push(`${report.nulReplaced} text values had NUL bytes replaced with U+FFFD`);
  }
  return `${lines.join('\n')}\n`;
}

function list<T>(values: Record<string, T>, show: (value: T) => string): string {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${show(v)}`).join(', ');
}

/** The summary may end up in a ticket or a chat; the password should not. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
