// Taskserv (KCL) completion, hover, symbols and folding: the services behind the facade for
// `.k` documents (server/src/services/taskserv{Completion,Hover,Symbols}.ts), driven with the
// seed's five Containerd configurations and with broken documents.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CompletionItemTag, SymbolKind, type CompletionItem, type DocumentSymbol, type Hover, type Position } from 'vscode-languageserver-types';
import { LanguageService, type ServiceDocument } from '../../server/src/languageService';
import { taskservCompleteUnguarded } from '../../server/src/services/taskservCompletion';
import { taskservHoverUnguarded } from '../../server/src/services/taskservHover';
import { taskservFolding, taskservSymbols } from '../../server/src/services/taskservSymbols';
import { seedBlocks, type SeedBlock } from '../helpers/seed';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');
const HAVE_SEED = existsSync(SEED);


function seeds(): SeedBlock[] {
  if (!HAVE_SEED) return [];
  return seedBlocks(SEED);
}

const SEEDS = seeds();
const seed = (title: string): string => {
  const s = SEEDS.find((x) => x.title.startsWith(title));
  assert.ok(s, `seed block "${title}" (have: ${SEEDS.map((x) => x.title).join(', ')})`);
  return s.text;
};

const service = new LanguageService();
let n = 0;
function prep(text: string): ServiceDocument {
  return service.prepare(TextDocument.create(`file:///w/t${++n}/containerd.k`, 'KCL', 1, text));
}

/** Text with a `¦` cursor marker → the document without it and the cursor position. */
function at(marked: string): { sd: ServiceDocument; pos: Position; text: string } {
  const i = marked.indexOf('¦');
  assert.ok(i >= 0, 'cursor marker');
  const text = marked.slice(0, i) + marked.slice(i + 1);
  const sd = prep(text);
  return { sd, pos: sd.text.positionAt(i), text };
}

function complete(marked: string): CompletionItem[] {
  const { sd, pos } = at(marked);
  return taskservCompleteUnguarded(sd, pos).items;
}

function labels(items: CompletionItem[]): string[] {
  return items.map((i) => i.label);
}

function item(items: CompletionItem[], label: string): CompletionItem {
  const it = items.find((i) => i.label === label);
  assert.ok(it, `item ${label} in [${labels(items).join(', ')}]`);
  return it;
}

function newText(it: CompletionItem): string {
  assert.ok(it.textEdit && 'range' in it.textEdit, 'textEdit with a range');
  return it.textEdit.newText;
}

function hoverText(h: Hover | null): string {
  assert.ok(h, 'a hover');
  const c = h.contents;
  return typeof c === 'string' ? c : 'value' in c ? c.value : JSON.stringify(c);
}

function hoverAt(text: string, needle: string, delta = 1): string {
  const sd = prep(text);
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `"${needle}" in text`);
  return hoverText(taskservHoverUnguarded(sd, sd.text.positionAt(i + delta)));
}

// ------------------------------------------------------------------------------- completion

