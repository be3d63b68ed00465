/**
 * Rendering a Containerd taskserv into the files it installs on a host: the contract
 * between the renderer, the LSP `containerd/render` request, the preview and the CLI.
 */
import type { Span } from '../tree/model';
import type { ConfigVersion } from '../schema/releases';

export const RENDER_REQUEST = 'containerd/render';

/** One rendered line's origin: which taskserv value produced it. */
export interface SourceMapEntry {
  /** 0-based line in the rendered file. */
  line: number;
  /** The key path written on that line (TOML path for config.toml, YAML key for crictl.yaml, directive for systemd). */
  outPath: string[];
  /** Range of the taskserv key (or value) in the source document that produced it. */
  source: Span;
}

export interface RenderedFile {
  /** Absolute path on the host, e.g. /etc/containerd/config.toml. */
  path: string;
  /** 'config.toml' | 'crictl.yaml' | 'systemd-dropin' */
  kind: 'config.toml' | 'crictl.yaml' | 'systemd-dropin';
  content: string;
  sourceMap: SourceMapEntry[];
}

export interface RenderResult {
  /** The declaration rendered (the first value of type Containerd). */
  name: string;
  /** containerd release from the taskserv's `version`, e.g. "1.7.18". */
  release: string;
  configVersion: ConfigVersion;
  files: RenderedFile[];
  /** Why something could not be rendered (the document's diagnostics say more). */
  notes: string[];
}
