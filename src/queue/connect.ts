// A connection to the job queue: pg-boss on a Postgres server (`--queue postgres://...`), or on the embedded one.
// Two pg-boss queues: `tds-chunk` (one job per time chunk of a recording) and `tds-merge` (one per video, when
// its chunks are all done); and one table of ours, tds.videos, that makes adding a video idempotent and says
// where its outputs go.
import { PgBoss } from 'pg-boss';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import { useEmbedded } from './embedded.js';

export const CHUNK_QUEUE = 'tds-chunk';
export const MERGE_QUEUE = 'tds-merge';

/** Seconds without a worker's heartbeat before its chunk goes back to the queue (a killed or cut-off worker).
 * pg-boss's minimum is 10; TDS_QUEUE_HEARTBEAT_S sets it when the queues are first created. */
export function heartbeatSeconds(): number {
  const v = Number(process.env.TDS_QUEUE_HEARTBEAT_S ?? 20);
  return Number.isInteger(v) && v >= 10 ? v : 20;
}

export interface Queue {
  boss: PgBoss;
  /** Where it is, without the password. */
  where: string;
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

const SCHEMA_SQL = `
create schema if not exists tds;
create table if not exists tds.videos (
  key text primary key,
  name text not null,
  input text not null,
  out text not null unique,
  options jsonb not null,
  chunks int not null,
  chunk_seconds real,
  created_on timestamptz not null default now(),
  merged_on timestamptz,
  frames int
);
alter table tds.videos add column if not exists frames int;`;

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Opens the queue at `url`, or the embedded one (started on demand) when `url` is undefined. */
export async function openQueue(url?: string, o: { worker?: boolean } = {}): Promise<Queue> {
  const lease = url ? undefined : await useEmbedded();
  const conn = url ?? lease!.url;
  if (url && !/^postgres(ql)?:\/\//.test(url)) {
    throw new TdsError(
      'BAD_OPTION',
      `--queue must be a postgres:// URL, got ${url}`,
      'e.g. --queue postgres://user:pass@host:5432/db',
    );
  }
  const hb = heartbeatSeconds();
  const boss = new PgBoss({
    connectionString: conn,
    application_name: 'tds',
    // Workers look for chunks whose worker stopped sending heartbeats this often (pg-boss's monitor pass
    // fails them, to be retried; its default of 60 s would leave a dead worker's chunk idle for a minute).
    superviseIntervalSeconds: Math.min(5, hb),
    monitorIntervalSeconds: Math.min(5, hb),
    supervise: !!o.worker,
    max: 4,
  });
  // A lost connection (the server restarting) is reported here; pg-boss keeps retrying, and so do we.
  boss.on('error', (e: Error) => log.warn({ err: e.message }, 'queue connection'));
  try {
    await boss.start();
    const db = boss.getDb();
    // Several workers may start at once: the schema is created under one advisory lock.
    await db.executeSql(`select pg_advisory_lock(74133); ${SCHEMA_SQL}; select pg_advisory_unlock(74133);`);
    for (const [name, opts] of [
      [CHUNK_QUEUE, { retryLimit: 3, retryDelay: 1, heartbeatSeconds: hb, expireInSeconds: 6 * 3600 }],
      [MERGE_QUEUE, { retryLimit: 5, retryDelay: 2, heartbeatSeconds: hb, expireInSeconds: 3600, policy: 'singleton' }],
    ] as const) {
      if (!(await boss.getQueue(name))) await boss.createQueue(name, opts).catch(() => {});
    }
  } catch (e) {
    await boss.stop({ graceful: false }).catch(() => {});
    await lease?.release();
    throw new TdsError(
      'QUEUE_FAILED',
      `cannot open the queue at ${redact(conn)}: ${(e as Error).message}`,
      url
        ? 'check the URL, that the server runs and accepts this user'
        : 'see the embedded server log in the queue folder',
    );
  }
  return {
    boss,
    where: url ? redact(url) : `embedded (${lease!.dir}, port ${lease!.port})`,
    sql: async <T>(text: string, values?: unknown[]) => (await boss.getDb().executeSql(text, values)).rows as T[],
    close: async () => {
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      await lease?.release();
    },
  };
}
