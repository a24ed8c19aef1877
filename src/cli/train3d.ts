// `tds train` on a volume dataset (BraTS): the 3D TDS network on patches (src/train/train3d.ts). Ctrl-C finishes
// the current step and keeps the completed epochs (exit 130; --resume continues).
import type { Palette } from '../ingest/palette.js';
import { parseTrain3d } from '../train/config3d.js';
import { scaleStageEnds } from '../train/config.js';
import { train3d } from '../train/train3d.js';
import type { BackendName } from '../model/backend.js';
import { log } from '../log.js';
import { stopOnSignals } from './signals.js';

export async function runTrain3d(
  o: {
    data: string;
    out: string;
    backend: string;
    resume?: boolean;
    epochsScale?: string;
    holdOut?: string;
    json?: boolean;
    config: string;
  },
  palette: Palette,
  raw: Record<string, unknown>,
): Promise<void> {
  const t = parseTrain3d(raw.train, o.config);
  if (o.holdOut !== undefined) t.holdOut = o.holdOut.trim() === 'none' ? [] : o.holdOut.split(',').map((s) => s.trim());
  if (o.epochsScale !== undefined) t.stages = scaleStageEnds(t.stages, Number(o.epochsScale));
  // Ctrl-C / SIGTERM: finish the current step and keep the completed epochs (a second one quits at once).
  const stop = stopOnSignals();
  stop.signal.addEventListener('abort', () =>
    log.warn('interrupt: finishing the current step and saving; press Ctrl-C again to quit at once'),
  );
  try {
    const r = await train3d({
      palette,
      config: t,
      data: o.data,
      out: o.out,
      backend: o.backend as BackendName,
      resume: o.resume,
      signal: stop.signal,
      command: `tds ${process.argv.slice(2).join(' ')}`,
      onEpoch: (e) => log.info({ ...e, seconds: Math.round(e.seconds) }, 'epoch done'),
    });
    if (r.interrupted) process.exitCode = stop.received === 'SIGTERM' ? 143 : 130;
    if (o.json) console.log(JSON.stringify(r));
    else if (r.interrupted)
      console.log(
        `interrupted after ${r.epochsDone} complete epoch(s); progress saved. Continue with: tds train ... --out ${o.out} --resume`,
      );
    else
      console.log(
        `trained ${r.epochsDone} epochs on ${r.cases.length} case(s) (${r.cases.join(', ')}); model in ${r.modelDir}`,
      );
  } finally {
    stop.dispose();
  }
}
