/**
 * Per-document context every service works with: the parsed tree, positions, the file's
 * config version and the containerd release it targets (and where that came from).
 */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Range } from 'vscode-languageserver-types';
import { findProp, type ParsedDocument, type Span } from '../tree/model';
import {
  defaultReleaseFor,
  parseRelease,
  type ConfigVersion,
  type Release,
} from '../schema/releases';

export type ReleaseSource = 'pin' | 'setting' | 'inferred' | 'taskserv';

export interface DocContext {
  /** The file's `version`, or 1 when it has none (containerd's rule). */
  configVersion: ConfigVersion;
  /** The `version = N` line is present and an integer 1–4. */
  versionExplicit: boolean;
  release: Release;
  releaseSource: ReleaseSource;
  /** Where a `# containerd: X.Y` pin comment sits, if any. */
  pinRange?: Span;
}

export interface ServiceDocument {
  text: TextDocument;
  parsed: ParsedDocument;
  ctx: DocContext;
}

export interface ContextSettings {
  /** Default target release from the user's settings, e.g. "1.7" or "2.1.3"; "auto" or empty = infer. */
  defaultRelease?: string;
  /** The official KCL extension is installed and reports KCL syntax errors itself. */
  kclExtension?: boolean;
}

const PIN = /^[ \t]*#[ \t]*containerd[ \t]*:[ \t]*v?(\d+\.\d+(?:\.\d+)?)\b/im;
const PIN_SCAN_LINES = 20;

export function detectContext(parsed: ParsedDocument, settings: ContextSettings = {}): DocContext {
  let configVersion: ConfigVersion = 1;
  let versionExplicit = false;
  const vp = findProp(parsed.root, 'version');
  if (vp && vp.value.kind === 'integer') {
    const n = vp.value.value as number;
    if (n >= 1 && n <= 4) {
      configVersion = n as ConfigVersion;
      versionExplicit = true;
    }
  }
  const head = parsed.text.split('\n', PIN_SCAN_LINES).join('\n');
  const m = PIN.exec(head);
  if (m) {
    const r = parseRelease(m[1]);
    if (r) {
      const start = m.index + m[0].indexOf(m[1]);
      return { configVersion, versionExplicit, release: r, releaseSource: 'pin', pinRange: { start, end: start + m[1].length } };
    }
  }
  const fromSetting = settings.defaultRelease && settings.defaultRelease !== 'auto' ? parseRelease(settings.defaultRelease) : undefined;
  if (fromSetting) return { configVersion, versionExplicit, release: fromSetting, releaseSource: 'setting' };
  return { configVersion, versionExplicit, release: defaultReleaseFor(configVersion), releaseSource: 'inferred' };
}

export function toRange(td: TextDocument, span: Span): Range {
  return { start: td.positionAt(span.start), end: td.positionAt(span.end) };
}
