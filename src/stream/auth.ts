// Who may connect: the token (Bearer header or ?token=) and, for browsers, the origin (the server's own or an
// allowed one; clients without an Origin header, i.e. not browsers, are allowed).
import type { IncomingMessage } from 'node:http';

export interface AuthOptions {
  token?: string;
  allowOrigins?: string[];
}

export function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
}

/** Why a WebSocket upgrade is refused ([HTTP status, reason]), or undefined when it may proceed. */
export function upgradeRefusal(req: IncomingMessage, o: AuthOptions): [number, string] | undefined {
  if (o.token && tokenOf(req) !== o.token) return [401, 'Unauthorized'];
  const origin = req.headers.origin;
  if (origin) {
    const own = [`http://${req.headers.host}`, `https://${req.headers.host}`];
    if (!own.includes(origin) && !(o.allowOrigins ?? []).includes(origin)) return [403, 'Forbidden'];
  }
  return undefined;
}
