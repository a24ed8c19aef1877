// RUN_DIR/curves.svg: training loss and validation IoU per epoch, with stage boundaries marked.
export interface CurvePoint {
  epoch: number;
  stage: string;
  loss: number;
  valIoU: number;
}

export function curvesSvg(points: CurvePoint[]): string {
  const W = 720;
  const H = 300;
  const m = { l: 56, r: 56, t: 30, b: 40 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const maxEpoch = Math.max(1, ...points.map((p) => p.epoch));
  const losses = points.map((p) => p.loss).filter(Number.isFinite);
  const maxLoss = Math.max(1e-6, ...losses);
  const x = (e: number) => m.l + (pw * (e - 0.5)) / maxEpoch;
  const yl = (v: number) => m.t + ph * (1 - v / maxLoss);
  const yi = (v: number) => m.t + ph * (1 - v);
  const path = (f: (p: CurvePoint) => number, y: (v: number) => number) =>
    points
      .filter((p) => Number.isFinite(f(p)))
      .map((p, i) => `${i ? 'L' : 'M'}${x(p.epoch).toFixed(1)},${y(f(p)).toFixed(1)}`)
      .join(' ');
  const bounds: string[] = [];
  points.forEach((p, i) => {
    if (i === 0 || points[i - 1].stage !== p.stage) {
      const bx = x(p.epoch) - pw / maxEpoch / 2;
      bounds.push(
        `<line x1="${bx.toFixed(1)}" y1="${m.t}" x2="${bx.toFixed(1)}" y2="${m.t + ph}" stroke="#999" stroke-dasharray="4 3"/><text x="${(bx + 4).toFixed(1)}" y="${m.t + 12}" font-size="11" fill="#555">${p.stage}</text>`,
      );
    }
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(
    (t) =>
      `<text x="${W - m.r + 6}" y="${(yi(t) + 4).toFixed(1)}" font-size="10" fill="#1565c0">${t.toFixed(2)}</text><text x="${m.l - 6}" y="${(yl(t * maxLoss) + 4).toFixed(1)}" font-size="10" fill="#c62828" text-anchor="end">${(t * maxLoss).toFixed(2)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${m.l}" y="18" font-size="13">TDS training: loss (red, left) and validation challenge IoU (blue, right) per epoch</text>
<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>
${bounds.join('\n')}
${ticks.join('\n')}
<path d="${path((p) => p.loss, yl)}" fill="none" stroke="#c62828" stroke-width="2"/>
<path d="${path((p) => p.valIoU, yi)}" fill="none" stroke="#1565c0" stroke-width="2"/>
<text x="${m.l + pw / 2}" y="${H - 10}" font-size="11" text-anchor="middle">epoch (1..${maxEpoch})</text>
</svg>
`;
}
