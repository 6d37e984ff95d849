// The Python-regex translation, checked against Python itself: every pattern is compiled by
// /usr/bin/python3's `re` and matched with `re.match` against every name, and the translated
// RegExp must give the same answers (or both must refuse the pattern). Constructs JavaScript
// cannot express must be refused with a NamingError, never matched differently.
import { spawnSync } from 'node:child_process';
import { NamingError } from '@cinder/core';
import { describe, expect, it } from 'vitest';
import { NameServer, translatePythonRegex } from '../src/index.js';

const PYTHON = '/usr/bin/python3';

const PATTERNS = [
  'example\\..*',
  '.*\\.(printer|lamp)$',
  'a{}',
  'a{,}',
  'a{,3}b',
  'a{2,3}',
  'a{2}?',
  'x{a}',
  '{',
  'a}',
  ']',
  '[]a]+',
  '[^]a]x',
  '\\#',
  '\\ \\!\\~\\@\\%\\&\\=\\,\\;\\:\\<\\>',
  'a$',
  'a\\Z',
  '\\Aab',
  '^ab',
  '(?i)AB',
  '(?i)é',
  '(?s)a.b',
  'a.b',
  '(?m)a$\\nb',
  '(?m)^a',
  '(?x) a b # a comment\n c',
  '(?x)[ ]a',
  '(?a)\\w+',
  '(?a)\\d',
  '\\d+',
  '\\D',
  '\\w+$',
  '\\W',
  'foo\\b',
  '\\bfoo',
  '.\\Bo',
  '[\\w.]+$',
  '[^\\W]+',
  '[\\D]',
  '[\\S]+',
  '[a-c-]+',
  '[-a]+',
  '[a\\-z]+',
  '(?P<x>a)(?P=x)',
  '(a)\\1',
  '\\x41',
  '\\u00e9',
  '\\U0001F600',
  '\\0',
  '\\101',
  '\\1010',
  '(?#comment)ab',
  '(?=a)a',
  '(?!b).',
  'a(?<=a)b',
  'a(?<!b)b',
  '[\\d\\s]+',
  '\\s',
  '\\S+',
  'é+',
  '😀.',
  '.😀',
  '\\.',
  'a|b|',
  '',
  '.*',
  '(a|b)*c',
  'a??b',
  '[\\b]',
  '\\-',
  '\\}',
  '(?:ab)+',
  '[\\x00-\\x1f]',
  '[\\u2028]',
  '\\t',
  '\\a',
  '[.]',
  '[$]',
  '[\\^x]+',
  '[x^]+',
  '[[]',
  '[&&]+',
  '[--]',
  '(?u)\\w',
  // Python refuses all of these; the translation must refuse them too.
  'a**',
  '(',
  '(?P<1>a)',
  '[z-a]',
  '\\q',
  'a{3,2}',
  '(?<name>a)',
  'a(?i)b',
  '[a',
  '\\',
  '\\x4',
  '*a',
  '(?L)a',
  '\\777',
];

const NAMES = [
  'example.printer',
  'other.lamp',
  'ab',
  'AB',
  'Ab',
  'a\nb',
  'a\n',
  'aab',
  'aaab',
  'aa',
  'a',
  'A',
  'b',
  'c',
  'ac',
  'abc',
  'bc',
  'aa\nb',
  'a{}',
  'a{3',
  'x{a}',
  '{',
  'a}',
  ']',
  ']a',
  'ax',
  ']x',
  '#',
  ' !~@%&=,;:<>',
  'foo bar',
  'foo',
  'foobar',
  'xfoo',
  'boo',
  '\u0661\u0662\u0663',
  'é',
  'É',
  'e\u0301',
  '😀x',
  'x😀',
  'a-c',
  '-',
  'a-z',
  '\x00',
  '\x01',
  '\x08',
  '\x07',
  '\t',
  '',
  ' \t',
  '\u00a0',
  '\x1c',
  '\x85',
  '\ufeff',
  'x.y',
  'a|b',
  '}',
  '\u2028',
  '$',
  '^',
  '^x',
  '[',
  '&&',
  '\u00e9t\u00e9_1',
  'naïve',
  'A\u0300',
  'x.y.z',
];

interface PyResult {
  error?: string;
  matches?: boolean[];
}

function pythonResults(): PyResult[] | undefined {
  const script = `
import json, re, sys
data = json.load(sys.stdin)
out = []
for p in data["patterns"]:
    try:
        r = re.compile(p)
    except Exception as e:
        out.append({"error": str(e)})
        continue
    out.append({"matches": [r.match(n) is not None for n in data["names"]]})
json.dump(out, sys.stdout)
`;
  const run = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify({ patterns: PATTERNS, names: NAMES }),
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (run.error || run.status !== 0) return undefined;
  return JSON.parse(run.stdout) as PyResult[];
}

const results = pythonResults();

describe.skipIf(results === undefined)(`Python regexes compared with ${PYTHON}`, () => {
  PATTERNS.forEach((pattern, i) => {
    it(JSON.stringify(pattern), () => {
      const py = results![i]!;
      if (py.error !== undefined) {
        expect(() => translatePythonRegex(pattern), `Python says: ${py.error}`).toThrow(NamingError);
        return;
      }
      const regex = translatePythonRegex(pattern);
      const ours = NAMES.map((n) => regex.test(n));
      const differences: string[] = [];
      NAMES.forEach((name, j) => {
        if (ours[j] !== py.matches![j]) {
          differences.push(`${JSON.stringify(name)}: python ${py.matches![j]}, cinder ${ours[j]}`);
        }
      });
      expect(differences).toEqual([]);
    });
  });
});

describe('constructs JavaScript cannot express are refused', () => {
  it.each([
    ['a*+', 'possessive'],
    ['a{1,2}+', 'possessive'],
    ['(?>a)', 'atomic'],
    ['(a)?(?(1)b|c)', 'conditional'],
    ['(?i:a)b', 'scoped'],
    ['\\N{LATIN SMALL LETTER A}', 'named character'],
  ])('%s (%s)', (pattern, what) => {
    expect(() => translatePythonRegex(pattern)).toThrow(NamingError);
    expect(() => translatePythonRegex(pattern)).toThrow(new RegExp(`unsupported regex: .*${what}`));
  });

  it('says which pattern was invalid', () => {
    expect(() => translatePythonRegex('a**')).toThrow(/^invalid regex: .*"a\*\*"/);
  });

  it('refuses a pattern that is not a string', () => {
    expect(() => translatePythonRegex(5 as unknown as string)).toThrow(TypeError);
  });
});

describe('the time guard', () => {
  it('stops a catastrophic pattern with a NamingError instead of stalling the name server', () => {
    const ns = new NameServer({ regexTimeoutMs: 150 });
    ns.register(`${'a'.repeat(40)}!`, 'PYRO:x@localhost:1');
    const t0 = performance.now();
    expect(() => ns.list(null, '(a+)+b')).toThrow(/took longer than 150 ms/);
    expect(performance.now() - t0).toBeLessThan(3000);
    // The name server keeps working afterwards.
    expect(Object.keys(ns.list(null, 'a+!'))).toHaveLength(1);
  });
});
