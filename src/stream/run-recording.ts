// The MCAP recording of a `tds process` run. It is a whole-run output like overlay.mp4: written to
// NAME.mcap.part, renamed when the run finishes, removed when it fails or is interrupted (a --resume records the
// whole run again). Frames are stamped with their media time.
import { resolve } from 'node:path';
import sharp from 'sharp';
import type { Frame } from '../types.js';
import type { TdsJson } from '../model/model-dir.js';
import type { SegmenterInfo } from '../model/segmenter.js';
import type { Rgb } from '../colorize.js';
import { McapRecorder } from './mcap.js';
import type { FrameLine } from './frame-line.js';

export class RunRecording {
  private lastNs = -1n;
  private constructor(private readonly rec: McapRecorder) {}

  /** Opens the recording (an existing file is refused before anything is processed). */
  static async open(file: string, meta: TdsJson, engine: SegmenterInfo, input: string): Promise<RunRecording> {
    const palette = {
      classes: meta.classes.map((c) => ({ id: c.id, name: c.name, color: c.color as Rgb })),
      scenes: meta.scenes.map((s) => s.name),
    };
    return new RunRecording(
      await McapRecorder.open(file, {
        palette,
        model: { profile: meta.profile, inputSize: meta.inputSize, engine: engine.engine, backend: engine.backend },
        source: resolve(input),
      }),
    );
  }

  async record(f: Frame, mask: Uint8Array, width: number, height: number, l: FrameLine): Promise<void> {
    // Media time; kept strictly increasing where a folder's sequences each start at 0.
    let timeNs = BigInt(Math.round(f.ptsMs * 1000)) * 1000n;
    if (timeNs <= this.lastNs) timeNs = this.lastNs + 1_000_000n;
    this.lastNs = timeNs;
    const jpeg = await sharp(f.left.data, { raw: { width: f.left.width, height: f.left.height, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
    await this.rec.write({
      timeNs,
      jpeg,
      width,
      height,
      mask,
      labels: {
        frame: l.frame,
        ptsMs: l.ptsMs,
        presence: l.presence,
        present: l.present,
        maskPresent: l.maskPresent,
        sync: l.sync,
        scene: l.scene,
        sizes: l.sizes,
      },
    });
  }

  /** Closes (indexed, renamed) when the run finished, else removes the partial recording. */
  async finish(ok: boolean): Promise<void> {
    if (ok) await this.rec.close();
    else await this.rec.discard();
  }
}
