// Cinder's configuration: every setting with its default (config-spec.ts), the `CINDER_*`
// environment overrides (coerced the way Pyro coerces `PYRO_*`), and a readable dump. A resolved
// config is a frozen plain object that callers pass down; nothing here is global.
//
// zod is the validator of record, but it is loaded only when a value needs it: the defaults and
// the values each item's plain predicate takes (the common case) are valid without it, and a value
// the predicate does not take goes to the item's zod schema, which decides and words the error.
// Loading zod costs a process ~3 MB of heap and ~100 ms; `@cinder/core/config-schema` has the
// whole schema for those who want it.
import { createRequire } from 'node:module';
import type { z } from 'zod';
import {
  deepFreeze,
  type ItemName,
  type Shape,
  type Specs,
  specs,
  UNDECIDED,
  type Zod,
} from './config-spec.js';
import { ConfigError } from './errors.js';

export { type LogLevel, logLevels, type SerializerName, serializerNames } from './config-spec.js';

type Parsed = z.output<z.ZodObject<Shape, z.core.$strict>>;
/** A resolved configuration: every item present, deeply read-only. */
export type CinderConfig = {
  readonly [K in keyof Parsed]: Parsed[K] extends readonly (infer U)[] ? readonly U[] : Parsed[K];
};
export type ConfigItemName = keyof CinderConfig;

/** One row of the configuration table. */
export interface ConfigItem {
  readonly name: ConfigItemName;
  /** The environment variable that overrides it, e.g. `CINDER_NS_PORT`. */
  readonly envVar: string;
  readonly defaultValue: CinderConfig[ConfigItemName];
  readonly description: string;
  /** The matching Pyro item (its durations are seconds, ours milliseconds), or null. */
  readonly pyroItem: string | null;
}

export interface ResolveConfigOptions {
  /** Environment to read `CINDER_*` overrides from. Default `process.env`. */
  env?: Record<string, string | undefined> | undefined;
  /** False ignores the environment entirely. Default true. */
  useEnvironment?: boolean | undefined;
}

const ENV_PREFIX = 'CINDER_';

