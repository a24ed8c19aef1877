// 3D small-region removal for tumour label volumes: connected components (6-connectivity) of the foreground
// (every label > 0 together, the whole tumour) smaller than `minVoxels` become background. Scattered false
// positives far from the tumour are the typical error of a patch-based model (and cost HD95 most); nested labels
// inside a kept component are left as they are. Voxels x fastest, dims [nx, ny, nz].
export function removeSmallComponents3d(
  labels: Uint8Array,
  dims: readonly [number, number, number],
  minVoxels: number,
): { removed: number; components: number } {
  if (minVoxels <= 1) return { removed: 0, components: 0 };
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const members: number[] = [];
  let removed = 0;
  let components = 0;
  for (let s = 0; s < n; s++) {
    if (!labels[s] || seen[s]) continue;
    components++;
    let top = 0;
    stack[top++] = s;
    seen[s] = 1;
    members.length = 0;
    while (top) {
      const i = stack[--top];
      members.push(i);
      const x = i % nx;
      const y = ((i - x) / nx) % ny;
      const z = (i - x - y * nx) / (nx * ny);
      const visit = (j: number) => {
        if (labels[j] && !seen[j]) {
          seen[j] = 1;
          stack[top++] = j;
        }
      };
      if (x > 0) visit(i - 1);
      if (x < nx - 1) visit(i + 1);
      if (y > 0) visit(i - nx);
      if (y < ny - 1) visit(i + nx);
      if (z > 0) visit(i - nx * ny);
      if (z < nz - 1) visit(i + nx * ny);
    }
    if (members.length < minVoxels) {
      for (const i of members) labels[i] = 0;
      removed += members.length;
    }
  }
  return { removed, components };
}
