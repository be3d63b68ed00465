/**
 * Checks on everything that reaches containerd or a remote command line: IDs, namespaces, image
 * references, the socket path, shells. Hostile values are refused with a RuntimeError('invalid')
 * before any call is made.
 */
import { ID_PATTERN } from './types';

export type RuntimeErrorKind =
  | 'invalid' // refused before anything was sent
  | 'not-found'
  | 'unavailable' // host, SSH or containerd not reachable
  | 'denied'
  | 'timeout'
  | 'cancelled'
  | 'unsupported' // not possible with this access path / this containerd
  | 'failed'; // containerd (or ctr) said no

export class RuntimeError extends Error {
  constructor(
    message: string,
    readonly kind: RuntimeErrorKind,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
};

/** A container, pod or exec ID (CRI IDs are 64 hex digits; containerd's are user-chosen). */
export function checkId(id: unknown, what = 'ID'): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new RuntimeError(`refusing ${what} ${show(id)}: not a valid ID`, 'invalid');
  return id;
}

/** containerd namespace names (containerd allows [A-Za-z0-9] labels joined by . _ -). */
export function checkNamespace(ns: unknown): string {
  if (typeof ns !== 'string' || !ID_PATTERN.test(ns) || /[._-]$/.test(ns))
    throw new RuntimeError(`refusing namespace ${show(ns)}: not a valid containerd namespace`, 'invalid');
  return ns;
}

// The distribution reference grammar (docker/distribution reference/regexp.go), plus bare image IDs.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const DOMAIN = `(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]{1,5})?`;
const NAME = `(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*`;
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,128}';
const REF_RE = new RegExp(`^(?:${NAME}(?::${TAG})?(?:@${DIGEST})?|${DIGEST}|[0-9a-f]{64})$`);

/** An image reference (name[:tag][@digest]), an image ID (sha256:…) or a bare 64-hex ID. */
export function checkImageRef(ref: unknown): string {
  if (typeof ref !== 'string' || ref.length > 512 || !REF_RE.test(ref))
    throw new RuntimeError(`refusing image reference ${show(ref)}: not a valid image reference`, 'invalid');
  return ref;
}

/** The containerd socket path on the host: absolute, plain characters (it also goes into socat's address syntax). */
export function checkSocketPath(p: unknown): string {
  if (typeof p !== 'string' || p.length > 200 || !/^\/[A-Za-z0-9_./-]+$/.test(p) || /(^|\/)\.\.(\/|$)/.test(p))
    throw new RuntimeError(`refusing socket path ${show(p)}: use an absolute path of letters, digits and . _ - /`, 'invalid');
  return p;
}

/** A shell program for interactive sessions (sh, bash, /bin/ash …). */
export function checkShell(s: unknown): string {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_./-]{1,100}$/.test(s) || s.startsWith('-'))
    throw new RuntimeError(`refusing shell ${show(s)}`, 'invalid');
  return s;
}

/** A CRI runtime handler name ('' = default). */
export function checkHandler(h: unknown): string {
  if (h === undefined || h === '') return '';
  return checkId(h, 'runtime handler');
}

/** A command for exec: a non-empty array of strings without NUL bytes. */
export function checkCommand(cmd: unknown): string[] {
  if (!Array.isArray(cmd) || !cmd.length || cmd.length > 1000 || !cmd.every((a) => typeof a === 'string' && !a.includes('\0')))
    throw new RuntimeError('refusing command: it must be a non-empty list of strings', 'invalid');
  if (!cmd[0]) throw new RuntimeError('refusing command: the program name is empty', 'invalid');
  return [...cmd];
}

export function checkTimeoutS(t: unknown, dflt: number, max = 24 * 3600): number {
  if (t === undefined) return dflt;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > max) throw new RuntimeError(`refusing timeout ${show(t)}`, 'invalid');
  return Math.floor(t);
}
