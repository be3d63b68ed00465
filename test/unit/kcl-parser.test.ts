// The KCL front end (server/src/parser/kcl.ts): the five taskserv configurations of the seed
// document parse clean with the right values and exact ranges; the KCL around them (imports,
// schemas, decorators…) is skipped silently; literals decode like KCL; errors are reported at the
// offending token and the rest of the file is still read; random mutations never throw.
// Bundled by esbuild to out/test/unit/kcl-parser.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseKcl } from '../../server/src/parser/kcl';
import { getAt, toValue, walkProps, type ObjectNode, type ParsedDocument, type ScalarNode, type ValueNode } from '../../server/src/tree/model';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');

/** The KCL blocks of the seed: from `containerd: Containerd = {` to the matching `}` line. */
function seedBlocks(): Record<string, string> {
  const lines = readFileSync(SEED, 'utf8').split(/\r?\n/);
  const names = ['basic', 'production', 'multi-runtime', 'security', 'performance'];
  const out: Record<string, string> = {};
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== 'containerd: Containerd = {') continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '}') j++;
    out[names[n++]] = lines.slice(i, j + 1).join('\n') + '\n';
    i = j;
  }
  return out;
}

const blocks = seedBlocks();

function at(doc: ParsedDocument, dotted: string): unknown {
  const node = getAt(doc.root, dotted.split('.'));
  assert.ok(node, `${dotted} is missing`);
  return toValue(node);
}

function clean(text: string): ParsedDocument {
  const doc = parseKcl(text);
  assert.deepEqual(doc.syntaxErrors.map((e) => `${text.slice(e.range.start, e.range.end)}: ${e.message}`), [], text);
  return doc;
}

