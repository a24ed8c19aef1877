// Typed errors for user-facing failures: each names what was given, where, and how to fix it.

export type TdsErrorCode =
  | 'ENOENT_INPUT'
  | 'NOT_VIDEO'
  | 'CORRUPT_VIDEO'
  | 'FFMPEG_FAILED'
  | 'BAD_STEREO'
  | 'STEREO_MISMATCH'
  | 'BAD_RATE'
  | 'BAD_LABEL'
  | 'BAD_PALETTE'
  | 'BAD_OUTPUT'
  | 'BAD_OPTION'
  | 'BAD_DATASET'
  | 'BAD_MODEL'
  | 'BAD_IMAGE'
  | 'BAD_RECORDING'
  | 'TRAIN_FAILED'
  | 'QUEUE_FAILED';

export class TdsError extends Error {
  readonly code: TdsErrorCode;
  /** What the user can do about it; appended to the message. */
  readonly fix?: string;
  constructor(code: TdsErrorCode, message: string, fix?: string) {
    super(fix ? `${message} (fix: ${fix})` : message);
    this.name = 'TdsError';
    this.code = code;
    this.fix = fix;
  }
}

export function isTdsError(e: unknown): e is TdsError {
  return e instanceof TdsError;
}
