/**
 * Gather the host facts for the preflight checks in ONE remote exec (under sudo: `ss -p` needs
 * root to name other users' processes): a constant shell script, every path and name passed as
 * a positional parameter, every command inside it bounded by `timeout 10`, the whole exec by
 * `timeoutMs`. Its output is a list of sections behind a random marker line.
 */
import { randomBytes } from 'node:crypto';
import type { HostConnection } from '../ssh/types';
import type { BinProbe, DiskProbe, HostFacts, SocketListener, SocketProbe } from './checks';

/** What to look at besides the fixed facts. */
export interface ProbeRequest {
  service: string;
  /** The containerd binary to ask for its version (default `containerd`). */
  containerd?: string;
  /** Binaries to resolve (bare names on root's PATH, or paths); `version`: also run `<bin> --version`. */
  bins: { name: string; version: boolean }[];
  disks: string[];
  sockets: string[];
  uids: number[];
  gids: number[];
  modules: string[];
  files: string[];
}

/**
 * $1 marker, $2 service, $3 containerd binary, then pairs (kind, value). Prints "<marker> g <name>" before each fixed
 * fact and "<marker> i <n> <kind>" before the n-th pair's findings.
 */
export const PROBE_SCRIPT = `m=$1; svc=$2; ctd=$3; shift 3
export LC_ALL=C PATH="$PATH:/usr/local/sbin:/usr/local/bin"
if command -v timeout >/dev/null 2>&1; then t() { timeout -k 2 10 "$@"; }; else t() { "$@"; }; fi
g() { printf '%s g %s\\n' "$m" "$1"; }
g version; out=$(t "$ctd" --version 2>&1); rc=$?; echo "rc=$rc"; printf '%s\\n' "$out" | head -n 3
g cgroupfs; stat -fc %T /sys/fs/cgroup 2>/dev/null
g unified; if [ -d /sys/fs/cgroup/unified ]; then stat -fc %T /sys/fs/cgroup/unified 2>/dev/null; fi
g init; head -c 64 /proc/1/comm 2>/dev/null; echo
g filesystems; cat /proc/filesystems 2>/dev/null
g service; t systemctl show -p MainPID -p ActiveState -- "$svc" 2>/dev/null
g ss; if command -v ss >/dev/null 2>&1; then echo yes; else echo no; fi
g kubelet; if [ -r /var/lib/kubelet/config.yaml ]; then echo present; head -c 65536 /var/lib/kubelet/config.yaml; echo; else echo absent; fi
g devmapper; if [ -e /dev/mapper/control ]; then echo present; else echo absent; fi
i=0
while [ $# -ge 2 ]; do k=$1; v=$2; shift 2; i=$((i+1))
  printf '%s i %s %s\\n' "$m" "$i" "$k"
  case $k in
    bin|binv)
      case $v in */*) p=$v ;; *) p=$(command -v "$v" 2>/dev/null || true) ;; esac
      echo "path=$p"
      if [ -z "$p" ] || [ ! -e "$p" ]; then echo state=missing
      elif [ -d "$p" ]; then echo state=dir
      elif [ ! -x "$p" ]; then echo state=noexec
      else echo state=ok
        if [ "$k" = binv ]; then out=$(t "$p" --version 2>&1 </dev/null); rc=$?; echo "rc=$rc"; printf '%s\\n' "$out" | head -n 5; fi
      fi ;;
    df)
      p=$v; n=0; while [ ! -e "$p" ] && [ $n -lt 64 ]; do p=$(dirname -- "$p"); n=$((n+1)); done
      echo "at=$p"
      out=$(t df -k --output=size,avail,pcent,itotal,iavail,ipcent,fstype,target -- "$p" 2>&1); rc=$?
      if [ $rc -eq 0 ]; then printf '%s\\n' "$out" | tail -n 1 | sed 's/^/out /'; else printf '%s\\n' "$out" | tail -n 1 | sed 's/^/err /'; fi ;;
    sock)
      if [ -S "$v" ]; then echo type=socket; elif [ -d "$v" ]; then echo type=directory; elif [ -e "$v" ] || [ -L "$v" ]; then echo type=other; else echo type=absent; fi
      d=$(dirname -- "$v"); p=$d; n=0; while [ ! -e "$p" ] && [ $n -lt 64 ]; do p=$(dirname -- "$p"); n=$((n+1)); done
      if [ "$p" = "$d" ]; then echo parent=yes; else echo parent=no; fi
      if [ -d "$p" ]; then echo "ancestor=dir $p"; else echo "ancestor=file $p"; fi
      stat -c 'owner=%u:%g %a' -- "$v" 2>/dev/null
      if command -v ss >/dev/null 2>&1; then t ss -H -xlp 2>/dev/null | grep -F -- " $v " | sed 's/^/ss /'
      else grep -F -- " $v" /proc/net/unix 2>/dev/null | sed 's/^/unix /'; fi ;;
    uid) e=$(getent passwd "$v" 2>/dev/null | cut -d: -f1); echo "name=$e" ;;
    gid) e=$(getent group "$v" 2>/dev/null | cut -d: -f1); echo "name=$e" ;;
    mod) if command -v modprobe >/dev/null 2>&1; then if t modprobe -n -q -- "$v" 2>/dev/null; then echo avail=yes; else echo avail=no; fi; else echo avail=unknown; fi ;;
    file) if [ -r "$v" ]; then echo present; head -c 65536 -- "$v"; echo; else echo absent; fi ;;
  esac
done
printf '%s end\\n' "$m"`;