/** What a literal of the subset decodes to (for checking value ranges against the values). */
function reread(raw: string): unknown {
  if (raw === 'true' || raw === 'True') return true;
  if (raw === 'false' || raw === 'False') return false;
  if (raw === 'None') return null;
  if (/^"/.test(raw)) return JSON.parse(raw);
  return Number(raw.replace(/_/g, ''));
}

/** Ranges of every property: the key slices to the key, the value to its literal. */
function checkRanges(doc: ParsedDocument): number {
  const { text } = doc;
  let n = 0;
  walkProps(doc.root, (p, where) => {
    n++;
    const label = where.join('.');
    assert.equal(text.slice(p.keyRange.start, p.keyRange.end), p.key, `${label}: keyRange`);
    assert.deepEqual(p.keyRanges, [p.keyRange], `${label}: keyRanges`);
    assert.equal(p.range.start, p.keyRange.start, `${label}: the property starts at its key`);
    assert.equal(p.range.end, p.value.range.end, `${label}: the property ends with its value`);
    const v = p.value;
    const src = text.slice(v.range.start, v.range.end);
    if (v.kind === 'object') {
      if (v.origin === 'header') assert.ok(src.startsWith(p.key), `${label}: a declaration's range starts at its name`);
      else assert.ok(src.startsWith('{'), `${label}: ${src}`);
      assert.ok(src.endsWith('}'), `${label}: ${src}`);
    } else if (v.kind === 'array') {
      assert.match(src, /^\[[^]*\]$/, label);
    } else {
      assert.equal(src, v.raw, `${label}: raw`);
      assert.deepEqual(reread(src), v.value, `${label}: ${src}`);
    }
  });
  return n;
}

// ---- the seed's configurations ----------------------------------------------------------------

test('the seed has the five configurations', () => {
  assert.deepEqual(Object.keys(blocks), ['basic', 'production', 'multi-runtime', 'security', 'performance']);
});

for (const [name, text] of Object.entries(blocks)) {
  test(`seed ${name}: parses clean, one typed declaration, exact ranges`, () => {
    const doc = clean(text);
    assert.equal(doc.language, 'kcl');
    assert.equal(doc.text, text);
    assert.equal(doc.root.origin, 'root');
    assert.deepEqual(doc.root.range, { start: 0, end: text.length });
    assert.deepEqual(doc.root.props.map((p) => p.key), ['containerd']);
    const decl = doc.root.props[0];
    const obj = decl.value as ObjectNode;
    assert.equal(obj.kind, 'object');
    assert.equal(obj.origin, 'header');
    assert.equal(obj.typeName, 'Containerd');
    assert.equal(text.slice(obj.typeRange!.start, obj.typeRange!.end), 'Containerd');
    assert.equal(text.slice(obj.headerRange!.start, obj.headerRange!.end), 'containerd: Containerd =');
    assert.equal(text.slice(decl.range.start, decl.range.end), text.trimEnd());
    assert.equal(doc.sections.length, 1);
    const s = doc.sections[0];
    assert.deepEqual(s.path, ['containerd']);
    assert.equal(s.node, obj);
    assert.equal(s.arrayItem, false);
    assert.deepEqual(s.headerRange, obj.headerRange);
    assert.deepEqual(s.range, decl.range);
    const n = checkRanges(doc);
    assert.ok(n >= 5, `${n} properties`);
    // nested dicts are inline objects
    walkProps(obj, (p) => {
      if (p.value.kind === 'object') assert.equal(p.value.origin, 'inline');
    });
  });
}

test('seed basic: values', () => {
  const doc = clean(blocks.basic);
  assert.deepEqual(toValue(doc.root), {
    containerd: { name: 'containerd', version: '1.7.18', runtime_default: 'runc', runtimes: 'runc' },
  });
});

test('seed production: values', () => {
  const doc = clean(blocks.production);
  assert.equal(at(doc, 'containerd.config.grpc.max_recv_message_size'), 16777216);
  assert.equal(at(doc, 'containerd.config.grpc.max_send_message_size'), 16777216);
  assert.equal(at(doc, 'containerd.config.version'), 2);
  assert.deepEqual(at(doc, 'containerd.config.disabled_plugins'), []);
  assert.equal(at(doc, 'containerd.config.plugin_dir'), '');
  assert.equal(at(doc, 'containerd.runtimes'), 'runc,crun,youki');
  assert.equal(at(doc, 'containerd.plugins.cri.sandbox_image'), 'registry.k8s.io/pause:3.9');
  assert.equal(at(doc, 'containerd.plugins.cri.systemd_cgroup'), true);
  assert.equal(at(doc, 'containerd.plugins.cri.enable_selinux'), false);
  assert.equal(at(doc, 'containerd.plugins.cri.stream_server_port'), '0');
  assert.equal(at(doc, 'containerd.crictl.timeout'), 2);
  assert.deepEqual(Object.keys(at(doc, 'containerd') as object), ['name', 'version', 'runtime_default', 'runtimes', 'config', 'plugins', 'crictl']);
  assert.equal(Object.keys(at(doc, 'containerd.plugins.cri') as object).length, 20);
  const b = getAt(doc.root, ['containerd', 'plugins', 'cri', 'systemd_cgroup']) as ScalarNode;
  assert.equal(b.kind, 'boolean');
  assert.equal(b.raw, 'true');
});

test('seed multi-runtime: values', () => {
  const doc = clean(blocks['multi-runtime']);
  assert.equal(at(doc, 'containerd.runtime_configs.youki.options.SystemdCgroup'), false);
  assert.equal(at(doc, 'containerd.runtime_configs.runc.options.SystemdCgroup'), true);
  assert.equal(at(doc, 'containerd.runtime_configs.crun.options.BinaryName'), '/usr/local/bin/crun');
  assert.equal(at(doc, 'containerd.runtime_configs.runc.options.IoUid'), 0);
  assert.deepEqual(Object.keys(at(doc, 'containerd.runtime_configs') as object), ['runc', 'crun', 'youki']);
  for (const r of ['runc', 'crun', 'youki']) assert.equal(at(doc, `containerd.runtime_configs.${r}.runtime_type`), 'io.containerd.runc.v2');
});

test('seed security: values and the placeholder comments', () => {
  const doc = clean(blocks.security);
  assert.equal(at(doc, 'containerd.security.seccomp_profile'), '/etc/containerd/seccomp.json');
  assert.equal(at(doc, 'containerd.security.user_namespaces'), true);
  assert.equal(at(doc, 'containerd.plugins.cri.restrict_oom_score_adj'), true);
  assert.equal(at(doc, 'containerd.limits.max_containers'), 1000);
  assert.deepEqual(doc.comments.map((c) => c.text), [' ... base configuration', ' ... other CRI config']);
  for (const c of doc.comments) assert.equal(blocks.security.slice(c.range.start, c.range.end), `#${c.text}`);
});

test('seed high-performance: values', () => {
  const doc = clean(blocks.performance);
  assert.equal(at(doc, 'containerd.plugins.content.gc.schedule'), '*/5 * * * *');
  assert.equal(at(doc, 'containerd.plugins.content.gc.threshold'), 75);
  assert.equal(at(doc, 'containerd.plugins.snapshots.overlayfs.upperdir_label'), false);
  assert.equal(at(doc, 'containerd.performance.snapshotter'), 'overlayfs');
  assert.equal(at(doc, 'containerd.resources.pid_limit'), 0);
});

// ---- the KCL around the data --------------------------------------------------------------------

const MODULE = `# containerd taskserv
import provisioning.taskservs.containerd.kcl.containerd as cd
import regex

@deprecated(version="1.2", reason="use Containerd")
schema OldContainerd(cd.Base):
    """
    Docstring with a "quote" and a brace {
    """
    mixin [cd.VersionMixin]
    name: str = "containerd"
    version?: str
    config?: {str:any} = {
        version: 2
    }
    check:
        regex.match(version, r"^\\d+\\.\\d+"), "bad version"
        len(name) > 0

rule HasVersion:
    containerd.version

protocol P:
    a: int

_base = {runtime_default: "runc"}
inc = lambda x: int -> int {
    x + 1
}
if True:
    flag = 1
assert True, "never"

containerd: Containerd = {
    name: "containerd"
    version: "1.7.18"
}

crictl: cd.Crictl = {timeout: 2, debug: False}
debug_level = "info"
replicas: int = 3
`;

test('a module with imports, schemas, rules, decorators and several declarations', () => {
  const doc = clean(MODULE);
  assert.deepEqual(doc.root.props.map((p) => p.key), ['_base', 'containerd', 'crictl', 'debug_level', 'replicas']);
  assert.deepEqual(doc.sections.map((s) => s.path.join('.')), ['_base', 'containerd', 'crictl']);
  const crictl = getAt(doc.root, ['crictl']) as ObjectNode;
  assert.equal(crictl.typeName, 'Crictl', 'the schema name of a qualified type');
  assert.equal(MODULE.slice(crictl.typeRange!.start, crictl.typeRange!.end), 'Crictl');
  assert.equal(MODULE.slice(crictl.headerRange!.start, crictl.headerRange!.end), 'crictl: cd.Crictl =');
  assert.equal((getAt(doc.root, ['_base']) as ObjectNode).typeName, undefined);
  assert.deepEqual(toValue(crictl), { timeout: 2, debug: false });
  assert.equal(at(doc, 'replicas'), 3);
  assert.equal(at(doc, 'debug_level'), 'info');
  assert.equal(doc.comments.length, 1);
  checkRanges(doc);
});

test('schema instantiation and KCL config forms', () => {
  const text = [
    'containerd = Containerd {',
    '    name = "containerd"',
    '    runtimes += "runc"',
    "    'quoted-key': 1",
    '    "io.containerd.grpc.v1.cri": {enable_selinux: True,},',
    '    config.grpc.address: "/run/containerd/containerd.sock"',
    '    config.grpc.uid = 0',
    '    config.debug { level = "info" }',
    '    runtime_configs: {runc: RuntimeConfig {runtime_type: "io.containerd.runc.v2"}}',
    '    list: [',
    '        "a",',
    '        "b",',
    '    ]',
    '    $if: 1',
    '    type: "snapshot"',
    '}',
  ].join('\n');
  const doc = clean(text);
  const c = getAt(doc.root, ['containerd']) as ObjectNode;
  assert.equal(c.typeName, 'Containerd');
  assert.equal(c.origin, 'header');
  assert.equal(text.slice(c.headerRange!.start, c.headerRange!.end), 'containerd =');
  assert.deepEqual(toValue(c), {
    name: 'containerd',
    runtimes: 'runc',
    'quoted-key': 1,
    'io.containerd.grpc.v1.cri': { enable_selinux: true },
    config: { grpc: { address: '/run/containerd/containerd.sock', uid: 0 }, debug: { level: 'info' } },
    runtime_configs: { runc: { runtime_type: 'io.containerd.runc.v2' } },
    list: ['a', 'b'],
    if: 1,
    type: 'snapshot',
  });
  const config = c.props.find((p) => p.key === 'config')!;
  assert.equal(config.value.kind === 'object' && config.value.origin, 'implicit');
  assert.equal(config.keyRanges.length, 3, 'a dotted key path written three times');
  assert.equal(text.slice(config.keyExprRange!.start, config.keyExprRange!.end), 'config.grpc.address');
  const runc = getAt(c, ['runtime_configs', 'runc']) as ObjectNode;
  assert.equal(runc.typeName, 'RuntimeConfig');
  assert.equal(text.slice(runc.range.start, runc.range.end), 'RuntimeConfig {runtime_type: "io.containerd.runc.v2"}');
  const quoted = c.props.find((p) => p.key === 'quoted-key')!;
  assert.equal(text.slice(quoted.keyRange.start, quoted.keyRange.end), "'quoted-key'");
});

test('computed values are left out of the tree, without errors', () => {
  const text = [
    'containerd: Containerd = _base | {',
    '    name: "x"',
    '}',
    'c: Containerd = {',
    '    name: _name',
    '    version: "1." + "7"',
    '    port: int(x)',
    '    labels: {k: v for k, v in _labels}',
    '    items: [i * 2 for i in range(3)]',
    '    refs: [a, b]',
    '    sel: "a" if x else "b"',
    '    ok: all x in xs { x > 0 }',
    '    fn: lambda x { x }',
    '    neg: -(1)',
    '    **_extra',
    '    if _debug:',
    '        level: "debug"',
    '        debug: {',
    '            x: 1',
    '        }',
    '    elif _x: level = "x"',
    '    else:',
    '        level: "info"',
    '    kept: [{a: _x, b: 1}]',
    '    last: 1',
    '}',
  ].join('\n');
  const doc = clean(text);
  assert.deepEqual(toValue(doc.root), { c: { kept: [{ b: 1 }], last: 1 } });
});

// ---- literals -----------------------------------------------------------------------------------

test('literals decode like KCL and keep their source', () => {
  const text = String.raw`x = {
    dec: 16_777_216
    hex: 0xFF
    oct: 0o755
    bin: 0b1010
    ki: 1Ki
    gi: 2Gi
    mega: 3M
    kilo: 4k
    milli: 500m
    zero: 0
    neg: -42
    pos: +7
    f: 1.5
    exp: 1e3
    fneg: -0.25
    half: .5
    yes: True
    no: False
    lower: true
    none: None
    undef: Undefined
    dq: "a\"b\\c\n\t\u00e9\x41"
    sq: 'it\'s'
    raw: r"C:\new\d+"
    rawq: R'^\d+$'
    triple: """line1
  "quoted" line2"""
    tsq: '''a
b'''
    esc_unknown: "\q"
    interp: "INTERP"
    empty: ""
}`.replace('INTERP', '$' + '{name}-1');
  const doc = clean(text);
  const want: Record<string, [ScalarNode['kind'], unknown, string]> = {
    dec: ['integer', 16777216, '16_777_216'],
    hex: ['integer', 255, '0xFF'],
    oct: ['integer', 493, '0o755'],
    bin: ['integer', 10, '0b1010'],
    ki: ['integer', 1024, '1Ki'],
    gi: ['integer', 2 * 1024 ** 3, '2Gi'],
    mega: ['integer', 3_000_000, '3M'],
    kilo: ['integer', 4000, '4k'],
    milli: ['float', 0.5, '500m'],
    zero: ['integer', 0, '0'],
    neg: ['integer', -42, '-42'],
    pos: ['integer', 7, '+7'],
    f: ['float', 1.5, '1.5'],
    exp: ['float', 1000, '1e3'],
    fneg: ['float', -0.25, '-0.25'],
    half: ['float', 0.5, '.5'],
    yes: ['boolean', true, 'True'],
    no: ['boolean', false, 'False'],
    lower: ['boolean', true, 'true'],
    none: ['null', null, 'None'],
    undef: ['null', null, 'Undefined'],
    dq: ['string', 'a"b\\c\n\té\x41', String.raw`"a\"b\\c\n\t\u00e9\x41"`],
    sq: ['string', "it's", String.raw`'it\'s'`],
    raw: ['string', String.raw`C:\new\d+`, String.raw`r"C:\new\d+"`],
    rawq: ['string', String.raw`^\d+$`, String.raw`R'^\d+$'`],
    triple: ['string', 'line1\n  "quoted" line2', '"""line1\n  "quoted" line2"""'],
    tsq: ['string', 'a\nb', "'''a\nb'''"],
    esc_unknown: ['string', '\\q', String.raw`"\q"`],
    interp: ['string', '${name}-1', '"${name}-1"'],
    empty: ['string', '', '""'],
  };
  const x = getAt(doc.root, ['x']) as ObjectNode;
  assert.deepEqual(x.props.map((p) => p.key), Object.keys(want));
  for (const p of x.props) {
    const v = p.value as ScalarNode;
    assert.deepEqual([v.kind, v.value, v.raw], want[p.key], p.key);
    assert.equal(text.slice(v.range.start, v.range.end), v.raw, p.key);
  }
});

test('lists: multi-line, trailing commas, nesting, newline separators', () => {
  const doc = clean(`x = {
    a: [1, 2, 3,]
    b: [
        "x",
        "y"
    ]
    c: [
        1
        2
    ]
    d: [[1, 2], [], {k: [True]}]
    e: []
}`);
  assert.deepEqual(toValue(doc.root), { x: { a: [1, 2, 3], b: ['x', 'y'], c: [1, 2], d: [[1, 2], [], { k: [true] }], e: [] } });
  const a = getAt(doc.root, ['x', 'a']) as ValueNode;
  assert.equal(a.kind === 'array' && a.ofTables, false);
});

test('line continuation, CRLF line ends, tabs and a BOM', () => {
  const text = '\uFEFFcontainerd: Containerd = {\r\n\tname: \\\r\n\t\t"containerd"\r\n\tversion: "1.7.18"  # pinned\r\n}\r\n';
  const doc = clean(text);
  assert.deepEqual(toValue(doc.root), { containerd: { name: 'containerd', version: '1.7.18' } });
  assert.equal(doc.comments[0].text, ' pinned');
  assert.equal(text.slice(doc.comments[0].range.start, doc.comments[0].range.end), '# pinned');
  checkRanges(doc);
});

// ---- errors -------------------------------------------------------------------------------------

function errorsOf(doc: ParsedDocument): string[] {
  return doc.syntaxErrors.map((e) => `${e.code} ${JSON.stringify(doc.text.slice(e.range.start, e.range.end))}`);
}

test('an unexpected token after a value: error at the token, the rest is kept', () => {
  const text = blocks.production.replace('version: "1.7.18"', 'version: "1.7.18" !!');
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "!!"']);
  const e = doc.syntaxErrors[0];
  assert.equal(e.range.start, text.indexOf('!!'));
  assert.match(e.message, /^KCL syntax error: /);
  assert.equal(at(doc, 'containerd.version'), '1.7.18');
  assert.equal(at(doc, 'containerd.runtime_default'), 'runc');
  assert.equal(at(doc, 'containerd.crictl.pull_image_on_create'), false);
  assert.equal(at(doc, 'containerd.config.grpc.max_recv_message_size'), 16777216);
});

test('a missing } : one error at the unclosed brace, the keys after it stay where they belong', () => {
  // the `}` closing `grpc: {` is deleted
  const lines = blocks.production.split('\n');
  const grpcAt = lines.findIndex((l) => l.trim() === 'grpc: {');
  const closeAt = lines.findIndex((l, i) => i > grpcAt && l === '        }');
  lines.splice(closeAt, 1);
  const text = lines.join('\n');
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "{"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.indexOf('grpc: {') + 'grpc: '.length);
  assert.match(doc.syntaxErrors[0].message, /^KCL syntax error: '\{' is never closed/);
  assert.equal(at(doc, 'containerd.config.grpc.max_send_message_size'), 16777216);
  assert.equal(at(doc, 'containerd.config.debug.level'), '');
  assert.equal(at(doc, 'containerd.plugins.cri.max_concurrent_downloads'), 3);
  assert.equal(at(doc, 'containerd.crictl.timeout'), 2);
  assert.equal(getAt(doc.root, ['containerd', 'config', 'grpc', 'debug']), undefined);
});