describe('taskserv completion', () => {
  it('offers the top-level fields inside `containerd: Containerd = {`, with KCL details and snippets', () => {
    const items = complete('containerd: Containerd = {\n    ¦\n}\n');
    for (const k of ['name', 'version', 'runtime_default', 'runtimes', 'runtime_configs', 'config', 'plugins', 'crictl', 'resources', 'install']) {
      assert.ok(labels(items).includes(k), `top-level field ${k}`);
    }
    assert.ok(!labels(items).includes('grpc'), 'no nested fields at the top level');
    const rd = item(items, 'runtime_default');
    assert.equal(rd.detail, 'string = "runc"');
    assert.match(newText(rd), /^runtime_default: "\$\{1/);
    assert.equal(typeof rd.documentation === 'object' && rd.documentation.kind, 'markdown');
    assert.match(JSON.stringify(rd.documentation), /default_runtime_name/);
    assert.equal(newText(item(items, 'config')), 'config: {\n\t$0\n}');
    assert.equal(newText(item(items, 'name')), 'name: "${1:containerd}"');
  });

  it('leaves out the fields already set (before and after the cursor)', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const basic = seed('Basic');
    const marked = basic.replace('    runtime_default:', '    ¦\n    runtime_default:');
    const items = complete(marked);
    for (const k of ['name', 'version', 'runtime_default', 'runtimes']) assert.ok(!labels(items).includes(k), `${k} is set`);
    assert.ok(labels(items).includes('config'));
  });

  it('inside config.grpc offers the gRPC fields not set yet', () => {
    const items = complete('containerd: Containerd = {\n    config: {\n        grpc: {\n            address: "/run/containerd/containerd.sock"\n            ¦\n        }\n    }\n}\n');
    assert.ok(labels(items).includes('max_recv_message_size'));
    assert.ok(labels(items).includes('tcp_address'));
    assert.ok(!labels(items).includes('address'), 'address is set');
    assert.ok(!labels(items).includes('root'), 'root is a config field, not grpc');
    assert.equal(item(items, 'max_recv_message_size').detail, 'integer = 16777216');
    assert.equal(newText(item(items, 'uid')), 'uid: ${1:0}');
  });

  it('inside plugins.cri offers the CRI fields; booleans are True/False, not-containerd fields are tagged', () => {
    const items = complete('containerd: Containerd = {\n    plugins: {\n        cri: {\n            sandbox_image: "registry.k8s.io/pause:3.9"\n            ¦\n        }\n    }\n}\n');
    assert.ok(labels(items).includes('systemd_cgroup'));
    assert.ok(labels(items).includes('enable_selinux'));
    assert.ok(labels(items).includes('registry'));
    assert.ok(!labels(items).includes('sandbox_image'));
    const tcp = item(items, 'disable_tcp_service');
    assert.equal(tcp.detail, 'boolean = True');
    assert.equal(newText(tcp), 'disable_tcp_service: ${1|True,False|}');
    assert.equal(newText(item(items, 'enable_selinux')), 'enable_selinux: ${1|False,True|}');
    const sec = item(items, 'seccomp_profile_root');
    assert.deepEqual(sec.tags, [CompletionItemTag.Deprecated]);
    assert.match(sec.detail ?? '', /not a containerd setting/);
    assert.ok(sec.sortText! > tcp.sortText!, 'not-containerd fields sort last');
  });

  it('`runtime_default: ` offers the runtimes the document lists', () => {
    const items = complete('containerd: Containerd = {\n    runtimes: "runc,crun,youki"\n    runtime_default: ¦\n}\n');
    assert.deepEqual(labels(items), ['"runc"', '"crun"', '"youki"']);
    assert.equal(newText(item(items, '"crun"')), '"crun"');
    const noSpace = complete('containerd: Containerd = {\n    runtimes: "runc,crun"\n    runtime_default:¦\n}\n');
    assert.equal(newText(item(noSpace, '"crun"')), ' "crun"', 'a space after the colon');
    // typed before the runtimes line, and inside the quotes
    const inStr = complete('containerd: Containerd = {\n    runtime_default: "c¦"\n    runtimes: "runc,crun"\n}\n');
    assert.deepEqual(labels(inStr), ['runc', 'crun']);
    assert.equal(newText(item(inStr, 'crun')), 'crun');
  });

  it('inside the `runtimes` string after a comma offers the known runtimes not listed yet', () => {
    const items = complete('containerd: Containerd = {\n    runtimes: "runc,¦"\n}\n');
    assert.ok(labels(items).includes('crun') && labels(items).includes('youki'), labels(items).join(','));
    assert.ok(!labels(items).includes('runc'), 'runc is listed');
    const two = complete('containerd: Containerd = {\n    runtimes: "runc,crun, y¦"\n}\n');
    assert.ok(labels(two).includes('youki') && !labels(two).includes('crun') && !labels(two).includes('runc'));
    const { sd, pos } = at('containerd: Containerd = {\n    runtimes: "runc,crun, y¦"\n}\n');
    const yk = taskservCompleteUnguarded(sd, pos).items.find((i) => i.label === 'youki')!;
    assert.ok(yk.textEdit && 'range' in yk.textEdit);
    assert.equal(yk.textEdit.range.start.character, pos.character - 1, 'replaces the typed "y"');
    // at the start of the string
    assert.ok(labels(complete('containerd: Containerd = {\n    runtimes: "¦"\n}\n')).includes('runc'));
  });

  it('`runtime_configs` offers the listed runtimes that have no entry yet', () => {
    const items = complete('containerd: Containerd = {\n    runtimes: "runc,crun,youki"\n    runtime_configs: {\n        runc: {\n            runtime_type: "io.containerd.runc.v2"\n        }\n        ¦\n    }\n}\n');
    assert.deepEqual(labels(items), ['crun', 'youki']);
    assert.equal(newText(item(items, 'crun')), 'crun: {\n\t$0\n}');
  });

  it('inside runtime_configs.<name>.options offers the runc options (SystemdCgroup, BinaryName)', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const items = complete('containerd: Containerd = {\n    runtimes: "runc,crun"\n    runtime_configs: {\n        crun: {\n            options: {\n                Root: ""\n                ¦\n            }\n        }\n    }\n}\n');
    assert.ok(labels(items).includes('SystemdCgroup'));
    assert.ok(labels(items).includes('BinaryName'));
    assert.ok(!labels(items).includes('Root'));
    assert.equal(newText(item(items, 'SystemdCgroup')), 'SystemdCgroup: ${1|False,True|}');
    // the Multi-Runtime seed's youki options: BinaryName and SystemdCgroup are set
    const multi = seed('Multi-Runtime');
    const marked = multi.replace('                BinaryName: "/usr/local/bin/youki"', '                ¦\n                BinaryName: "/usr/local/bin/youki"');
    const ys = labels(complete(marked));
    assert.ok(ys.includes('NoPivotRoot') && !ys.includes('BinaryName') && !ys.includes('SystemdCgroup'), ys.join(','));
  });

  it('a half-typed document: an unclosed dict above the cursor is closed by the dedent', () => {
    const items = complete('containerd: Containerd = {\n    version: "1.7.18"\n    config: {\n        grpc: {\n            address: "/run/containerd/containerd.sock"\n    plu¦');
    assert.ok(labels(items).includes('plugins'), labels(items).join(','));
    assert.ok(!labels(items).includes('version'), 'version is set');
    const { sd, pos } = at('containerd: Containerd = {\n    version: "1.7.18"\n    config: {\n        grpc: {\n            address: "/run/containerd/containerd.sock"\n    plu¦');
    const p = taskservCompleteUnguarded(sd, pos).items.find((i) => i.label === 'plugins')!;
    assert.ok(p.textEdit && 'range' in p.textEdit);
    assert.equal(p.textEdit.range.start.character, 4, 'replaces the partial key');
    // still inside grpc: deeper indentation
    const deeper = complete('containerd: Containerd = {\n    config: {\n        grpc: {\n            address: "/run/containerd/containerd.sock"\n            ui¦');
    assert.ok(labels(deeper).includes('uid') && !labels(deeper).includes('plugins'));
  });

  it('value completion: releases for version, enum values, booleans, runtime types', () => {
    const v = complete('containerd: Containerd = {\n    version: ¦\n}\n');
    assert.ok(labels(v).includes('"1.7.27"') && labels(v).includes('"2.1.3"'), labels(v).join(','));
    const lvl = complete('containerd: Containerd = {\n    config: {\n        debug: {\n            level: ¦\n        }\n    }\n}\n');
    assert.ok(labels(lvl).includes('"info"') && labels(lvl).includes('"debug"'));
    const b = complete('containerd: Containerd = {\n    plugins: {\n        cri: {\n            enable_cdi: Tr¦\n        }\n    }\n}\n');
    assert.deepEqual(labels(b).sort(), ['False', 'True']);
    const bt = item(b, 'True');
    assert.ok(bt.textEdit && 'range' in bt.textEdit && bt.textEdit.range.start.character === 24, 'replaces the typed "Tr"');
    const rt = complete('containerd: Containerd = {\n    runtime_configs: {\n        kata: {\n            runtime_type: ¦\n        }\n    }\n}\n');
    assert.ok(labels(rt).includes('"io.containerd.kata.v2"'));
    const cv = complete('containerd: Containerd = {\n    config: { version: ¦ }\n}\n');
    assert.deepEqual(labels(cv).slice(0, 3).sort(), ['2', '3', '4']);
    const dict = complete('containerd: Containerd = {\n    crictl: ¦\n}\n');
    assert.equal(newText(item(dict, '{…}')), '{\n\t$0\n}');
  });

  it('dotted keys, one-line dicts, comments and the top level', () => {
    const dotted = complete('containerd: Containerd = {\n    config.gr¦\n}\n');
    assert.ok(labels(dotted).includes('grpc'), labels(dotted).join(','));
    const oneLine = complete('containerd: Containerd = {\n    config: {root: "/var/lib/containerd", st¦}\n}\n');
    assert.ok(labels(oneLine).includes('state') && !labels(oneLine).includes('root'));
    assert.deepEqual(complete('containerd: Containerd = {\n    # run¦\n}\n'), []);
    const top = complete('¦');
    assert.equal(top.length, 1);
    assert.match(newText(top[0]), /^containerd: Containerd = \{/);
    assert.deepEqual(labels(complete('containerd: Cont¦')), ['Containerd']);
    assert.deepEqual(complete('other = {\n    ¦\n}\n'), [], 'not a Containerd value');
  });
});

