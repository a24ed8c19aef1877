// tds as a library from another project: `npm pack`, install the tarball into a new project, and run the
// README's library example there against a real PNG.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { root, tmp } from '../helpers.js';

/** The js block under the `library-example` marker in README.md. */
function readmeExample(): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- library-example[^>]*-->\s*```js\n([\s\S]*?)```/.exec(md);
  if (!m) throw new Error('README.md has no library-example block');
  return m[1];
}

describe('the packed package', () => {
  it('installs into a new project and runs the README example: segment one image, read the classes present', async () => {
    const d = tmp('tds-pack-');
    // dist/ was built by `npm test`'s pretest; --ignore-scripts keeps prepack from rebuilding it under other tests.
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', d], {
      cwd: root,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop()!;
    const app = join(d, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'app',
        private: true,
        type: 'module',
        allowScripts: {
          '@ffmpeg-installer/linux-x64': true,
          '@ffprobe-installer/linux-x64': true,
          'onnxruntime-node': false,
        },
      }),
    );
    execFileSync(
      'npm',
      ['install', join(d, tgz), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'],
      { cwd: app, stdio: ['ignore', 'ignore', 'pipe'], timeout: 240_000 },
    );
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'tds', 'package.json'), 'utf8'));
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    expect(readFileSync(join(app, 'node_modules', 'tds', 'dist', 'index.d.ts'), 'utf8')).toContain('createLabeler');
    // A frame: dark red tissue with a bright grey bar (the demo model calls it instrument).
    const w = 320;
    const h = 256;
    const px = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const bar = x > 140 && x < 180;
      px[i * 3] = bar ? 190 : 120;
      px[i * 3 + 1] = bar ? 190 : 40;
      px[i * 3 + 2] = bar ? 195 : 40;
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(join(app, 'frame.png'));
    writeFileSync(join(app, 'example.mjs'), readmeExample());
    const r = spawnSync(process.execPath, ['example.mjs'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^in the mask: background-tissue, \S/);
    expect(lines[1]).toMatch(/^class head: .* \| scene: (preparing|peeling|incising) \| sync: [01](\.\d+)?$/);
    expect(lines.at(-1)).toBe(`320x256 ${320 * 256}`);
  }, 300_000);
});