test('a stray ] : error at it, the next keys are read', () => {
  const text = blocks['multi-runtime'].replace('                IoUid: 0\n', '                IoUid: 0\n                ]\n');
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "]"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.indexOf(']'));
  assert.equal(at(doc, 'containerd.runtime_configs.runc.options.IoGid'), 0);
  assert.equal(at(doc, 'containerd.runtime_configs.runc.options.SystemdCgroup'), true);
  assert.equal(at(doc, 'containerd.runtime_configs.youki.options.SystemdCgroup'), false);
});

test('several errors in one file are all reported, each once', () => {
  const text = `containerd: Containerd = {
    name: "containerd"
    version: 1.7.18
    runtimes "runc"
    runtime_default: ,
    config: {
        version: 2 3
        oom_score: -
    }
    list: [1, 2
    crictl: {
        timeout: 2
    }
    tail: "unterminated
    last: True
}
`;
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), [
    'containerd/syntax "1.7.18"',
    'containerd/syntax "\\"runc\\""',
    'containerd/syntax ","',
    'containerd/syntax "3"',
    'containerd/syntax "}"',
    'containerd/syntax "["',
    'containerd/syntax "\\"unterminated"',
  ]);
  assert.equal(at(doc, 'containerd.config.version'), 2);
  assert.deepEqual(at(doc, 'containerd.list'), [1, 2]);
  assert.equal(at(doc, 'containerd.crictl.timeout'), 2);
  assert.equal(at(doc, 'containerd.tail'), 'unterminated');
  assert.equal(at(doc, 'containerd.last'), true);
  for (const e of doc.syntaxErrors) assert.match(e.message, /^KCL syntax error: /);
});

