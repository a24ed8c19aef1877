// The structured logger of library and CLI: pino on stderr (JSON lines), so stdout stays clean for --json output.
import { pino } from 'pino';

export const log = pino({ level: process.env.TDS_LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));

export function setVerbose(v: boolean): void {
  if (v) log.level = 'debug';
}
