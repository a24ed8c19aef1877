// Numeric option parsing shared by the commands: one wording for every "must be an integer / a number" error.
import { TdsError } from '../errors.js';

export function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new TdsError('BAD_OPTION', `${name} must be a positive integer, got ${v}`, `e.g. ${name} 4`);
  return n;
}

export function nonNegativeInt(name: string, v: string, example: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new TdsError('BAD_OPTION', `${name} must be a non-negative integer, got ${v}`, `e.g. ${name} ${example}`);
  return n;
}

export function nonNegativeNumber(name: string, v: string, example: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new TdsError('BAD_OPTION', `${name} must be a number >= 0, got ${v}`, `e.g. ${name} ${example}`);
  return n;
}
