// `synth` as a live source: a generated surgical scene (src/ingest/synth) paced at a frame rate like a camera,
// with its exact labels attached for demos and latency/accuracy checks.
import type { Frame } from '../types.js';
import { synthSequence } from '../ingest/synth.js';

export interface SynthLiveOptions {
  fps: number;
  /** Pace frames in real time (default); false emits as fast as they render. */
  realtime: boolean;
  width: number;
  height: number;
  seed: number;
  /** Stop after this many frames (default: endless). */
  frames?: number;
  /**
   * Render this many frames once and replay them in a loop (default 125, 5 s at 25 fps), so the source costs
   * no CPU while serving, like a camera; 0 renders every frame on the fly.
   */
  loopFrames?: number;
  /** Also render the right view (default false: the model segments the left view only). */
  stereo?: boolean;
}

export interface SynthFrame extends Frame {
  /** Ground-truth class indices of the left view. */
  truth: Uint8Array;
}

export function synthLive(o: Partial<SynthLiveOptions> = {}): {
  frames: AsyncIterable<SynthFrame>;
  fps: number;
  close(): void;
} {
  const opts: SynthLiveOptions = {
    fps: 25,
    realtime: true,
    width: 320,
    height: 256,
    seed: 2026,
    loopFrames: 125,
    stereo: false,
    ...o,
  };
  let closed = false;
  const seq = synthSequence({ seed: opts.seed, seq: 1, width: opts.width, height: opts.height });
  // Slow scene time: 0.2 synth steps per frame at 25 fps gives smooth motion.
  const render = (i: number) => seq.render(i * 0.2, opts.stereo);
  const ring = opts.loopFrames ? Array.from({ length: opts.loopFrames }, (_, i) => render(i)) : undefined;
  return {
    fps: opts.fps,
    close: () => (closed = true),
    frames: {
      async *[Symbol.asyncIterator]() {
        const start = performance.now();
        for (let i = 0; !closed && (opts.frames === undefined || i < opts.frames); i++) {
          const ptsMs = (i * 1000) / opts.fps;
          // Always yield to the event loop (a timer, not a microtask): when rendering runs behind the frame
          // rate, a loop of ready promises would starve I/O, ORT's completion callbacks and the HTTP server.
          const wait = opts.realtime ? start + ptsMs - performance.now() : 0;
          await new Promise((r) => setTimeout(r, Math.max(0, wait)));
          if (closed) return;
          const f = ring ? ring[i % ring.length] : render(i);
          yield { index: i, ptsMs, left: f.left, right: f.right, truth: f.labels };
        }
      },
    },
  };
}