test('unclosed braces at end of file: one error at the opening brace, what was read is kept', () => {
  const text = 'containerd: Containerd = {\n    name: "containerd"\n    config: {\n        version: 2\n';
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "{"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.lastIndexOf('{'));
  assert.deepEqual(toValue(doc.root), { containerd: { name: 'containerd', config: { version: 2 } } });
  assert.equal(doc.sections.length, 1);
});

test('a dedented declaration closes an unclosed dict; the next declaration is read', () => {
  const text = 'containerd: Containerd = {\n    name: "containerd"\n\ncrictl: Crictl = {\n    timeout: 2\n}\n';
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "{"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.indexOf('{'));
  assert.deepEqual(toValue(doc.root), { containerd: { name: 'containerd' }, crictl: { timeout: 2 } });
  assert.deepEqual(doc.sections.map((s) => s.path[0]), ['containerd', 'crictl']);
});

test('an empty nested dict left open (just typed `{` and Enter): the error is at its brace', () => {
  const text = 'containerd: Containerd = {\n    name: "x"\n    plugins: {\n    version: "1.7.18"\n}\n';
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "{"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.lastIndexOf('{'));
  assert.deepEqual(toValue(doc.root), { containerd: { name: 'x', plugins: {}, version: '1.7.18' } });
  // but entries at column 0 of a top-level dict are fine
  assert.deepEqual(clean('a = {\nb: 1\nc: {\nd: 2\n}\n}\n').syntaxErrors, []);
});