// ------------------------------------------------------------------------------- hover

describe('taskserv hover', () => {
  it('on a field: its markdown and the config.toml key it becomes for the release', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const prod = seed('Production');
    const h = hoverAt(prod, 'sandbox_image');
    assert.match(h, /sandbox_image/);
    assert.match(h, /plugins\."io\.containerd\.grpc\.v1\.cri"\.sandbox_image/);
    assert.match(h, /containerd 1\.7\.18, config version 2/);
    // on the value
    const hv = hoverAt(prod, '"registry.k8s.io/pause:3.9"');
    assert.match(hv, /\*\*Value:\*\*/);
    // a 2.x release renders the version 3 path
    const v21 = prod.replace('version: "1.7.18"', 'version: "2.1.3"').replace('        version: 2\n', '');
    const h3 = hoverAt(v21, 'sandbox_image');
    assert.match(h3, /io\.containerd\.cri\.v1\.images/, h3);
    const rd = hoverAt(prod, 'runtime_default');
    assert.match(rd, /default_runtime_name/);
  });

  it('on seccomp_profile_root: not a containerd setting, with the equivalent', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const h = hoverAt(seed('Security-Hardened'), 'seccomp_profile_root');
    assert.match(h, /not a containerd setting/i);
    assert.match(h, /kubelet/);
    assert.match(h, /Instead/);
    assert.doesNotMatch(h, /config\.toml key is/);
  });

  it('on the type name Containerd: a summary of what the taskserv renders', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const h = hoverAt(seed('Multi-Runtime'), 'Containerd', 2);
    assert.match(h, /\/etc\/containerd\/config\.toml/);
    assert.match(h, /1\.7\.18/);
    assert.match(h, /runc.*crun.*youki/s);
  });

  it('on a runtime_configs entry, crictl and systemd fields, and in a broken document', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const multi = seed('Multi-Runtime');
    const crun = hoverAt(multi, 'crun: {');
    assert.match(crun, /listed in `runtimes`/);
    const prod = seed('Production');
    assert.match(hoverAt(prod, 'runtime_endpoint'), /runtime-endpoint.*\/etc\/crictl\.yaml/s);
    assert.match(hoverAt(seed('High-Performance'), 'memory_limit'), /MemoryMax=/);
    // an unfinished line the parser could not read: text fallback
    const broken = 'containerd: Containerd = {\n    plugins: {\n        cri: {\n            sandbox_image: \n';
    assert.match(hoverAt(broken, 'sandbox_image'), /sandbox_image/);
    assert.equal(taskservHoverUnguarded(prep('containerd: Containerd = {\n    # sandbox_image\n}\n'), { line: 1, character: 10 }), null);
  });
});

