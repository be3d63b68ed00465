// Structural checks of the KCL TextMate grammar syntaxes/kcl-taskserv.tmLanguage.json (and of
// language-configuration-kcl.json): every regex compiles with JS RegExp and avoids Oniguruma-only
// syntax, capture numbers exist, includes resolve, and sample lines are split into the intended
// scopes by a small line scanner that follows TextMate's rule choice (earliest match, first rule
// on ties). Bundled by esbuild to out/test/unit/kcl-grammar.test.js and run with `node --test`.

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

const grammar: Grammar = JSON.parse(readFileSync(path.join(ROOT, 'syntaxes/kcl-taskserv.tmLanguage.json'), 'utf8'));
const repo = grammar.repository;

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
  assert.equal(grammar.scopeName, 'source.kcl.taskserv');
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
      if (key !== 'end') assert.equal(new RegExp(src).exec('')?.[0] ?? '', '', `${where}.${key} must not match the empty string at every position`);
    }
  }
  assert.ok(n >= 30, `only ${n} regexes found`);
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

test('scope names are well formed and end in .kcl', () => {
  for (const { where, rule } of allRules()) {
    const names = [rule.name, rule.contentName];
    for (const key of ['captures', 'beginCaptures', 'endCaptures'] as const) for (const c of Object.values(rule[key] ?? {})) names.push(c.name);
    for (const n of names) {
      if (n === undefined) continue;
      assert.match(n, /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.kcl$/, `${where}: scope ${n}`);
    }
  }
});

// ---- a small line scanner -------------------------------------------------------------------------

interface Flat {
  id: string;
  rule: Rule;
}

