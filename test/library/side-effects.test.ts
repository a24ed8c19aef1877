// Importing tds changes nothing global: a host application's tfjs mode, kernel registry and ORT log level are
// left as they were until tds is used (useBackend, training, an ORT segmenter).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { root, tmp } from '../helpers.js';

describe('importing the library', () => {
  it('leaves tfjs prod mode, the wasm kernel registry and ORT logging alone; using it sets what it needs', () => {
    const script = `
      const tf = await import('@tensorflow/tfjs');
      const ort = await import('onnxruntime-node');
      const before = { prod: tf.env().getBool('PROD'), kernel: !!tf.getKernel('Conv2DBackpropFilter', 'wasm'), ortLog: ort.env.logLevel };
      const tds = await import(${JSON.stringify(join(root, 'dist', 'index.js'))});
      const after = { prod: tf.env().getBool('PROD'), kernel: !!tf.getKernel('Conv2DBackpropFilter', 'wasm'), ortLog: ort.env.logLevel };
      await tds.useBackend('cpu');
      console.log(JSON.stringify({ before, after, used: tf.env().getBool('PROD') }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.after).toEqual(out.before);
    expect(out.before.prod).toBe(false);
    expect(out.before.kernel).toBe(false);
    expect(out.used).toBe(true);
  });

  it('video processing and serving never load tfjs (ORT engine): the CLI, createLabeler and the package root stay without it', () => {
    // tfjs-core registers its engine on the global object when it loads; a preload reports it at exit.
    const hook = join(tmp(), 'tfjs-check.mjs');
    writeFileSync(
      hook,
      "process.on('exit', () => process.stderr.write(`TFJS=${globalThis._tfengine !== undefined}\\n`));\n",
    );
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', hook, ...args], { cwd: root, encoding: 'utf8' }).stderr;
    expect(run(['dist/cli/index.js', 'process', '--help'])).toMatch(/TFJS=false/);
    expect(run(['dist/cli/index.js', 'serve', '--help'])).toMatch(/TFJS=false/);
    const script = `
      const { createLabeler } = await import(${JSON.stringify(join(root, 'dist', 'stream', 'labeler.js'))});
      const l = await createLabeler(${JSON.stringify(join(root, 'models', 'demo'))});
      const r = await l.labelImage({ data: Buffer.alloc(320 * 256 * 3, 90), width: 320, height: 256, channels: 3 });
      console.log(r.labels.length);
      process.exit(0);
    `;
    const r = spawnSync(process.execPath, ['--import', hook, '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe(String(320 * 256));
    expect(r.stderr).toMatch(/TFJS=false/);
    // Nor does importing the package root: training and useBackend load tfjs when first called.
    expect(run(['--input-type=module', '-e', "await import('./dist/index.js')"])).toMatch(/TFJS=false/);
    expect(
      run(['--input-type=module', '-e', "const t = await import('./dist/index.js'); await t.useBackend('cpu')"]),
    ).toMatch(/TFJS=true/);
    // The check itself sees tfjs when it is loaded.
    expect(run(['--input-type=module', '-e', "await import('./dist/model/tf.js')"])).toMatch(/TFJS=true/);
  }, 60_000);
});