test('an unterminated triple-quoted string does not swallow the file', () => {
  const text = 'x = {\n    a: """open\n    b: 2\n}\n';
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "\\"\\"\\"open"']);
  assert.deepEqual(toValue(doc.root), { x: { a: 'open', b: 2 } });
});

test('stray closing brackets and junk after a declaration', () => {
  const doc = parseKcl('a = {x: 1}}\nb = 2 )\nc = 3\n}\n');
  assert.deepEqual(errorsOf(doc), ['containerd/syntax "}"', 'containerd/syntax ")"', 'containerd/syntax "}"']);
  assert.deepEqual(toValue(doc.root), { a: { x: 1 }, b: 2, c: 3 });
});

test('duplicate keys: a warning on the second, the first is kept', () => {
  const text = `containerd: Containerd = {
    version: "1.7.18"
    plugins: {
        cri: {enable_selinux: true}
    }
    version: "2.0.0"
    plugins.cri.enable_selinux: false
}
containerd = {}
`;
  const doc = parseKcl(text);
  assert.deepEqual(errorsOf(doc), ['containerd/duplicate-key "version"', 'containerd/duplicate-key "enable_selinux"', 'containerd/duplicate-key "containerd"']);
  assert.equal(doc.syntaxErrors[0].range.start, text.lastIndexOf('version'));
  assert.match(doc.syntaxErrors[0].message, /defined twice/);
  assert.equal(at(doc, 'containerd.version'), '1.7.18');
  assert.equal(at(doc, 'containerd.plugins.cri.enable_selinux'), true);
  assert.equal(doc.sections.length, 1);
});