export function probeArgs(req: ProbeRequest): string[] {
  const pairs: string[] = [];
  for (const b of req.bins) pairs.push(b.version ? 'binv' : 'bin', b.name);
  for (const d of req.disks) pairs.push('df', d);
  for (const s of req.sockets) pairs.push('sock', s);
  for (const u of req.uids) pairs.push('uid', String(u));
  for (const g of req.gids) pairs.push('gid', String(g));
  for (const m of req.modules) pairs.push('mod', m);
  for (const f of req.files) pairs.push('file', f);
  return pairs;
}

const kv = (lines: string[], key: string): string | undefined => {
  const l = lines.find((x) => x.startsWith(`${key}=`));
  return l === undefined ? undefined : l.slice(key.length + 1);
};

/** `users:(("containerd",pid=57,fd=11),("systemd",pid=1,fd=3))` → listeners. */
export function parseSsUsers(line: string): SocketListener[] {
  const out: SocketListener[] = [];
  const re = /\("((?:[^"\\]|\\.)*)",pid=(\d+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push({ name: m[1], pid: Number(m[2]) });
  return out;
}

/** Parse the probe script's output (pure; unit-tested). */
export function parseProbe(out: string, marker: string, req: ProbeRequest): HostFacts & { complete: boolean } {
  const global: Record<string, string[]> = {};
  const items: string[][] = [];
  let cur: string[] | undefined;
  let complete = false;
  for (const line of out.split('\n')) {
    if (line.startsWith(`${marker} `)) {
      const rest = line.slice(marker.length + 1).split(' ');
      if (rest[0] === 'g') cur = global[rest[1]] = [];
      else if (rest[0] === 'i') cur = items[Number(rest[1]) - 1] = [];
      else if (rest[0] === 'end') {
        complete = true;
        cur = undefined;
      }
      continue;
    }
    cur?.push(line);
  }
  const text = (name: string) => (global[name] ?? []).join('\n').trim();
  const ver = global.version ?? [];
  const rcLine = kv(ver, 'rc');
  const service = Object.fromEntries((global.service ?? []).map((l) => l.split('=', 2)).filter((p) => p.length === 2)) as Record<string, string>;
  const kubelet = global.kubelet ?? [];
  const facts: HostFacts & { complete: boolean } = {
    complete,
    containerd: { rc: rcLine === undefined ? null : Number(rcLine), output: ver.filter((l) => !l.startsWith('rc=')).join('\n').trim() },
    cgroupFs: text('cgroupfs') || undefined,
    cgroupUnifiedFs: text('unified') || undefined,
    init: text('init') || undefined,
    filesystems: (global.filesystems ?? []).map((l) => l.trim().split(/\s+/).pop() ?? '').filter(Boolean),
    modules: {},
    service: {
      mainPid: service.MainPID && Number(service.MainPID) > 0 ? Number(service.MainPID) : undefined,
      activeState: service.ActiveState || undefined,
    },
    kubeletConfig: kubelet[0] === 'present' ? kubelet.slice(1).join('\n') : undefined,
    devmapperControl: text('devmapper') === 'present',
    bins: {},
    disks: {},
    sockets: {},
    users: {},
    groups: {},
    files: {},
    notes: [],
  };
  const haveSs = text('ss') === 'yes';
  let i = 0;
  const next = () => items[i++] ?? [];
  for (const b of req.bins) {
    const l = next();
    const state = kv(l, 'state') as BinProbe['state'] | undefined;
    if (!state) continue;
    const rc = kv(l, 'rc');
    const p: BinProbe = { state, path: kv(l, 'path') || undefined };
    if (rc !== undefined) {
      p.versionRc = Number(rc);
      p.versionOut = l.slice(l.findIndex((x) => x.startsWith('rc=')) + 1).join('\n').trim();
    }
    facts.bins[b.name] = p;
  }
  for (const d of req.disks) {
    const l = next();
    const at = kv(l, 'at');
    if (at === undefined) continue;
    const o = l.find((x) => x.startsWith('out '));
    const p: DiskProbe = { at };
    if (o) {
      const cols = o.slice(4).trim().split(/\s+/);
      const n = (s: string | undefined) => (s && /^\d+%?$/.test(s) ? Number(s.replace('%', '')) : undefined);
      p.sizeKiB = n(cols[0]);
      p.availKiB = n(cols[1]);
      p.usedPercent = n(cols[2]);
      p.inodes = n(cols[3]);
      p.inodesFree = n(cols[4]);
      p.inodesUsedPercent = n(cols[5]);
      p.fstype = cols[6];
      p.mountpoint = cols.slice(7).join(' ') || undefined;
      if (p.availKiB === undefined) p.error = `unexpected df output: ${o.slice(4).trim()}`;
    } else p.error = (l.find((x) => x.startsWith('err ')) ?? 'err no df output').slice(4);
    facts.disks[d] = p;
  }
  for (const s of req.sockets) {
    const l = next();
    const type = kv(l, 'type') as SocketProbe['type'] | undefined;
    if (!type) continue;
    const anc = kv(l, 'ancestor') ?? 'dir /';
    const listeners: SocketListener[] = [];
    let listening = false;
    for (const x of l) {
      if (x.startsWith('ss ')) {
        const cols = x.slice(3).trim().split(/\s+/);
        if (cols.includes(s) && /LISTEN/.test(x)) {
          listening = true;
          listeners.push(...parseSsUsers(x));
        }
      } else if (x.startsWith('unix ')) {
        // Num RefCount Protocol Flags Type St Inode Path: flags 00010000 = listening
        const cols = x.slice(5).trim().split(/\s+/);
        if (cols[cols.length - 1] === s && cols[3] === '00010000') listening = true;
      }
    }
    facts.sockets[s] = {
      type,
      parentExists: kv(l, 'parent') === 'yes',
      ancestor: anc.slice(anc.indexOf(' ') + 1),
      ancestorIsDir: anc.startsWith('dir '),
      owner: kv(l, 'owner'),
      listening,
      listeners,
      haveSs,
    };
  }
  for (const u of req.uids) {
    const l = next();
    const name = kv(l, 'name');
    if (name !== undefined) facts.users[u] = name || null;
  }
  for (const g of req.gids) {
    const l = next();
    const name = kv(l, 'name');
    if (name !== undefined) facts.groups[g] = name || null;
  }
  for (const m of req.modules) {
    const l = next();
    const a = kv(l, 'avail');
    if (a === 'yes' || a === 'no' || a === 'unknown') facts.modules[m] = a;
  }
  for (const f of req.files) {
    const l = next();
    if (l[0] === 'present') facts.files[f] = l.slice(1).join('\n');
    else if (l[0] === 'absent') facts.files[f] = null;
  }
  return facts;
}

export async function probeHost(conn: HostConnection, req: ProbeRequest, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<HostFacts & { complete: boolean }> {
  const marker = `--preflight-${randomBytes(6).toString('hex')}--`;
  const argv = ['sh', '-c', PROBE_SCRIPT, 'containerd-taskserv-preflight', marker, req.service, req.containerd || 'containerd', ...probeArgs(req)];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let notes: string[] = [];
  let r;
  try {
    r = await conn.exec(argv, { sudo: true, signal: opts.signal, timeoutMs });
  } catch (e) {
    const kind = (e as { kind?: string }).kind;
    if (kind !== 'sudo') throw e;
    // no sudo: the same facts as the login user (ss cannot name other users' processes)
    notes = [`ran without sudo (${e instanceof Error ? e.message : String(e)}): some facts may be missing`];
    r = await conn.exec(argv, { sudo: false, signal: opts.signal, timeoutMs });
  }
  const facts = parseProbe(r.stdout, marker, req);
  facts.notes.push(...notes);
  if (!facts.complete) facts.notes.push(`the probe did not finish (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
  return facts;
}
