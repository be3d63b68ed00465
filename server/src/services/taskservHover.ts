/**
 * Hover for taskserv files (KCL `containerd: Containerd = {...}`).
 *
 *  - on a field's key or value: the field's markdown from the taskserv schema (what it becomes
 *    on the host, type, default), then what it renders to FOR THIS DOCUMENT: for config.toml
 *    fields the key in the config version the declared release uses (version 2 path, or the
 *    version 3/4 path from the config schemas' migration data, taken from the renderer's source
 *    map when the document renders), the crictl.yaml key, the systemd directive, or that it is
 *    only used for the installation / has no effect; `since` against the declared release;
 *  - on a field that is not a containerd setting (`x-taskserv.notContainerd`): why, and what to
 *    use instead;
 *  - on a map entry name (`runtime_configs.runc`): the runtimes table it renders;
 *  - on the type name `Containerd` (or the declaration's name): a summary of what the taskserv
 *    renders (release, config version, runtimes, the files);
 *  - a text fallback for a `key:` the parser could not read (the dict path comes from the same
 *    text scan completion uses).
 */
import type { Hover, Position } from 'vscode-languageserver-types';
import { childOf, elementOf, isTable, taskservSchema, type SchemaNode } from '../schema/catalog';
import { formatPath, parsePath } from '../tree/keypath';
import { nodeAt, type ObjectNode, type Property, type Span, type ValueNode } from '../tree/model';
import { formatRelease, parseRelease } from '../schema/releases';
import { renderTaskserv, v2ToV3, CONFIG_TOML_PATH, CRICTL_YAML_PATH, SYSTEMD_DROPIN_PATH } from '../render/render';
import type { RenderResult } from '../render/types';
import { toRange, type ServiceDocument } from './context';
import { containerdDeclaration } from './taskserv';
import { fieldMarkdown, kclTypeLabel, kclValue, listedRuntimes, scanToCursor, xts } from './taskservCompletion';

const MAX_VALUE = 200;

export function taskservHover(sd: ServiceDocument, pos: Position): Hover | null {
  try {
    return taskservHoverUnguarded(sd, pos);
  } catch {
    return null;
  }
}

interface Step {
  key: string;
  node: SchemaNode;
  mapEntry: boolean;
}

/** Walk a field path through the taskserv schema; undefined when a step is not a field. */
function lookup(path: readonly string[]): Step[] | undefined {
  let node = taskservSchema();
  const steps: Step[] = [];
  for (const k of path) {
    const c = childOf(elementOf(node), k);
    if (!c) return undefined;
    node = c.node;
    steps.push({ key: c.canonical, node, mapEntry: c.mapEntry });
  }
  return steps;
}

