// A horizontal bar chart as SVG (per-class IoU next to eval.csv).
export function barChartSvg(
  bars: Array<{ label: string; value: number; color: [number, number, number] }>,
  title: string,
): string {
  const rowH = 22;
  const left = 170;
  const barW = 400;
  const H = 40 + bars.length * rowH;
  const rows = bars
    .map((b, i) => {
      const y = 30 + i * rowH;
      const v = Number.isNaN(b.value) ? 0 : Math.max(0, Math.min(1, b.value));
      const text = Number.isNaN(b.value) ? 'n/a' : b.value.toFixed(3);
      return `<text x="${left - 8}" y="${y + 15}" font-size="12" text-anchor="end">${b.label}</text><rect x="${left}" y="${y + 3}" width="${(v * barW).toFixed(1)}" height="${rowH - 6}" fill="rgb(${b.color.join(',')})" stroke="#333"/><text x="${left + v * barW + 6}" y="${y + 15}" font-size="12">${text}</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + barW + 80}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="13">${title}</text>\n${rows}\n</svg>\n`;
}
