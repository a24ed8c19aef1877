// Data types that cross rooms (shared/DESIGN.md §9). One definition each.

/** An interleaved 8-bit image. `data` is owned by whoever holds the Image; functions never mutate an input. */
export interface Image {
  data: Buffer;
  width: number;
  height: number;
  /** 3 for RGB (the only layout decoders emit), 1 for grey/index. */
  channels: number;
}

/** One decoded moment of video: the left view, and the right view for stereo input. */
export interface Frame {
  /** 0-based position in the emitted stream (after rate selection). */
  index: number;
  /** Presentation time in milliseconds of media time. */
  ptsMs: number;
  left: Image;
  right?: Image;
  /** Source file stem for frame folders (e.g. `frame012`); absent for video. */
  name?: string;
  /** Sequence folder (e.g. `seq_3`) when the source is a ROBOT18-layout folder. */
  sequence?: string;
}