function flatten(rules: Rule[], seen = new Set<string>()): Flat[] {
  const out: Flat[] = [];
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

function firstMatch(rules: Rule[], line: string, pos = 0): (Flat & { m: RegExpExecArray }) | undefined {
  let best: (Flat & { m: RegExpExecArray }) | undefined;
  for (const f of flatten(rules)) {
    const re = new RegExp((f.rule.match ?? f.rule.begin)!, 'g');
    re.lastIndex = pos;
    const m = re.exec(line);
    if (m && (!best || m.index < best.m.index)) best = { ...f, m };
  }
  return best;
}

/** Splits a line into (text, scope) pieces: match rules by their captures when they have named ones, begin/end rules whole. */
function scan(line: string, rules: Rule[] = grammar.patterns): [string, string][] {
  const out: [string, string][] = [];
  let pos = 0;
  while (pos < line.length) {
    const f = firstMatch(rules, line, pos);
    if (!f) break;
    let end = f.m.index + f.m[0].length;
    if (f.rule.begin) {
      // the string's own patterns (escapes) are skipped before the end is looked for
      const inner = f.rule.patterns ? flatten(f.rule.patterns) : [];
      let at = end;
      for (;;) {
        const e = new RegExp(f.rule.end!, 'g');
        e.lastIndex = at;
        const em = e.exec(line);
        let im: RegExpExecArray | null = null;
        for (const x of inner) {
          const r = new RegExp(x.rule.match!, 'g');
          r.lastIndex = at;
          const m = r.exec(line);
          if (m && (!im || m.index < im.index)) im = m;
        }
        if (im && (!em || im.index < em.index)) {
          at = im.index + Math.max(1, im[0].length);
          continue;
        }
        end = em ? em.index + em[0].length : line.length;
        break;
      }
      out.push([line.slice(f.m.index, end), f.rule.name ?? f.id]);
    } else if (f.rule.captures && Object.keys(f.rule.captures).some((k) => k !== '0')) {
      for (const [k, c] of Object.entries(f.rule.captures).sort((a, b) => Number(a[0]) - Number(b[0]))) {
        const text = f.m[Number(k)];
        if (!text) continue;
        if (c.name) out.push([text, c.name]);
        else if (c.patterns) out.push(...scan(text, c.patterns));
      }
    } else {
      out.push([f.m[0], f.rule.name ?? f.id]);
    }
    pos = Math.max(end, pos + 1);
  }
  return out;
}

function scopesOf(line: string): string[] {
  return scan(line).map(([t, s]) => `${t} ${s}`);
}

test('a typed declaration: the name, the type as a type, the assignment', () => {
  assert.deepEqual(scopesOf('containerd: Containerd = {'), [
    'containerd variable.other.declaration.kcl',
    ': punctuation.separator.type.kcl',
    'Containerd entity.name.type.kcl',
    '= keyword.operator.assignment.kcl',
    '{ punctuation.section.braces.kcl',
  ]);
  assert.deepEqual(scopesOf('crictl: cd.Crictl = cd.Crictl {}').slice(0, 6), [
    'crictl variable.other.declaration.kcl',
    ': punctuation.separator.type.kcl',
    'cd entity.name.type.kcl',
    '. punctuation.separator.kcl',
    'Crictl entity.name.type.kcl',
    '= keyword.operator.assignment.kcl',
  ]);
  assert.deepEqual(scopesOf('replicas: int = 3'), [
    'replicas variable.other.declaration.kcl',
    ': punctuation.separator.type.kcl',
    'int support.type.primitive.kcl',
    '= keyword.operator.assignment.kcl',
    '3 constant.numeric.integer.decimal.kcl',
  ]);
  // indented `key: value` is a dict entry, not a declaration
  assert.deepEqual(scopesOf('    version: "1.7.18"'), [
    'version variable.other.property.kcl',
    ': punctuation.separator.key-value.kcl',
    '"1.7.18" string.quoted.single.double.kcl',
  ]);
});

test('dict keys before ":", "=" and "+="', () => {
  assert.deepEqual(scopesOf('        max_recv_message_size: 16777216'), [
    'max_recv_message_size variable.other.property.kcl',
    ': punctuation.separator.key-value.kcl',
    '16777216 constant.numeric.integer.decimal.kcl',
  ]);
  assert.deepEqual(scopesOf('    name = "x", labels += {a: 1}').map((s) => s.split(' ')[1]), [
    'variable.other.property.kcl', 'keyword.operator.assignment.kcl', 'string.quoted.single.double.kcl', 'punctuation.separator.comma.kcl',
    'variable.other.property.kcl', 'keyword.operator.assignment.augmented.kcl', 'punctuation.section.braces.kcl',
    'variable.other.property.kcl', 'punctuation.separator.key-value.kcl', 'constant.numeric.integer.decimal.kcl', 'punctuation.section.braces.kcl',
  ]);
  assert.deepEqual(scopesOf('    "io.containerd.grpc.v1.cri": {}').slice(0, 1), ['"io.containerd.grpc.v1.cri" variable.other.property.kcl']);
  assert.deepEqual(scopesOf('    config.grpc.address: ""').slice(0, 1), ['config.grpc.address variable.other.property.kcl']);
  // a comparison is not a key
  assert.ok(!scopesOf('x == 1').some((s) => s.includes('property')));
});

test('keywords, constants, comments, imports, schemas and decorators', () => {
  assert.deepEqual(scopesOf('import provisioning.taskservs.containerd as cd'), [
    'import keyword.control.import.kcl',
    'provisioning.taskservs.containerd entity.name.namespace.kcl',
    'as keyword.control.import.kcl',
    'cd entity.name.namespace.alias.kcl',
  ]);
  assert.deepEqual(scopesOf('schema Containerd(Base):').slice(0, 2), ['schema storage.type.schema.kcl', 'Containerd entity.name.type.schema.kcl']);
  assert.deepEqual(scopesOf('rule HasVersion:').slice(0, 2), ['rule storage.type.schema.kcl', 'HasVersion entity.name.type.schema.kcl']);
  assert.deepEqual(scopesOf('@deprecated(version="1.2")').slice(0, 2), ['@ punctuation.definition.decorator.kcl', 'deprecated entity.name.function.decorator.kcl']);
  assert.deepEqual(scopesOf('    # ... base configuration'), ['# punctuation.definition.comment.kcl']);
  assert.equal(firstMatch(grammar.patterns, '    # ... base configuration')!.rule.name, 'comment.line.number-sign.kcl');
  for (const kw of ['if', 'else', 'elif', 'for', 'in', 'lambda', 'check', 'mixin', 'protocol', 'assert', 'as']) {
    assert.ok(scopesOf(`${kw} `).includes(`${kw} keyword.control.kcl`), kw);
  }
  for (const kw of ['and', 'or', 'not', 'is']) assert.deepEqual(scopesOf(kw), [`${kw} keyword.operator.logical.kcl`]);
  assert.deepEqual(scopesOf('True False None Undefined'), [
    'True constant.language.boolean.kcl', 'False constant.language.boolean.kcl',
    'None constant.language.null.kcl', 'Undefined constant.language.null.kcl',
  ]);
  assert.deepEqual(scopesOf('    check:'), ['check keyword.control.kcl', ': punctuation.separator.key-value.kcl']);
  assert.deepEqual(scopesOf('x = Containerd {').slice(-2), ['Containerd entity.name.type.kcl', '{ punctuation.section.braces.kcl']);
  // words that merely contain a keyword
  assert.deepEqual(scopesOf('    index_name: importer'), ['index_name variable.other.property.kcl', ': punctuation.separator.key-value.kcl']);
});

test('strings of every quote kind', () => {
  const cases: [string, string][] = [
    ['"a \\"b\\" c"', 'string.quoted.single.double.kcl'],
    ["'it\\'s'", 'string.quoted.single.single.kcl'],
    ['"""doc"""', 'string.quoted.triple.double.kcl'],
    ["'''doc'''", 'string.quoted.triple.single.kcl'],
    ['r"C:\\new"', 'string.quoted.single.double.raw.kcl'],
    ["R'^\\d+$'", 'string.quoted.single.single.raw.kcl'],
    ['r"""raw"""', 'string.quoted.triple.double.raw.kcl'],
    ['"*/5 * * * *"', 'string.quoted.single.double.kcl'],
  ];
  for (const [s, scope] of cases) assert.deepEqual(scan(s), [[s, scope]], s);
  // a triple-quoted string opened on a line runs past it
  assert.deepEqual(scan('"""first line'), [['"""first line', 'string.quoted.triple.double.kcl']]);
  // escapes and interpolation
  const esc = new RegExp(`^(?:${repo.escape.match})$`);
  for (const ok of ['\\n', '\\t', '\\"', "\\'", '\\\\', '\\u00e9', '\\U0001F600', '\\x41', '\\0', '\\123']) assert.match(ok, esc, ok);
  for (const bad of ['\\q', '\\u12', '\\xZ1']) assert.doesNotMatch(bad, esc, bad);
  assert.match('${name}', new RegExp(repo.interpolation.match!));
});

test('numbers, with unit suffixes', () => {
  const cases: [string, string][] = [
    ['42', 'constant.numeric.integer.decimal.kcl'],
    ['0', 'constant.numeric.integer.decimal.kcl'],
    ['16_777_216', 'constant.numeric.integer.decimal.kcl'],
    ['0xFF_FF', 'constant.numeric.integer.hexadecimal.kcl'],
    ['0o755', 'constant.numeric.integer.octal.kcl'],
    ['0b1010', 'constant.numeric.integer.binary.kcl'],
    ['1.5', 'constant.numeric.float.kcl'],
    ['.5', 'constant.numeric.float.kcl'],
    ['1e3', 'constant.numeric.float.kcl'],
    ['6.02E-23', 'constant.numeric.float.kcl'],
    ['1Ki', 'constant.numeric.integer.unit.kcl'],
    ['2Gi', 'constant.numeric.integer.unit.kcl'],
    ['500m', 'constant.numeric.integer.unit.kcl'],
    ['3M', 'constant.numeric.integer.unit.kcl'],
  ];
  const rules = repo.number.patterns!;
  for (const [text, want] of cases) {
    for (const ctx of [text, `${text},`, `${text} # c`, `${text}]`, `${text}}`]) {
      const f = firstMatch(rules, ctx);
      assert.ok(f, `nothing matches ${JSON.stringify(ctx)}`);
      assert.equal(f.m.index, 0, ctx);
      assert.equal(f.m[0], text, ctx);
      assert.equal(f.rule.name, want, ctx);
    }
  }
  assert.deepEqual(scan('2Gi', rules), [['Gi', 'keyword.other.unit.kcl']]);
  for (const bad of ['1__0', '0x', '2Xi', 'abc1', '1.7.18']) {
    const f = firstMatch(rules, bad);
    assert.ok(!f || f.m[0] !== bad, `${bad} matched as ${f?.rule.name}`);
  }
});

// ---- language-configuration-kcl.json ----------------------------------------------------------------

test('language configuration', () => {
  const conf = JSON.parse(readFileSync(path.join(ROOT, 'language-configuration-kcl.json'), 'utf8'));
  assert.equal(conf.comments.lineComment, '#');
  assert.equal(conf.comments.blockComment, undefined, 'KCL has no block comments');
  assert.deepEqual(conf.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  const opens = conf.autoClosingPairs.map((p: { open: string }) => p.open);
  for (const o of ['{', '[', '(', '"', "'"]) assert.ok(opens.includes(o), `auto-closes ${o}`);
  const word = new RegExp(conf.wordPattern, 'g');
  assert.deepEqual('max_recv_message_size: 16Mi, $if = a.b'.match(word), ['max_recv_message_size', '16Mi', '$if', 'a', 'b']);
  assert.equal(new RegExp(conf.wordPattern).exec('')?.[0] ?? '', '', 'the word pattern must not match the empty string');
  const inc = new RegExp(conf.indentationRules.increaseIndentPattern);
  const dec = new RegExp(conf.indentationRules.decreaseIndentPattern);
  for (const yes of ['containerd: Containerd = {', '    config: {  # c', '    runtimes: [', 'schema Containerd:', '    check:', '    if debug:', 'x = foo(']) {
    assert.ok(inc.test(yes), `indents after ${JSON.stringify(yes)}`);
  }
  for (const no of ['    version: "1.7.18"', '    list: [1, 2]', '    a: {}', '    url: "http://x:"', '# note:']) {
    assert.ok(!inc.test(no), `does not indent after ${JSON.stringify(no)}`);
  }
  assert.ok(dec.test('    }') && dec.test(']') && dec.test('  )') && !dec.test('    key: {'));
});
