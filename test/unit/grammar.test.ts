// Structural checks of the TextMate grammar syntaxes/containerd-toml.tmLanguage.json (and of
// language-configuration.json): every regex compiles with JS RegExp and avoids Oniguruma-only
// syntax, capture numbers exist, includes resolve, and sample lines are claimed by the intended
// rules. Bundled by esbuild to out/test/unit/grammar.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');

interface Capture {
  name?: string;
  patterns?: Rule[];
}
interface Rule {
  name?: string;
  contentName?: string;
  comment?: string;
  match?: string;
  begin?: string;
  end?: string;
  while?: string;
  include?: string;
  captures?: Record<string, Capture>;
  beginCaptures?: Record<string, Capture>;
  endCaptures?: Record<string, Capture>;
  whileCaptures?: Record<string, Capture>;
  patterns?: Rule[];
  repository?: Record<string, Rule>;
}
interface Grammar extends Rule {
  scopeName: string;
  patterns: Rule[];
  repository: Record<string, Rule>;
}

const grammar: Grammar = JSON.parse(readFileSync(path.join(ROOT, 'syntaxes/containerd-toml.tmLanguage.json'), 'utf8'));
const repo = grammar.repository;

/** Every rule object in the grammar, with a readable path. */
function allRules(): { where: string; rule: Rule }[] {
  const out: { where: string; rule: Rule }[] = [];
  const visit = (rule: Rule, where: string) => {
    out.push({ where, rule });
    rule.patterns?.forEach((r, i) => visit(r, `${where}.patterns[${i}]`));
    for (const key of ['captures', 'beginCaptures', 'endCaptures', 'whileCaptures'] as const) {
      for (const [n, c] of Object.entries(rule[key] ?? {})) c.patterns?.forEach((r, i) => visit(r, `${where}.${key}[${n}].patterns[${i}]`));
    }
  };
  grammar.patterns.forEach((r, i) => visit(r, `patterns[${i}]`));
  for (const [name, r] of Object.entries(repo)) visit(r, `repository.${name}`);
  return out;
}

