// The browser for page tests: CHROMIUM_PATH, else a system Chromium, else the Chromium that ships inside the
// @sparticuz/chromium npm package (installed by `npm ci`; unpacked to /tmp on first use). Nothing is
// downloaded at test time and nothing needs apt.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
/** Flags that keep Chromium off this machine's closed network. */
const QUIET = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchChromium(): Promise<{ browser: Browser; source: string }> {
  const given = process.env.CHROMIUM_PATH ?? SYSTEM.find((p) => existsSync(p));
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return {
      browser: await chromium.launch({
        executablePath: given,
        args: ['--headless', '--no-sandbox', '--disable-gpu', ...QUIET],
      }),
      source: given,
    };
  }
  const { default: Sparticuz } = await import('@sparticuz/chromium');
  const path = await Sparticuz.executablePath();
  // Its flags are made for AWS Lambda; --single-process there closes the browser when a page closes here.
  const args = Sparticuz.args.filter((a: string) => a !== '--single-process');
  return {
    browser: await chromium.launch({ executablePath: path, args: [...args, ...QUIET] }),
    source: `@sparticuz/chromium (${path})`,
  };
}
