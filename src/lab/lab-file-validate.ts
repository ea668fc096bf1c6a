/**
 * Validates a parsed lab file: the JSON Schema (ajv, all errors at once, defaults filled in),
 * the password refusal and the cross-key rules, merged into one list of problems each naming
 * the file, the JSON path and what is wrong in words a lab admin understands.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import type { LabFileProblem } from '../errors.js';
import type { LabFile } from './lab-file.js';
import { crossKeyProblems, jsonPath, passwordProblems, type PathProblem } from './lab-file-rules.js';
import { LAB_SCHEMA, PATTERN_WORDS } from './lab-schema.js';

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
const validateSchema = ajv.compile(LAB_SCHEMA);

/** `/nodes/0/ssh` (JSON Pointer, as ajv reports) → `$.nodes[0].ssh`. */
function pointerToPath(pointer: string, extra?: string): string {
  const parts: (string | number)[] = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (extra !== undefined) parts.push(extra);
  return jsonPath(parts);
}

function got(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return JSON.stringify(v);
}

function problemOf(e: ErrorObject): PathProblem | null {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: pointerToPath(e.instancePath, String(p.missingProperty)), message: 'required key is missing' };
    case 'additionalProperty':
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      if (/^(password|passwd|passphrase)$/i.test(key)) return null; // reported once, by passwordProblems
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { path: pointerToPath(e.instancePath, key), message: `unknown key (allowed here: ${allowed.join(', ')})` };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ');
      let message = `must be one of ${allowed}, got ${got(e.data)}`;
      if (e.instancePath.endsWith('/knownHosts/policy')) message += ': host keys are always verified, so there is no "ignore" or "no"';
      return { path: pointerToPath(e.instancePath), message };
    }
    case 'type':
      return { path: pointerToPath(e.instancePath), message: `must be ${String(p.type).replace(',', ' or ')}, got ${got(e.data)}` };
    case 'pattern': {
      const words = PATTERN_WORDS[String(p.pattern)] ?? `text matching ${String(p.pattern)}`;
      return { path: pointerToPath(e.instancePath), message: `must be ${words}, got ${got(e.data)}` };
    }
    case 'minimum':
    case 'maximum':
      return { path: pointerToPath(e.instancePath), message: `must be ${String(p.comparison)} ${String(p.limit)}, got ${got(e.data)}` };
    case 'minLength':
      return { path: pointerToPath(e.instancePath), message: 'must not be empty' };
    case 'minItems':
      return { path: pointerToPath(e.instancePath), message: `needs at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}` };
    default:
      return { path: pointerToPath(e.instancePath), message: e.message ?? e.keyword };
  }
}

export interface LabValidation {
  /** The file with defaults filled in; only meaningful when `problems` is empty. */
  lab: LabFile;
  problems: LabFileProblem[];
}

/**
 * Checks a parsed lab file. `doc` is modified in place (defaults filled in), so pass a fresh
 * parse. `file` is only used to label the problems.
 */
export function validateLabFile(doc: unknown, file: string): LabValidation {
  validateSchema(doc);
  const found: PathProblem[] = [
    ...passwordProblems(doc),
    ...(validateSchema.errors ?? []).map(problemOf).filter((x): x is PathProblem => x !== null),
    ...crossKeyProblems(doc),
  ];
  const seen = new Set<string>();
  const problems: LabFileProblem[] = [];
  for (const f of found) {
    const key = `${f.path}\0${f.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ file, path: f.path, message: f.message });
  }
  return { lab: doc as LabFile, problems };
}