// ------------------------------------------------------------------------------- symbols & folding

function walkSymbols(syms: DocumentSymbol[], fn: (s: DocumentSymbol, parent?: DocumentSymbol) => void, parent?: DocumentSymbol): void {
  for (const s of syms) {
    fn(s, parent);
    if (s.children) walkSymbols(s.children, fn, s);
  }
}

function containsRange(outer: DocumentSymbol['range'], inner: DocumentSymbol['range']): boolean {
  const le = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return le(outer.start, inner.start) && le(inner.end, outer.end);
}

describe('taskserv symbols and folding', () => {
  it('outline of the Multi-Runtime seed', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const sd = prep(seed('Multi-Runtime'));
    const syms = taskservSymbols(sd);
    assert.equal(syms.length, 1);
    const decl = syms[0];
    assert.equal(decl.name, 'containerd');
    assert.equal(decl.kind, SymbolKind.Class);
    assert.equal(decl.detail, 'Containerd');
    assert.deepEqual(decl.children!.map((c) => c.name), ['name', 'version', 'runtime_default', 'runtimes', 'runtime_configs']);
    const rc = decl.children!.find((c) => c.name === 'runtime_configs')!;
    assert.equal(rc.kind, SymbolKind.Object);
    assert.deepEqual(rc.children!.map((c) => c.name), ['runc', 'crun', 'youki']);
    const runc = rc.children![0];
    assert.equal(runc.detail, 'io.containerd.runc.v2');
    const opts = runc.children!.find((c) => c.name === 'options')!;
    assert.equal(opts.children!.length, 9);
    assert.equal(opts.children!.find((c) => c.name === 'SystemdCgroup')!.kind, SymbolKind.Boolean);
    assert.equal(opts.children!.find((c) => c.name === 'IoUid')!.kind, SymbolKind.Number);
    assert.equal(decl.children![0].kind, SymbolKind.String);
    assert.equal(decl.children![0].detail, '"containerd"');
    let count = 0;
    walkSymbols(syms, (s, parent) => {
      count++;
      assert.ok(containsRange(s.range, s.selectionRange), `${s.name}: range contains selectionRange`);
      if (parent) assert.ok(containsRange(parent.range, s.range), `${parent.name} contains ${s.name}`);
    });
    assert.equal(count, 1 + 5 + 3 + 3 * 2 + 9 + 2 + 2);
    // plugins is a namespace, its plugins modules; notContainerd fields say so
    const sec = taskservSymbols(prep(seed('Security-Hardened')))[0];
    const plugins = sec.children!.find((c) => c.name === 'plugins')!;
    assert.equal(plugins.kind, SymbolKind.Namespace);
    assert.equal(plugins.children![0].kind, SymbolKind.Module);
    const spr = plugins.children![0].children!.find((c) => c.name === 'seccomp_profile_root')!;
    assert.match(spr.detail ?? '', /not a containerd setting/);
  });

  it('folding of the Multi-Runtime seed: every multi-line dict and comment blocks', { skip: !HAVE_SEED && 'seed not found' }, () => {
    const text = seed('Multi-Runtime');
    const lines = text.split('\n');
    const folds = taskservFolding(prep(text));
    const last = lines.findIndex((l) => l === '}');
    assert.deepEqual(folds[0], { startLine: 0, endLine: last - 1 });
    assert.equal(folds.length, 1 + 1 + 3 * 2, JSON.stringify(folds));
    for (const f of folds) assert.match(lines[f.startLine], /\{\s*$/);
    const runc = lines.findIndex((l) => /^\s+runc: \{/.test(l));
    const f = folds.find((x) => x.startLine === runc)!;
    assert.match(lines[f.endLine + 1], /^\s+\}$/, 'a dict folds to the line before its closing brace');
    // comment blocks, lists, triple-quoted strings, an unclosed dict
    const other = '# one\n# two\ncontainerd: Containerd = {\n    config: {\n        disabled_plugins: [\n            "a",\n        ]\n        root: """x\ny"""\n    }\n    plugins: {\n        cri: {\n';
    const of = taskservFolding(prep(other));
    assert.deepEqual(of.find((x) => x.startLine === 0), { startLine: 0, endLine: 1, kind: 'comment' });
    assert.ok(of.some((x) => x.startLine === 4 && x.endLine === 5), 'list');
    assert.ok(of.some((x) => x.startLine === 7 && x.endLine === 8), 'triple-quoted string');
    assert.ok(of.some((x) => x.startLine === 2 && x.endLine === 11), 'unclosed declaration folds to the last line');
  });
});

