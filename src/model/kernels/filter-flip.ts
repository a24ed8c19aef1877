// The flipped, channel-swapped kernel of a transposed convolution, and a zero-upsampled gradient, computed on
// the host: wasm's Reverse kernel took 25 ms for one 3x3x128x128 filter (~100 ms per fast-profile training step,
// 17 calls), and its Gather was not much faster; this loop takes well under a millisecond for the same filter.

/** W[kh,kw,ci,co] -> W'[y][x][o][i] = W[kh-1-y][kw-1-x][i][o] (spatially flipped, in/out channels swapped). */
export function flipSwap(w: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [kh, kw, ci, co] = shape;
  const out = new Float32Array(kh * kw * ci * co);
  const taps = kh * kw;
  for (let t = 0; t < taps; t++) {
    const src = (taps - 1 - t) * ci * co;
    const dst = t * ci * co;
    for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[dst + o * ci + i] = w[src + i * co + o];
  }
  return out;
}

/** dy[n,h,w,c] with s-1 zero rows/columns between its rows/columns: [n,(h-1)*sh+1,(w-1)*sw+1,c]. */
export function zeroUpsampleData(
  dy: ArrayLike<number>,
  shape: readonly number[],
  strides: readonly [number, number],
): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, h, w, c] = shape;
  const [sh, sw] = strides;
  const H = (h - 1) * sh + 1;
  const W = (w - 1) * sw + 1;
  const out = new Float32Array(n * H * W * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const src = ((b * h + y) * w + x) * c;
        const dst = ((b * H + y * sh) * W + x * sw) * c;
        for (let k = 0; k < c; k++) out[dst + k] = dy[src + k];
      }
  return { data: out, shape: [n, H, W, c] };
}