function code(s: string): string {
  const ticks = s.includes('`') ? '``' : '`';
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s}${pad}${ticks}`;
}

function inComment(sd: ServiceDocument, offset: number): boolean {
  return sd.parsed.comments.some((c) => offset > c.range.start && offset <= c.range.end);
}

export function taskservHoverUnguarded(sd: ServiceDocument, pos: Position): Hover | null {
  const offset = sd.text.offsetAt(pos);
  if (inComment(sd, offset)) return null;
  const within = (s: Span | undefined): boolean => !!s && offset >= s.start && offset <= s.end;

  // 1. The type name or the declaration's name: what the taskserv renders.
  for (const p of sd.parsed.root.props) {
    if (p.value.kind !== 'object' || p.value.typeName !== 'Containerd') continue;
    if (within(p.value.typeRange)) return { contents: { kind: 'markdown', value: summary(sd, p) }, range: toRange(sd.text, p.value.typeRange!) };
  }
  const decl = containerdDeclaration(sd.parsed);
  if (!decl || decl.value.kind !== 'object') return null;
  if (decl.keyRanges.some(within)) {
    return { contents: { kind: 'markdown', value: summary(sd, decl) }, range: toRange(sd.text, decl.keyRange) };
  }

  // 2. The tree.
  const hit = nodeAt(sd.parsed, offset);
  if (hit.prop && hit.path[0] === decl.key && hit.path.length > 1 && rootPropOf(sd, hit.path[0]) === decl) {
    const fieldPath = hit.path.slice(1);
    const prop = hit.prop;
    const steps = lookup(fieldPath);
    if (!steps) return null;
    if (hit.onKey) {
      const span = prop.keyRanges.find(within) ?? prop.keyRange;
      return make(sd, fieldPath, steps, prop, span);
    }
    const v = prop.value;
    // Inside a dict but on no key of it: a line the parser could not read, or whitespace.
    if (v.kind === 'object' || !within(v.range)) return textFallback(sd, offset);
    let span: Span = v.range;
    let raw = sd.parsed.text.slice(v.range.start, v.range.end);
    if (v.kind === 'array') {
      const item = v.items.find((it) => within(it.range));
      if (item && item.kind !== 'object' && item.kind !== 'array') {
        span = item.range;
        raw = sd.parsed.text.slice(item.range.start, item.range.end);
      }
    }
    return make(sd, fieldPath, steps, prop, span, raw, v);
  }

  // 3. Text fallback: `key:` on a line the parser could not read.
  return textFallback(sd, offset);
}

function rootPropOf(sd: ServiceDocument, key: string): Property | undefined {
  return sd.parsed.root.props.find((p) => p.key === key);
}

function textFallback(sd: ServiceDocument, offset: number): Hover | null {
  const text = sd.parsed.text;
  const isId = (ch: string | undefined): boolean => !!ch && /[\p{L}\p{N}_$]/u.test(ch);
  let s = offset;
  while (s > 0 && offset - s < 256 && isId(text[s - 1])) s--;
  let e = offset;
  while (e < text.length && e - offset < 256 && isId(text[e])) e++;
  if (e <= s) return null;
  const rest = text.slice(e, e + 64);
  if (!/^\s*(?::|=|\+=|\{)/.test(rest)) return null;
  const ctx = scanToCursor(text, s);
  if (ctx.inString || ctx.inComment || ctx.declIndex < 0 || !ctx.path) return null;
  if (ctx.seg.trim() !== '') return null; // not at the start of an entry
  const word = text.slice(s, e);
  const fieldPath = [...ctx.path, word.startsWith('$') ? word.slice(1) : word];
  const steps = lookup(fieldPath);
  if (!steps) return null;
  return make(sd, fieldPath, steps, undefined, { start: s, end: e });
}

// ---------------------------------------------------------------------------------------
// Field docs

function fill(key: string, fieldPath: readonly string[], steps: Step[]): string {
  const names = steps.map((st, i) => (st.mapEntry ? fieldPath[i] : undefined)).filter((x): x is string => x !== undefined);
  let k = 0;
  return key.replace(/<name>/g, (m) => {
    const n = names[k++];
    return n === undefined ? m : /^[A-Za-z0-9_-]+$/.test(n) ? n : JSON.stringify(n);
  });
}

function releaseBefore(rel: { major: number; minor: number; patch?: number }, since: string): boolean {
  const s = parseRelease(since);
  if (!s) return false;
  if (rel.major !== s.major) return rel.major < s.major;
  if (rel.minor !== s.minor) return rel.minor < s.minor;
  return s.patch !== undefined && rel.patch !== undefined && rel.patch < s.patch;
}

function renderSafe(sd: ServiceDocument): RenderResult | undefined {
  try {
    return renderTaskserv(sd.parsed);
  } catch {
    return undefined;
  }
}

/** The rendered lines the property produced (from the renderer's source map). */
function renderedLines(sd: ServiceDocument, prop: Property | undefined): { file: string; key: string }[] {
  if (!prop) return [];
  const r = renderSafe(sd);
  if (!r) return [];
  const out: { file: string; key: string }[] = [];
  const seen = new Set<string>();
  const inProp = (s: Span): boolean => s.start >= prop.range.start && s.end <= prop.range.end && s.end > s.start;
  for (const f of r.files) {
    for (const m of f.sourceMap) {
      if (!inProp(m.source) && !prop.keyRanges.some((k) => k.start === m.source.start && k.end === m.source.end)) continue;
      const key = f.kind === 'config.toml' ? formatPath(m.outPath) : m.outPath.join('.');
      const id = f.path + '\u0000' + key;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ file: f.path, key });
    }
  }
  // A table header whose keys are listed too says nothing more.
  return out.filter((o) => !out.some((p) => p !== o && p.file === o.file && p.key.startsWith(o.key + '.')));
}

function make(sd: ServiceDocument, fieldPath: string[], steps: Step[], prop: Property | undefined, span: Span, raw?: string, value?: ValueNode): Hover {
  const last = steps[steps.length - 1];
  const node = last.node;
  const x = xts(node);
  const rel = sd.ctx.release;
  const relText = formatRelease(rel);
  const cv = sd.ctx.configVersion;
  const out: string[] = [];
  const dotted = fieldPath.map((k) => (/^[A-Za-z_][\w]*$/.test(k) ? k : JSON.stringify(k))).join('.');

  if (last.mapEntry) {
    // A user-named entry: `runtime_configs.runc`, `install.runtimes.crun`.
    out.push(`**${code(dotted)}** — entry of ${code(fieldPath.slice(0, -1).join('.'))} (${kclTypeLabel(node)})`);
    const name = fieldPath[fieldPath.length - 1];
    const listed = listedRuntimes(sd);
    if (fieldPath[0] === 'runtime_configs' || fieldPath[0] === 'install') {
      out.push(
        listed.includes(name)
          ? `Runtime ${code(name)} is listed in \`runtimes\` (${listed.join(', ')}).`
          : `⚠️ Runtime ${code(name)} is not listed in \`runtimes\` (${listed.join(', ') || 'none'}): this entry is not rendered.`,
      );
    }
    const md = node.markdownDescription ?? node.description;
    if (md) out.push(md);
  } else {
    let head = `**${code(dotted)}**: ${kclTypeLabel(node)}`;
    if (node.default !== undefined && !isTable(node)) head += ` = ${code(kclValue(node.default))}`;
    if (node.deprecated) head += ' — *deprecated*';
    if (x.notContainerd) head += ' — *not a containerd setting*';
    out.push(head);
    if (raw !== undefined) {
      const r = raw.length > MAX_VALUE ? raw.slice(0, MAX_VALUE - 1) + '…' : raw;
      const isDefault = value && value.kind !== 'object' && value.kind !== 'array' && node.default !== undefined && value.value === node.default;
      out.push(`**Value:** ${code(r.replace(/\s+/g, ' '))}${isDefault ? ' (the default)' : ''}`);
    }
    const md = fieldMarkdown(node);
    if (md) out.push(md);
  }

  // What it becomes for this document.
  const facts: string[] = [];
  const where = `containerd ${relText}, config version ${cv}`;
  if (x.notContainerd) {
    facts.push(`**Not rendered:** containerd never sees this field.`);
  } else if (x.target === 'config.toml') {
    const lines = renderedLines(sd, prop).filter((l) => l.file === CONFIG_TOML_PATH);
    if (lines.length) {
      const shown = lines.slice(0, 6).map((l) => code(l.key)).join(', ');
      facts.push(`**In this taskserv** (${where}): renders ${shown}${lines.length > 6 ? ` and ${lines.length - 6} more` : ''} in ${CONFIG_TOML_PATH}.`);
    } else if (x.key) {
      const v2 = fill(x.key, fieldPath, steps);
      let target = v2;
      let dropped: string | undefined;
      if (cv >= 3) {
        const m = v2ToV3(parsePath(v2));
        if ('to' in m) target = formatPath(m.to);
        else dropped = m.drop;
      }
      if (dropped) facts.push(`**In this taskserv** (${where}): ${code(v2)} has no config version ${cv} equivalent (${dropped}); it is left out.`);
      else facts.push(`**In this taskserv** (${where}): the config.toml key is ${code(target)}` + (cv >= 3 && target !== v2 ? ` (version 2: ${code(v2)})` : '') + '.');
    } else if (isTable(elementOf(node))) {
      facts.push(`**In this taskserv** (${where}): its fields are rendered into ${CONFIG_TOML_PATH}.`);
    }
  } else if (x.target === 'crictl.yaml') {
    if (x.key) facts.push(`**Renders:** ${code(x.key)} in ${CRICTL_YAML_PATH}.`);
    else facts.push(`**Renders into:** ${CRICTL_YAML_PATH}.`);
  } else if (x.target === 'systemd') {
    if (x.key) facts.push(`**Renders:** ${code(`${x.key}=`)} in the \`[Service]\` section of ${SYSTEMD_DROPIN_PATH}.`);
    else facts.push(`**Renders into:** ${SYSTEMD_DROPIN_PATH} (a systemd drop-in for containerd.service).`);
  } else if (x.target === 'install') {
    facts.push('**Used when installing** containerd on the host; not written to a configuration file.');
  } else if (x.target === 'none') {
    facts.push('**No effect on the host:** not rendered anywhere.');
  }
  if (x.since && releaseBefore(rel, x.since)) {
    facts.push(`⚠️ Needs containerd ${x.since} or later; this taskserv installs ${relText}.`);
  }
  if (facts.length) out.push(facts.join('  \n'));
  return { contents: { kind: 'markdown', value: out.filter(Boolean).join('\n\n') }, range: toRange(sd.text, span) };
}

