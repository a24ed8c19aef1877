// Reading a config YAML, with `extends: OTHER.yaml` (a path relative to the config's folder): the other file is
// read first and this one's keys override it. Objects merge key by key; lists and values replace. So a config
// that differs from another in a few keys (demo.yaml from robot18.yaml) says only those.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { TdsError } from '../errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(base[k]) ? deepMerge(base[k] as Obj, v) : v;
  return out;
}

/** The config at `path` with its `extends` chain applied (the `extends` key itself removed). */
export function readConfigFile(path: string, seen: string[] = []): Obj {
  const abs = resolve(path);
  if (seen.includes(abs))
    throw new TdsError(
      'BAD_PALETTE',
      `${path}: extends goes in a circle (${[...seen, abs].join(' -> ')})`,
      'remove the extends that points back',
    );
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    throw new TdsError(
      'ENOENT_INPUT',
      `config not found: ${path}${seen.length ? ` (extended by ${seen.at(-1)})` : ''}`,
      'give a config such as configs/robot18.yaml',
    );
  }
  let obj: unknown;
  try {
    obj = parse(text) ?? {};
  } catch (e) {
    throw new TdsError(
      'BAD_PALETTE',
      `${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`,
      'fix the YAML syntax at that line',
    );
  }
  if (!isObj(obj))
    throw new TdsError(
      'BAD_PALETTE',
      `${path} must be a YAML mapping (dataset, labels, classes, scenes, train)`,
      'see configs/robot18.yaml',
    );
  const { extends: parent, ...own } = obj;
  if (parent === undefined) return own;
  if (typeof parent !== 'string' || !parent)
    throw new TdsError(
      'BAD_PALETTE',
      `${path}: extends must be a file name such as robot18.yaml, got ${JSON.stringify(parent)}`,
      'e.g. extends: robot18.yaml',
    );
  return deepMerge(readConfigFile(resolve(dirname(abs), parent), [...seen, abs]), own);
}