test('empty and comment-only documents', () => {
  for (const text of ['', '\n\n', '# only a comment\n', '   ']) {
    const doc = clean(text);
    assert.deepEqual(doc.root.props, []);
  }
});

// ---- robustness ---------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['{', '}', '[', ']', '(', ')', ':', '=', ',', '"', "'", '"""', '#', '\n', ' ', '    ', '\\', '.', '-', '**', '!', 'if ', 'x', '0x', '1Ki', 'True', 'schema ', 'import ', 'lambda ', '$', '@', 'for '];

function mutate(text: string, r: () => number): string {
  let t = text;
  const steps = 1 + Math.floor(r() * 4);
  for (let s = 0; s < steps; s++) {
    const pos = Math.floor(r() * (t.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0: // truncate
        t = t.slice(0, pos);
        break;
      case 1: // delete a run
        t = t.slice(0, pos) + t.slice(pos + 1 + Math.floor(r() * 8));
        break;
      case 2: // insert a token-ish piece
        t = t.slice(0, pos) + ALPHABET[Math.floor(r() * ALPHABET.length)] + t.slice(pos);
        break;
      case 3: {
        // duplicate a line
        const lines = t.split('\n');
        const i = Math.floor(r() * lines.length);
        lines.splice(i, 0, lines[i]);
        t = lines.join('\n');
        break;
      }
      case 4: // insert a random character
        t = t.slice(0, pos) + String.fromCharCode(32 + Math.floor(r() * 95)) + t.slice(pos);
        break;
      default: {
        // swap two lines
        const lines = t.split('\n');
        const i = Math.floor(r() * lines.length);
        const j = Math.floor(r() * lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        t = lines.join('\n');
      }
    }
  }
  return t;
}

function checkInvariants(doc: ParsedDocument): void {
  const len = doc.text.length;
  const inText = (r: { start: number; end: number }, what: string) =>
    assert.ok(r.start >= 0 && r.start <= r.end && r.end <= len, `${what} ${JSON.stringify(r)} outside 0..${len}`);
  for (const e of doc.syntaxErrors) {
    inText(e.range, 'error');
    assert.ok(e.code === 'containerd/syntax' || e.code === 'containerd/duplicate-key', e.code);
  }
  for (const c of doc.comments) inText(c.range, 'comment');
  walkProps(doc.root, (p) => {
    inText(p.keyRange, 'key');
    inText(p.range, 'property');
    inText(p.value.range, 'value');
    const k = doc.text.slice(p.keyRange.start, p.keyRange.end);
    if (/^\$?[A-Za-z_]\w*$/.test(k)) assert.equal(k.replace(/^\$/, ''), p.key);
  });
}

test('2000 seeded random mutations of the seed blocks never throw', () => {
  const sources = Object.values(blocks).concat(MODULE);
  const r = rng(20240611);
  let errors = 0;
  for (let n = 0; n < 2000; n++) {
    const text = mutate(sources[n % sources.length], r);
    let doc: ParsedDocument;
    try {
      doc = parseKcl(text);
    } catch (e) {
      assert.fail(`mutation #${n} threw ${e}\n${text}`);
    }
    assert.ok(!doc.syntaxErrors.some((e) => /internal parser error/.test(e.message)), `mutation #${n}: internal error\n${text}`);
    checkInvariants(doc);
    errors += doc.syntaxErrors.length;
  }
  assert.ok(errors > 0, 'the mutations produce errors');
});

test('pathological input: deep nesting, long operator chains, a huge file', () => {
  const deep = parseKcl('x = ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000));
  assert.ok(deep.syntaxErrors.some((e) => /nested too deeply/.test(e.message)));
  checkInvariants(deep);
  const open = parseKcl('x = ' + '['.repeat(20000));
  assert.equal(open.syntaxErrors.filter((e) => /never closed|nested too deeply/.test(e.message)).length >= 1, true);
  const ops = parseKcl('x = {a: ' + '- '.repeat(50000) + '1}\n');
  assert.deepEqual(ops.syntaxErrors, []);
  const junk = parseKcl('!'.repeat(100000) + '\n' + '{'.repeat(1000) + '\n' + '"'.repeat(1001));
  checkInvariants(junk);
  const big = Object.values(blocks).map((b, i) => b.replace('containerd: Containerd', `c${i}: Containerd`)).join('\n').repeat(200);
  const doc = parseKcl(big);
  assert.equal(doc.syntaxErrors.filter((e) => e.code === 'containerd/syntax').length, 0);
  assert.equal(doc.root.props.length, 5);
});
