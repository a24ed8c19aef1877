// Progress bars for long commands, shown only when stderr is a TTY (logs and pipes stay clean).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, extra = ''): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted}${extra}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total || 1, 0);
  return {
    update(done, t, payload) {
      if (t !== undefined) bar.setTotal(t);
      bar.update(done, payload);
    },
    stop: () => bar.stop(),
  };
}
