// Half-pixel bilinear sampling positions (TF half_pixel_centers, PyTorch align_corners=False, cv2 INTER_LINEAR):
// shared by preprocessing (images) and post-processing (probability maps) so both resample the same way.
export interface AxisTaps {
  /** Lower and upper source index per destination index. */
  i0: Int32Array;
  i1: Int32Array;
  /** Weight of i1 (i0 gets 1 - w). */
  w: Float32Array;
}

export function axisTaps(src: number, dst: number): AxisTaps {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w = new Float32Array(dst);
  const scale = src / dst;
  for (let d = 0; d < dst; d++) {
    const s = Math.max(0, (d + 0.5) * scale - 0.5);
    const a = Math.min(Math.floor(s), src - 1);
    i0[d] = a;
    i1[d] = Math.min(a + 1, src - 1);
    w[d] = s - a;
  }
  return { i0, i1, w };
}