// ------------------------------------------------------------------------------- robustness

const BROKEN = [
  'containerd: Containerd = {\n    runtimes: "runc,\n    runtime_default: \n    config: {\n        grpc: {\n',
  'containerd: Containerd = {\n    plugins: { cri: { sandbox_image: "x", ] } }\n    }}}]]\n    runtime_configs: { runc: { options: { SystemdCgroup: Tru',
  'containerd: Containerd = \n{ """unterminated\n  # comment {\n  config: [ { ( "a\\"b" ) } ]\n  r"raw\\"": 1\n  a.b.c: {\n',
  'containerd: Containerd = {\n\tname: "containerd"\n\tversion: "1.7.18"\n\truntimes: "runc,crun,,"\n\truntime_configs: {\n\t\t"crun": {\n\t\t\toptions: {BinaryName: r"/x", $if: 1}\n\t\t}\n\t}\n}\ncontainerd: Containerd = {\n',
  '{{{{[[[(((\n}}}]])))\nx: Containerd = {\n  \u00e9t\u00e9: "\ud83d\ude00"\n  runtime_default: "\ud83d\ude00"\n',
];

describe('taskserv services never throw', () => {
  const docs = [...BROKEN, ...SEEDS.slice(0, 2).map((s) => s.text.slice(0, Math.floor(s.text.length * 0.6)))];
  for (const [i, text] of docs.entries()) {
    it(`completion and hover at every offset of broken document ${i + 1}`, () => {
      const sd = prep(text);
      for (let o = 0; o <= text.length; o++) {
        const pos = sd.text.positionAt(o);
        try {
          taskservCompleteUnguarded(sd, pos);
          taskservHoverUnguarded(sd, pos);
        } catch (e) {
          assert.fail(`offset ${o} (${JSON.stringify(text.slice(Math.max(0, o - 20), o))}¦): ${(e as Error).stack}`);
        }
      }
      taskservSymbols(sd);
      taskservFolding(sd);
    });
  }
});