function envVarName(name: string): string {
  return ENV_PREFIX + name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** Every configuration item, in documentation order. */
export const configItems: readonly ConfigItem[] = Object.freeze(
  (Object.keys(specs) as ItemName[]).map((name) =>
    Object.freeze({
      name,
      envVar: envVarName(name),
      defaultValue: deepFreeze(specs[name].defaultValue) as CinderConfig[ConfigItemName],
      description: specs[name].description,
      pyroItem: specs[name].pyro,
    }),
  ),
);

const itemsByEnvVar = new Map(configItems.map((item) => [item.envVar, item]));
const itemsByName = new Map<string, ConfigItem>(configItems.map((item) => [item.name, item]));
// Configs this module produced: complete, valid and frozen, so they pass through resolveConfig free.
const resolvedConfigs = new WeakSet<object>();
// The defaults are valid by construction (a test checks each against its schema); zod's parse of
// {} would return these same frozen values.
const DEFAULTS = markResolved(
  Object.fromEntries(configItems.map((item) => [item.name, item.defaultValue])) as Parsed,
);

/** The default configuration (frozen). */
export function defaultConfig(): CinderConfig {
  return DEFAULTS;
}

/**
 * The `CINDER_*` overrides in `env`, coerced and validated. An unknown `CINDER_*` variable or a bad
 * value is a ConfigError naming the variable.
 */
export function configFromEnvironment(env: Record<string, string | undefined>): Partial<CinderConfig> {
  return Object.freeze(readEnvironment(env) ?? {}) as Partial<CinderConfig>;
}

/**
 * Resolves a configuration: defaults < `CINDER_*` environment < `input`. The result is frozen. A
 * config that resolveConfig returned before passes through unchanged (it is complete already, so
 * the environment could not change it).
 */
export function resolveConfig(
  input?: Partial<CinderConfig> | CinderConfig,
  options?: ResolveConfigOptions,
): CinderConfig {
  if (input !== undefined && resolvedConfigs.has(input)) return input as CinderConfig;
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new ConfigError(
      `invalid configuration: expected an object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  let config = options?.useEnvironment === false ? undefined : readEnvironment(options?.env ?? process.env);
  if (input) {
    let problems: string[] | undefined;
    // Items are independent, so checking only the given ones against their own rule is the same
    // as parsing the whole schema, at a fraction of the cost.
    for (const key of Object.keys(input)) {
      const value = (input as Record<string, unknown>)[key];
      const item = itemsByName.get(key);
      if (!item) {
        (problems ??= []).push(
          `unknown item ${JSON.stringify(key)} (valid: ${[...itemsByName.keys()].join(', ')})`,
        );
        continue;
      }
      // An explicit undefined means "not given", so callers can spread optional settings.
      if (value === undefined) continue;
      const checked = validate(item.name, value);
      if (!checked.success) {
        (problems ??= []).push(
          `${item.name} (${item.envVar}) = ${formatValue(value)}: ${issueText(checked.error.issues)}`,
        );
        continue;
      }
      (config ??= {})[key] = checked.data;
    }
    if (problems) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  if (!config) return DEFAULTS;
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const key in config) {
    const value = config[key];
    // Copied, not frozen in place: the caller's arrays stay theirs.
    merged[key] = Array.isArray(value) ? Object.freeze([...value]) : value;
  }
  return markResolved(merged as Parsed);
}

/** The validated `CINDER_*` overrides in `env`, or undefined when there are none. */
function readEnvironment(env: Record<string, string | undefined>): Record<string, unknown> | undefined {
  let values: Record<string, unknown> | undefined;
  let unknown: string[] | undefined;
  for (const key of Object.keys(env)) {
    if (!key.startsWith(ENV_PREFIX)) continue;
    const raw = env[key];
    if (raw === undefined) continue;
    const item = itemsByEnvVar.get(key);
    if (!item) {
      (unknown ??= []).push(key);
      continue;
    }
    const checked = validate(item.name, coerce(item, raw));
    if (!checked.success) {
      throw new ConfigError(
        `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)}: ${issueText(checked.error.issues)}`,
        { cause: checked.error },
      );
    }
    (values ??= {})[item.name] = checked.data;
  }
  if (unknown) {
    throw new ConfigError(
      `unknown configuration environment variable${unknown.length > 1 ? 's' : ''} ${unknown.sort().join(', ')}; ` +
        `valid names: ${configItems.map((i) => i.envVar).join(', ')}`,
    );
  }
  return values;
}

/** A readable dump of a configuration, one `name = value` line per item, secrets masked. */
export function describeConfig(config: CinderConfig): string {
  const width = Math.max(...configItems.map((i) => i.name.length));
  const lines = ['Cinder configuration (* = not the default):'];
  for (const item of configItems) {
    const value = config[item.name];
    const changed = !sameValue(value, item.defaultValue);
    const shown =
      SECRETS.has(item.name) && value !== null && value !== '' ? '<secret>' : JSON.stringify(value);
    lines.push(`${changed ? '*' : ' '} ${item.name.padEnd(width)} = ${shown}`);
  }
  return lines.join('\n');
}

const SECRETS = new Set<ConfigItemName>([
  'hmacKey',
  'gatewayKey',
  'sslServerKeyPasswd',
  'sslClientKeyPasswd',
]);
const TRUE_WORDS = new Set(['1', 'yes', 'on', 'true']);
const FALSE_WORDS = new Set(['0', 'no', 'off', 'false']);
// Strict: no sign, spaces, hex, exponents or underscores that Number()/int() would take.
const INT_RE = /^-?[0-9]+$/;
// Error messages quote values; bound them, a caller may pass anything.
const MAX_SHOWN = 100;

function coerce(item: ConfigItem, raw: string): unknown {
  switch (specs[item.name].env) {
    case 'bool': {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new ConfigError(
        `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)} is not a boolean ` +
          '(use 1/yes/on/true or 0/no/off/false)',
      );
    }
    case 'int': {
      const n = INT_RE.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) {
        throw new ConfigError(
          `invalid value for ${item.envVar} (${item.name}): ${JSON.stringify(raw)} is not an integer`,
        );
      }
      return n;
    }
    case 'list': {
      // Pyro splits on commas and strips; an empty variable is the empty list, not [''].
      const text = raw.trim();
      return text === '' ? [] : text.split(',').map((part) => part.trim());
    }
    default:
      // Strings and nullable items take the raw text, as in Pyro.
      return raw;
  }
}

function issueText(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => (i.path.length > 0 ? `element ${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

type Checked = { success: true; data: unknown } | { success: false; error: z.ZodError };

/** One item's value checked by its rule: the predicate when it can tell, else the zod schema. */
function validate(name: ItemName, value: unknown): Checked {
  const taken = specs[name].rule.take(value);
  if (taken !== UNDECIDED) return { success: true, data: taken };
  return itemSchema(name).safeParse(value);
}

const schemas = new Map<ItemName, z.ZodType>();
let zod: Zod | undefined;

/** The item's zod schema, zod loaded on first need (synchronously: configs are resolved so). */
function itemSchema(name: ItemName): z.ZodType {
  let schema = schemas.get(name);
  if (!schema) {
    // zod's CommonJS build: same package and version as its ESM build (package.json `exports`).
    zod ??= (createRequire(import.meta.url)('zod') as typeof import('zod')).z;
    schema = (specs[name] as Specs[ItemName]).rule.schema(zod) as z.ZodType;
    schemas.set(name, schema);
  }
  return schema;
}

function markResolved(config: Parsed): CinderConfig {
  const frozen = deepFreeze(config) as CinderConfig;
  resolvedConfigs.add(frozen);
  return frozen;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function formatValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // BigInt and cyclic values: still worth naming in the error.
  }
  text ??= String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}