// ---------------------------------------------------------------------------------------
// The declaration summary

function summary(sd: ServiceDocument, decl: Property): string {
  const schema = taskservSchema();
  const out: string[] = [];
  out.push(`**${code(decl.key)}: Containerd** — a containerd taskserv`);
  if (schema.description) out.push(schema.description);
  const isMain = containerdDeclaration(sd.parsed) === decl;
  if (!isMain) {
    out.push('Only the first `Containerd` declaration of a file is checked and rendered.');
    return out.join('\n\n');
  }
  const rel = formatRelease(sd.ctx.release);
  const runtimes = listedRuntimes(sd);
  const obj = decl.value as ObjectNode;
  const dflt = obj.props.find((p) => p.key === 'runtime_default');
  const facts: string[] = [];
  facts.push(`**Installs:** containerd ${rel}` + (sd.ctx.versionExplicit ? '' : ` (config version ${sd.ctx.configVersion}, picked by the release)`));
  facts.push(`**Runtimes:** ${runtimes.map(code).join(', ') || '—'}` + (dflt && dflt.value.kind === 'string' ? `, default ${code(String(dflt.value.value))}` : ''));
  const r = renderSafe(sd);
  if (r) {
    const files = r.files.map((f) => {
      const lines = f.content.split('\n').filter((l) => l.trim() !== '').length;
      return `- ${code(f.path)} (${f.kind}, ${lines} line${lines === 1 ? '' : 's'})`;
    });
    facts.push(`**Renders** (config version ${r.configVersion}):`);
    out.push(facts.join('  \n') + '\n' + files.join('\n'));
    if (r.notes.length) out.push('**Notes:**\n' + r.notes.slice(0, 8).map((n) => `- ${n}`).join('\n'));
  } else {
    out.push(facts.join('  \n'));
    out.push(`Renders ${CONFIG_TOML_PATH}, ${CRICTL_YAML_PATH} and, when \`resources\` are limited, ${SYSTEMD_DROPIN_PATH}.`);
  }
  const fields = Object.keys(schema.properties ?? {}).length;
  out.push(`The schema has ${fields} top-level fields; the \`containerd: Preview rendered files\` command shows the output.`);
  return out.join('\n\n');
}
