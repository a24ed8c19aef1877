// The overlay page in a real headless Chromium (system or npm-shipped, via playwright-core), served by the real
// `tds serve synth` CLI: mask colours must appear exactly where the mask has those classes.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { readTdsJson } from '../../src/model/model-dir.js';
import { root, waitUntil } from '../helpers.js';
import { launchChromium } from '../browser.js';

const MODEL = join(root, 'models', 'demo');

describe('overlay page in Chromium', () => {
  let server: ChildProcess;
  let url = '';
  let browser: Browser;
  beforeAll(async () => {
    server = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'serve', 'synth', '--model', MODEL, '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    expect(await waitUntil(() => /overlay at (http:\/\/[^ ]+)\//.test(out), 30_000)).toBe(true);
    url = /overlay at (http:\/\/[^ ]+)\//.exec(out)![1];
    browser = (await launchChromium()).browser;
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
    await page.waitForFunction(
      () => (window as unknown as { tdsDebug: { frozen: boolean } }).tdsDebug.frozen,
      undefined,
      { timeout: 30_000 },
    );
    expect(await page.textContent('#conn')).toBe('live');
    const dbg = await page.evaluate(() => {
      const d = (
        window as unknown as { tdsDebug: { width: number; height: number; labels: Uint8Array; frame: number } }
      ).tdsDebug;
      return { width: d.width, height: d.height, frame: d.frame, labels: Array.from(d.labels) };
    });
    expect([dbg.width, dbg.height]).toEqual([320, 256]);
    // The canvas sits below a header whose height scales with the display: clip at its whole-pixel origin.
    const vb = (await page.locator('#view').boundingBox())!;
    const shot = await page.screenshot({ clip: { x: Math.round(vb.x), y: Math.round(vb.y), width: 320, height: 256 } });
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

  for (const vp of [
    { width: 1280, height: 800 },
    { width: 1920, height: 1080 },
  ]) {
    it(`fills a ${vp.width}x${vp.height} OR display: video and mask scaled up with the aspect kept, crisp mask edges, large labels`, async () => {
      const page = await browser.newPage({ deviceScaleFactor: 1, viewport: vp });
      await page.goto(`${url}/?opacity=1&freeze=5`);
      await page.waitForFunction(
        () => (window as unknown as { tdsDebug: { frozen: boolean } }).tdsDebug.frozen,
        undefined,
        { timeout: 30_000 },
      );
      const geo = await page.evaluate(() => {
        const c = document.getElementById('view') as HTMLCanvasElement;
        const r = c.getBoundingClientRect();
        const s = document.getElementById('stage')!.getBoundingClientRect();
        return {
          cw: r.width,
          ch: r.height,
          bw: c.width,
          bh: c.height,
          sw: s.width,
          sh: s.height,
          font: parseFloat(getComputedStyle(document.getElementById('scene')!).fontSize),
          li: parseFloat(getComputedStyle(document.body).fontSize),
        };
      });
      // 320x256 frames scaled up to fill the stage in one dimension, aspect 1.25 kept, backing store at device pixels.
      expect(Math.max(geo.cw / geo.sw, geo.ch / geo.sh)).toBeGreaterThan(0.98);
      expect(geo.cw).toBeGreaterThan(vp.width * 0.6);
      expect(Math.abs(geo.cw / geo.ch - 320 / 256)).toBeLessThan(0.01);
      expect([geo.bw, geo.bh]).toEqual([Math.round(geo.cw), Math.round(geo.ch)]);
      // Readable from across the room: the scene at 26px or more, body text at 18px or more, larger on larger screens.
      expect(geo.font).toBeGreaterThanOrEqual(26);
      expect(geo.li).toBeGreaterThanOrEqual(vp.width >= 1920 ? 26 : 18);
      const shot = await page.screenshot();
      const { data, info } = await sharp(shot).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([vp.width, vp.height]);
      await sharp(shot).toFile(
        join(process.env.TDS_TEST_KEEP_DIR ?? tmpdir(), `tds-overlay-${vp.width}x${vp.height}.png`),
      );
      // Crisp edges: at opacity 1 the scaled mask is drawn nearest-neighbour, so mask pixels are exact class
      // colours, never blends of two classes: every pixel inside the canvas that is near a class colour is one.
      const colors = readTdsJson(MODEL)
        .classes.slice(1)
        .map((c) => c.color);
      const box = await page.locator('#view').boundingBox();
      let exact = 0;
      for (let y = Math.ceil(box!.y); y < Math.floor(box!.y + box!.height); y++)
        for (let x = Math.ceil(box!.x); x < Math.floor(box!.x + box!.width); x++) {
          const i = (y * info.width + x) * 3;
          if (colors.some((c) => c[0] === data[i] && c[1] === data[i + 1] && c[2] === data[i + 2])) exact++;
        }
      expect(exact).toBeGreaterThan(box!.width * box!.height * 0.02);
      await page.close();
    });
  }
});
