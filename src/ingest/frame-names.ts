// The two frame-name conventions, one home. Dataset frames (ROBOT18 folders, `tds extract`, `tds synth`) are
// `frame000` (at least three digits, as the challenge names them, growing past 999); frames of a video in
// `tds process` outputs are `frame000000` (six digits: an hour at 60 fps stays in order when listed).

/** Dataset frame stem: frame000, frame001, ... frame1000. */
export function frameStem(i: number): string {
  return `frame${String(i).padStart(3, '0')}`;
}

/** Output stem of a video frame in `tds process` outputs: frame000000, ... */
export function videoFrameStem(i: number): string {
  return `frame${String(i).padStart(6, '0')}`;
}
