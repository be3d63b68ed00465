/**
 * The rendered-file preview of a taskserv: virtual document addresses and source-map lookups.
 * No vscode import: the adapter in client/src/preview.ts translates.
 */
import type { RenderResult, RenderedFile, SourceMapEntry } from '../../../server/src/render/types';

export const PREVIEW_SCHEME = 'containerd-render';

export type RenderedKind = RenderedFile['kind'];

/** `containerd-render:/etc/containerd/config.toml?<source uri>` — the path shows in the tab title. */
export function previewUri(sourceUri: string, kind: RenderedKind): { path: string; query: string } {
  const path = kind === 'config.toml' ? '/etc/containerd/config.toml' : kind === 'crictl.yaml' ? '/etc/crictl.yaml' : '/etc/systemd/system/containerd.service.d/10-taskserv.conf';
  return { path, query: `${encodeURIComponent(sourceUri)}&${kind}` };
}

export function parsePreviewQuery(query: string): { sourceUri: string; kind: RenderedKind } | undefined {
  const amp = query.lastIndexOf('&');
  if (amp < 0) return undefined;
  const kind = query.slice(amp + 1) as RenderedKind;
  if (kind !== 'config.toml' && kind !== 'crictl.yaml' && kind !== 'systemd-dropin') return undefined;
  return { sourceUri: decodeURIComponent(query.slice(0, amp)), kind };
}

export function fileOf(result: RenderResult | null | undefined, kind: RenderedKind): RenderedFile | undefined {
  return result?.files.find((f) => f.kind === kind);
}

/** The text shown for a rendered file, or an explanation when there is none. */
export function previewText(result: RenderResult | null | undefined, kind: RenderedKind): string {
  const f = fileOf(result, kind);
  if (f) return f.content;
  const comment = kind === 'crictl.yaml' || kind === 'config.toml' ? '#' : '#';
  if (!result) return `${comment} No Containerd taskserv value in this file (expected \`containerd: Containerd = { ... }\`).\n`;
  return `${comment} This taskserv renders no ${kind === 'systemd-dropin' ? 'systemd drop-in (no resources are set)' : kind}.\n`;
}

/** The taskserv source of a rendered line: the entry for that line, else the closest one above. */
export function sourceForLine(map: readonly SourceMapEntry[], line: number): SourceMapEntry | undefined {
  let best: SourceMapEntry | undefined;
  for (const e of map) {
    if (e.line === line) return e;
    if (e.line < line && (!best || e.line > best.line)) best = e;
  }
  return best;
}
