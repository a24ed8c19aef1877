// The overlay page in a real headless Chromium (Debian's chromium via playwright-core), served by the real
// `tds serve synth` CLI: mask colours must appear exactly where the mask has those classes.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { readTdsJson } from '../../src/model/model-dir.js';
import { root, waitUntil } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MODEL = join(root, 'models', 'demo');

describe('overlay page in Chromium', () => {
  let server: ChildProcess;
  let url = '';
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: .ci/run installs Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH`);
    server = spawn(process.execPath, [join(root, 'dist', 'cli', 'index.js'), 'serve', 'synth', '--model', MODEL, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    expect(await waitUntil(() => /overlay at (http:\/\/[^ ]+)\//.test(out), 30_000)).toBe(true);
    url = /overlay at (http:\/\/[^ ]+)\//.exec(out)![1];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
  });

  it('draws the mask blended over the frame, with the classes present in the legend', async () => {
    const page = await browser.newPage({ deviceScaleFactor: 1, viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/?opacity=1&native=1&freeze=5`);
    await page.waitForFunction(() => (window as unknown as { tdsDebug: { frozen: boolean } }).tdsDebug.frozen, undefined, { timeout: 30_000 });
    expect(await page.textContent('#conn')).toBe('live');
    const dbg = await page.evaluate(() => {
      const d = (window as unknown as { tdsDebug: { width: number; height: number; labels: Uint8Array; frame: number } }).tdsDebug;
      return { width: d.width, height: d.height, frame: d.frame, labels: Array.from(d.labels) };
    });
    expect([dbg.width, dbg.height]).toEqual([320, 256]);
    const shot = await page.locator('#view').screenshot();
    const { data, info } = await sharp(shot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([320, 256]);
    const colors = readTdsJson(MODEL).classes.map((c) => c.color);
    const present = [...new Set(dbg.labels)].filter((k) => k !== 0);
    expect(present.length).toBeGreaterThan(0);
    for (const k of present) {
      let n = 0;
      let match = 0;
      dbg.labels.forEach((v, i) => {
        if (v !== k) return;
        n++;
        const px = [data[i * 3], data[i * 3 + 1], data[i * 3 + 2]];
        if (px.every((c, ch) => Math.abs(c - colors[k][ch]) <= 3)) match++;
      });
      expect(match / n).toBeGreaterThan(0.97);
    }
    // background pixels show the video, not a class colour
    const bg = dbg.labels.findIndex((v) => v === 0);
    expect(colors.slice(1).some((c) => c.every((v, ch) => Math.abs(data[bg * 3 + ch] - v) <= 3))).toBe(false);
    const legend = await page.locator('#classes li').allTextContents();
    expect(legend.length).toBeGreaterThan(0);
    expect(await page.textContent('#scene')).toMatch(/scene: (preparing|peeling|incising)/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
