// `tds serve SOURCE --model DIR`: live segmentation published over WebSocket, with the overlay page.
import type { Command } from 'commander';
import { closeInferenceThreads } from '../model/ort-thread.js';
import { serve } from '../stream/serve.js';
import { DEFAULT_SERVE } from '../stream/defaults.js';
import { parseSizes } from '../model/ensemble.js';
import { parseRate, parseStereo } from '../ingest/options.js';
import { TdsError } from '../errors.js';
import { nonNegativeInt, positiveInt } from './args.js';
import { log } from '../log.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('segment a live or recorded stream and publish masks/labels over WebSocket with an overlay page')
    .argument(
      '<source>',
      'video file, URL (rtsp://, udp://), device (/dev/video0), - (stdin), frame folder, synth, or a recording (*.mcap) to replay',
    )
    .option('--model <dir>', 'model folder (e.g. models/demo); not needed to replay a recording')
    .option('--host <host>', 'address to listen on (loopback by default)', DEFAULT_SERVE.host)
    .option('--port <n>', 'port (0 = any free port)', String(DEFAULT_SERVE.port))
    .option('--token <token>', 'require this token on WebSocket connections and /metrics (or env TDS_TOKEN)')
    .option('--allow-origin <origin...>', 'browser origins allowed to connect besides this server')
    .option('--rate <rate>', '1hz | native | FPS', 'native')
    .option('--stereo <packing>', 'none | sbs | tb', 'none')
    .option('--right <file>', 'second file holding the right view')
    .option('--realtime', 'replay a file at its own pace, like a live feed')
    .option('--loop', 'restart a file source when it ends')
    .option('--sizes <list>', 'ensemble input sizes HxW,HxW')
    .option('--flip', "horizontal-flip test-time augmentation (default: the model's)")
    .option('--no-flip', "no flip TTA even where the model's defaults have it")
    .option('--min-area <n>', "remove foreground regions smaller than N pixels (default: the model's, else 0)")
    .option('--keep-detached', "keep foreground regions that do not reach the edge of the view (default: the model's)")
    .option(
      '--deadline-ms <n>',
      'drop ensemble sizes when a frame takes longer than this (0 = off)',
      String(DEFAULT_SERVE.deadlineMs),
    )
    .option('--record <file.mcap>', 'record frames, masks and labels to an MCAP file (Foxglove channels)')
    .option('--record-max-mb <n>', 'start a new recording file (NAME-001.mcap, ...) at this size')
    .option('--no-foxglove', 'no Foxglove WebSocket endpoint at /foxglove')
    .action(
      async (
        source: string,
        o: {
          model?: string;
          host: string;
          port: string;
          token?: string;
          allowOrigin?: string[];
          rate: string;
          stereo: string;
          right?: string;
          realtime?: boolean;
          loop?: boolean;
          sizes?: string;
          flip?: boolean;
          minArea?: string;
          keepDetached?: boolean;
          deadlineMs: string;
          record?: string;
          recordMaxMb?: string;
          foxglove: boolean;
        },
      ) => {
        const port = Number(o.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new TdsError(
            'BAD_OPTION',
            `--port must be 0..65535, got ${o.port}`,
            'e.g. --port 8080, or 0 for any free port',
          );
        const minArea = o.minArea === undefined ? undefined : nonNegativeInt('--min-area', o.minArea, '50');
        const deadlineMs = Number(o.deadlineMs);
        if (!(deadlineMs >= 0))
          throw new TdsError(
            'BAD_OPTION',
            `--deadline-ms must be a non-negative number, got ${o.deadlineMs}`,
            'e.g. --deadline-ms 80',
          );
        const h = await serve(source, {
          model: o.model,
          host: o.host,
          port,
          token: o.token ?? process.env.TDS_TOKEN,
          allowOrigins: o.allowOrigin,
          rate: parseRate(o.rate),
          stereo: parseStereo(o.stereo),
          right: o.right,
          realtime: o.realtime,
          loop: o.loop,
          sizes: o.sizes ? parseSizes(o.sizes) : undefined,
          flip: o.flip,
          minArea,
          ...(o.keepDetached ? { detached: null } : {}),
          deadlineMs,
          record: o.record,
          recordMaxBytes:
            o.recordMaxMb === undefined ? undefined : positiveInt('--record-max-mb', o.recordMaxMb) * 2 ** 20,
          foxglove: o.foxglove,
        });
        const ws = h.url.replace('http', 'ws');
        console.log(
          `tds serve: overlay at ${h.url}/  websocket ${ws}/ws${h.foxglove ? `  foxglove ${ws}/foxglove` : ''}  health ${h.url}/healthz  metrics ${h.url}/metrics${o.record ? `  recording to ${o.record}` : ''}`,
        );
        const stop = async () => {
          log.info('shutting down');
          // Never hang on shutdown: a stuck peer or source must not keep the process (and ffmpeg) alive.
          setTimeout(() => process.exit(0), 3000).unref();
          await h.close();
          // Exiting while ORT's thread is inside a run aborts the process: let it finish and end first.
          await closeInferenceThreads();
          process.exit(0);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await h.done; // a file source that fails mid-way rejects: the command exits non-zero with its error
          log.info({ frames: h.counters.processed, dropped: h.counters.dropped }, 'source ended');
        } finally {
          await h.close();
        }
      },
    );
}
