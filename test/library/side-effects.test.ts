// Importing tds changes nothing global: a host application's tfjs mode, kernel registry and ORT log level are
// left as they were until tds is used (useBackend, training, an ORT segmenter).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../helpers.js';

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
});