/** Regex constructs that Oniguruma accepts but JS reads differently (or rejects). */
const ONIG_ONLY: [RegExp, string][] = [
  [/\\[hHAzZGKRX]/, 'Oniguruma-only escape (\\h \\A \\z \\Z \\G \\K \\R \\X)'],
  [/\\[pP]\{/, 'Unicode property (needs the u flag in JS)'],
  [/\\x\{/, '\\x{…} code point'],
  [/\(\?[imx-]+[:)]/, 'inline flags'],
  [/\(\?>/, 'atomic group'],
  [/\(\?<[A-Za-z]/, 'named group'],
  [/\\k</, 'named back-reference'],
  [/[*+?}]\+/, 'possessive quantifier'],
  [/\[[^\]]*\[:/, 'POSIX bracket'],
  [/\[[^\]]*&&/, 'class intersection'],
];

function groupCount(src: string): number {
  return new RegExp(`${src}|`).exec('')!.length - 1;
}

test('grammar identity', () => {
  assert.equal(grammar.scopeName, 'source.toml.containerd');
  assert.ok(grammar.name);
  assert.ok(grammar.patterns.length > 0);
});

test('every regex compiles with JS RegExp and uses only syntax shared with Oniguruma', () => {
  let n = 0;
  for (const { where, rule } of allRules()) {
    for (const key of ['match', 'begin', 'end', 'while'] as const) {
      const src = rule[key];
      if (src === undefined) continue;
      n++;
      assert.equal(typeof src, 'string', `${where}.${key}`);
      assert.doesNotThrow(() => new RegExp(src), `${where}.${key}: ${src}`);
      for (const [re, what] of ONIG_ONLY) assert.doesNotMatch(src, re, `${where}.${key} uses ${what}: ${src}`);
    }
    assert.ok(!(rule.match && (rule.begin || rule.end)), `${where}: match together with begin/end`);
    assert.ok(!rule.begin === !(rule.end || rule.while), `${where}: begin without end (or end without begin)`);
  }
  assert.ok(n >= 25, `only ${n} regexes found`);
});

test('capture numbers exist in their regex', () => {
  for (const { where, rule } of allRules()) {
    const pairs: [string | undefined, Record<string, Capture> | undefined, string][] = [
      [rule.match, rule.captures, 'captures'],
      [rule.begin, rule.beginCaptures ?? rule.captures, 'beginCaptures'],
      [rule.end, rule.endCaptures ?? rule.captures, 'endCaptures'],
    ];
    for (const [src, caps, key] of pairs) {
      if (src === undefined || !caps) continue;
      const groups = groupCount(src);
      for (const [k, c] of Object.entries(caps)) {
        assert.match(k, /^\d+$/, `${where}.${key}: capture key ${k}`);
        assert.ok(Number(k) <= groups, `${where}.${key}[${k}]: the regex has only ${groups} groups`);
        assert.ok(c.name || c.patterns, `${where}.${key}[${k}]: capture without name or patterns`);
      }
    }
  }
});

test('every include resolves, and every repository rule is used', () => {
  const used = new Set<string>();
  for (const { where, rule } of allRules()) {
    if (rule.include === undefined) continue;
    const inc = rule.include;
    if (inc === '$self' || inc === '$base') continue;
    assert.match(inc, /^#/, `${where}: include of another grammar (${inc})`);
    assert.ok(Object.hasOwn(repo, inc.slice(1)), `${where}: include ${inc} is not in the repository`);
    used.add(inc.slice(1));
    assert.deepEqual(Object.keys(rule), ['include'], `${where}: include mixed with other keys`);
  }
  for (const name of Object.keys(repo)) assert.ok(used.has(name), `repository.${name} is never included`);
});

test('scope names are well formed', () => {
  for (const { where, rule } of allRules()) {
    const names = [rule.name, rule.contentName];
    for (const key of ['captures', 'beginCaptures', 'endCaptures'] as const) for (const c of Object.values(rule[key] ?? {})) names.push(c.name);
    for (const n of names) {
      if (n === undefined) continue;
      assert.match(n, /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.(toml|containerd)$/, `${where}: scope ${n}`);
    }
  }
});

// ---- sample lines ---------------------------------------------------------------------------

/** Rules with a `match` or `begin`, after following includes and pattern-only containers. */
function flatten(rules: Rule[], seen = new Set<string>()): { id: string; rule: Rule }[] {
  const out: { id: string; rule: Rule }[] = [];
  for (const r of rules) {
    if (r.include) {
      const name = r.include.slice(1);
      if (seen.has(name)) continue;
      const target = repo[name];
      if (target.match || target.begin) out.push({ id: name, rule: target });
      else out.push(...flatten(target.patterns ?? [], new Set([...seen, name])).map((x) => ({ id: x.id.includes('/') ? x.id : `${name}/${x.id}`, rule: x.rule })));
    } else if (r.match || r.begin) {
      out.push({ id: r.name ?? '(anonymous)', rule: r });
    }
  }
  return out;
}

/** TextMate's choice: the rule whose match/begin matches earliest at or after `pos`; ties go to the first. */
function firstMatch(rules: Rule[], line: string, pos = 0): { id: string; rule: Rule; m: RegExpExecArray } | undefined {
  let best: { id: string; rule: Rule; m: RegExpExecArray } | undefined;
  for (const { id, rule } of flatten(rules)) {
    const re = new RegExp((rule.match ?? rule.begin)!, 'g');
    re.lastIndex = pos;
    const m = re.exec(line);
    if (m && (!best || m.index < best.m.index)) best = { id, rule, m };
  }
  return best;
}

/** Splits a capture's text into (text, scope) pieces with the capture's own match patterns. */
function segments(text: string, patterns: Rule[]): [string, string][] {
  const out: [string, string][] = [];
  let pos = 0;
  while (pos < text.length) {
    const f = firstMatch(patterns, text, pos);
    if (!f) break;
    if (f.m.index > pos && text.slice(pos, f.m.index).trim()) out.push([text.slice(pos, f.m.index).trim(), '']);
    out.push([f.m[0], f.rule.name ?? '']);
    pos = f.m.index + Math.max(1, f.m[0].length);
  }
  return out;
}

const TOP: [string, string][] = [
  ['# containerd: 1.7', 'pin-comment'],
  ['  #containerd:v2.1.3 pinned for the fleet', 'pin-comment'],
  ['# Containerd: 2.0', 'pin-comment'],
  ['# a comment', 'comment'],
  ['#', 'comment'],
  ['# containerd is great', 'comment'],
  ['[plugins]', 'table'],
  ['[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]  # runc', 'table'],
  ["[ plugins . 'io.containerd.cri.v1.images' . registry ]", 'table'],
  ['[proxy_plugins."my proxy"]', 'table'],
  ['[[x]]', 'array-table'],
  ['  [[plugins."io.containerd.transfer.v1.local".unpack_config]]', 'array-table'],
  ['version = 2', 'key-value'],
  ['root="/var/lib/containerd"', 'key-value'],
  ['  SystemdCgroup = true', 'key-value'],
  ['plugins."io.containerd.gc.v1.scheduler".pause_threshold = 0.02', 'key-value'],
  ["'quoted key' = 1", 'key-value'],
  ['"dotted"."quoted" . bare-key_2 = [1, 2]', 'key-value'],
  ['true = false', 'key-value'],
  ['1234 = "numeric bare key"', 'key-value'],
];

test('sample lines are claimed by the intended top-level rule', () => {
  for (const [line, want] of TOP) {
    const f = firstMatch(grammar.patterns, line);
    assert.ok(f, `nothing matches ${JSON.stringify(line)}`);
    assert.equal(f.id, want, JSON.stringify(line));
    assert.ok(f.m.index <= line.search(/\S/), `${JSON.stringify(line)}: ${want} starts late`);
  }
  for (const line of ['', '   ', 'a b c', '[plugins.', '[a b]', '[[a]', '= 1']) {
    const f = firstMatch(grammar.patterns, line);
    assert.ok(!f || !['table', 'array-table', 'key-value'].includes(f.id), `${JSON.stringify(line)} wrongly matched as ${f?.id}`);
  }
});

test('the pin comment scopes the release as keyword.other.pin.containerd', () => {
  const rule = repo['pin-comment'];
  const m = new RegExp(rule.match!).exec('# containerd: 2.1 (fleet default)')!;
  assert.equal(m[4], '2.1');
  assert.equal(rule.captures![4].name, 'keyword.other.pin.containerd');
  assert.equal(new RegExp(rule.match!).exec('#containerd:v1.7.27')![4], 'v1.7.27');
  assert.equal(new RegExp(rule.match!).exec('x = 1 # containerd: 1.7'), null, 'the pin is a whole-line comment');
});

test('table headers scope plugin IDs distinctly from other key segments', () => {
  const cases: [string, string, [string, string][]][] = [
    ['table', '[plugins."io.containerd.grpc.v1.cri".containerd]', [
      ['plugins', 'support.type.property-name.table.toml'],
      ['.', 'punctuation.separator.dot.toml'],
      ['"io.containerd.grpc.v1.cri"', 'entity.name.tag.plugin.containerd'],
      ['.', 'punctuation.separator.dot.toml'],
      ['containerd', 'support.type.property-name.table.toml'],
    ]],
    ['table', `[proxy_plugins . 'io.containerd.x' . "my \\"p\\""]`, [
      ['proxy_plugins', 'support.type.property-name.table.toml'],
      ['.', 'punctuation.separator.dot.toml'],
      ["'io.containerd.x'", 'entity.name.tag.plugin.containerd'],
      ['.', 'punctuation.separator.dot.toml'],
      ['"my \\"p\\""', 'support.type.property-name.table.quoted.double.toml'],
    ]],
    ['array-table', '[[a.b-c]]', [
      ['a', 'support.type.property-name.array.toml'],
      ['.', 'punctuation.separator.dot.toml'],
      ['b-c', 'support.type.property-name.array.toml'],
    ]],
  ];
  for (const [ruleName, line, want] of cases) {
    const rule = repo[ruleName];
    const m = new RegExp(rule.match!).exec(line);
    assert.ok(m, line);
    assert.deepEqual(segments(m[2], rule.captures![2].patterns!), want, line);
    assert.match(rule.captures![1].name!, /^punctuation\.definition\./);
    assert.match(rule.captures![3].name!, /^punctuation\.definition\./);
  }
  // the quoted ID is not mistaken for a plugin when it is not one
  assert.deepEqual(segments('"io.containerd"', repo.table.captures![2].patterns!), [['"io.containerd"', 'support.type.property-name.table.quoted.double.toml']]);
});

test('dotted keys of a key/value line are split per segment', () => {
  const rule = repo['key-value'];
  const m = new RegExp(rule.begin!).exec('plugins."io.containerd.gc.v1.scheduler".pause_threshold = 0.02')!;
  assert.equal(m[2], '=');
  assert.deepEqual(segments(m[1], rule.beginCaptures![1].patterns!).map(([t, s]) => `${t} ${s}`), [
    'plugins support.type.property-name.key.toml',
    '. punctuation.separator.dot.toml',
    '"io.containerd.gc.v1.scheduler" entity.name.tag.plugin.containerd',
    '. punctuation.separator.dot.toml',
    'pause_threshold support.type.property-name.key.toml',
  ]);
});

test('a key/value ends after its value, before a separator, or at the end of the line', () => {
  const rule = repo['key-value'];
  const endAt = (line: string): number => {
    const b = new RegExp(rule.begin!, 'g').exec(line)!;
    const e = new RegExp(rule.end!, 'g');
    e.lastIndex = b.index + b[0].length;
    return e.exec(line)!.index;
  };
  assert.equal(endAt('a = 1'), 5, 'no value: the end looks past the first character');
  assert.equal(endAt('a=1'), 3);
  assert.equal(endAt('a = '), 4, 'an empty value ends at the end of the line');
  assert.equal(endAt('{ a = , b = 1 }'.slice(2)), 4, 'stops before a comma');
});

const VALUES: [string, string][] = [
  ['"hello \\"world\\""', 'string.quoted.single.basic.line.toml'],
  ['"""', 'string.quoted.triple.basic.block.toml'],
  ["'C:\\Users\\nodejs'", 'string.quoted.single.literal.line.toml'],
  ["'''", 'string.quoted.triple.literal.block.toml'],
  ['42', 'constant.numeric.integer.decimal.toml'],
  ['+17', 'constant.numeric.integer.decimal.toml'],
  ['-0', 'constant.numeric.integer.decimal.toml'],
  ['1_000_000', 'constant.numeric.integer.decimal.toml'],
  ['0xDEAD_beef', 'constant.numeric.integer.hex.toml'],
  ['0o755', 'constant.numeric.integer.octal.toml'],
  ['0b1101_0110', 'constant.numeric.integer.binary.toml'],
  ['3.1415', 'constant.numeric.float.toml'],
  ['-0.01', 'constant.numeric.float.toml'],
  ['5e+22', 'constant.numeric.float.toml'],
  ['6.626e-34', 'constant.numeric.float.toml'],
  ['1E06', 'constant.numeric.float.toml'],
  ['224_617.445_991', 'constant.numeric.float.toml'],
  ['inf', 'constant.numeric.float.inf.toml'],
  ['-inf', 'constant.numeric.float.inf.toml'],
  ['+nan', 'constant.numeric.float.nan.toml'],
  ['true', 'constant.language.boolean.toml'],
  ['false', 'constant.language.boolean.toml'],
  ['1979-05-27T07:32:00Z', 'constant.other.time.datetime.offset.toml'],
  ['1979-05-27 00:32:00.999999-07:00', 'constant.other.time.datetime.offset.toml'],
  ['1979-05-27T07:32:00', 'constant.other.time.datetime.local.toml'],
  ['1979-05-27', 'constant.other.time.date.toml'],
  ['07:32:00.5', 'constant.other.time.time.toml'],
  ['[', 'meta.array.toml'],
  ['{', 'meta.inline-table.toml'],
];

test('values are claimed by the intended rule, whole', () => {
  const rules = repo.value.patterns!;
  for (const [text, want] of VALUES) {
    for (const ctx of [text, `${text},`, `${text} # c`, `${text}]`, `${text} }`]) {
      const f = firstMatch(rules, ctx);
      assert.ok(f, `nothing matches ${JSON.stringify(ctx)}`);
      assert.equal(f.m.index, 0, ctx);
      assert.equal(f.rule.name, want, ctx);
      if (f.rule.match) assert.equal(f.m[0], text, `${JSON.stringify(ctx)} matched only ${JSON.stringify(f.m[0])}`);
    }
  }
  // invalid literals are not highlighted as numbers/booleans/dates
  for (const bad of ['01', '1__0', '_1', '1_', '0x', '0xG', '0o8', '0b2', '1.', '.5', '1e', 'True', 'infinity', '1979-05-27T', '7:32:00', 'truex', '2x']) {
    const f = firstMatch(rules.filter((r) => r.include !== '#string' && r.include !== '#array' && r.include !== '#inline-table'), bad);
    assert.ok(!f || f.m[0] !== bad && f.m.index !== 0, `${bad} matched as ${f?.rule.name}`);
  }
});

test('string escapes', () => {
  const esc = new RegExp(`^(?:${repo.escape.match})$`);
  for (const ok of ['\\n', '\\t', '\\"', '\\\\', '\\u00E9', '\\U0001F600', '\\b', '\\f', '\\r']) assert.match(ok, esc);
  for (const bad of ['\\a', '\\x41', '\\u12', '\\e']) assert.doesNotMatch(bad, esc);
  assert.match('a \\  ', new RegExp(repo['line-ending-backslash'].match!));
});

// ---- language-configuration.json ------------------------------------------------------------

test('language configuration', () => {
  const conf = JSON.parse(readFileSync(path.join(ROOT, 'language-configuration.json'), 'utf8'));
  assert.equal(conf.comments.lineComment, '#');
  assert.deepEqual(conf.brackets, [['[', ']'], ['{', '}']]);
  const opens = conf.autoClosingPairs.map((p: { open: string }) => p.open);
  for (const o of ['[', '{', '"', "'"]) assert.ok(opens.includes(o), `auto-closes ${o}`);
  const word = new RegExp(conf.wordPattern, 'g');
  assert.deepEqual('plugins."io.containerd.grpc.v1.cri".max-concurrent_downloads = 3'.match(word),
    ['plugins', 'io', 'containerd', 'grpc', 'v1', 'cri', 'max-concurrent_downloads', '3']);
  assert.equal(new RegExp(conf.wordPattern).exec('')?.[0] ?? '', '', 'the word pattern must not match the empty string');
  const inc = new RegExp(conf.indentationRules.increaseIndentPattern);
  const dec = new RegExp(conf.indentationRules.decreaseIndentPattern);
  assert.ok(inc.test('runtimes = [') && inc.test('x = {  # c') && !inc.test('[plugins]') && !inc.test('x = [1]'));
  assert.ok(dec.test('  ]') && dec.test('}') && !dec.test('  [table]'));
});
