// The overlay page's static files: from its folder only (decoded, normalised, and required to stay inside it),
// known types only, with a Content-Security-Policy.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'";

/** Answers a GET/HEAD for `pathname` from `webRoot` (an absolute, resolved folder). */
export async function serveStatic(
  webRoot: string,
  pathname: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const file = normalize(join(webRoot, rel));
  if (!file.startsWith(webRoot + sep) || rel.includes('\0') || !existsSync(file) || !MIME[extname(file)]) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)],
    'Content-Security-Policy': CSP,
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : await readFile(file));
}
