/**
 * Differential test of the taskserv renderer against the real containerd 1.6 (Debian's package).
 *
 * Each seed taskserv configuration (and a multi-runtime one that selects the systemd cgroup
 * driver) is rendered for containerd 1.6.20 (`version` overridden in the KCL text before
 * parsing), and `containerd --config FILE config dump` must accept the rendered config.toml and
 * show every value we wrote at the same path (so containerd read it): root, state, the grpc
 * socket and message sizes, the sandbox image, each runtime with its BinaryName and
 * SystemdCgroup, the snapshotter, and all the other keys.
 *
 * Needs `containerd` on PATH (apt-get install containerd). Without it the tests are skipped, or
 * fail when CI=true.
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseTOML, getStaticTOMLValue } from 'toml-eslint-parser';
import { parseKcl } from '../../server/src/parser/kcl';
import { renderTaskserv } from '../../server/src/render/render';
import { seedBlocks, type SeedBlock } from '../helpers/seed';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');
const INSTALL_HINT = "install Debian's containerd package: apt-get install containerd";
const STRICT = process.env.CI === 'true';
const RELEASE = '1.6.20';
const CRI = 'io.containerd.grpc.v1.cri';

type Toml = Record<string, unknown>;

function containerdVersion(): string | undefined {
  try {
    return execFileSync('containerd', ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

const VERSION = containerdVersion();
const skip = !VERSION && !STRICT ? `containerd not found (${INSTALL_HINT})` : false;

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'render16-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

function seeds(): SeedBlock[] {
  return seedBlocks(SEED);
}

function for16(text: string): string {
  const out = text.replace(/^(\s*version:\s*)"[^"]*"/m, `$1"${RELEASE}"`);
  assert.ok(out.includes(`"${RELEASE}"`), 'no version field to override');
  return out;
}

const CASES: { title: string; text: string }[] = [
  ...seeds().map((s) => ({ title: s.title, text: for16(s.text) })),
  {
    title: 'Multi-runtime with the systemd cgroup driver',
    text: `containerd: Containerd = {
    name: "containerd"
    version: "${RELEASE}"
    runtime_default: "crun"
    runtimes: "runc,crun,youki"
    runtime_configs: {
        youki: {
            runtime_type: "io.containerd.runc.v2"
            options: {
                BinaryName: "/opt/youki/bin/youki"
                NoPivotRoot: True
            }
        }
    }
    config: {
        root: "/srv/containerd"
        state: "/run/ctd"
        grpc: {
            address: "/run/ctd/containerd.sock"
            max_recv_message_size: 33554432
            max_send_message_size: 33554432
        }
    }
    plugins: {
        cri: {
            sandbox_image: "registry.k8s.io/pause:3.10"
            systemd_cgroup: True
        }
    }
    performance: {
        snapshotter: "native"
    }
    install: {
        prefix: "/opt/containerd"
    }
}
`,
  },
];

function at(t: unknown, p: string[]): unknown {
  let cur = t;
  for (const k of p) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Toml)[k];
  }
  return cur;
}

/** Every leaf (scalar or array) of a TOML value with its path. */
function leaves(t: Toml, base: string[] = [], out: { path: string[]; value: unknown }[] = []): { path: string[]; value: unknown }[] {
  for (const [k, v] of Object.entries(t)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) leaves(v as Toml, [...base, k], out);
    else out.push({ path: [...base, k], value: v });
  }
  return out;
}

function dump(name: string, content: string): Toml {
  const file = path.join(TMP, `${name}.toml`);
  fs.writeFileSync(file, content);
  let out: string;
  try {
    out = execFileSync('containerd', ['--config', file, 'config', 'dump'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    assert.fail(`containerd config dump refused the rendered config:\n${err.stderr ?? err.message}\n--- config.toml ---\n${content}`);
  }
  return getStaticTOMLValue(parseTOML(out)) as Toml;
}

test('containerd 1.6 is installed', { skip }, () => {
  assert.ok(VERSION, `containerd not found on PATH (${INSTALL_HINT})`);
  assert.match(VERSION, /\s1\.6\.\d+/, `expected containerd 1.6.x, got: ${VERSION}`);
});

CASES.forEach((c, i) => {
  test(`containerd ${RELEASE} reads the rendered config: ${c.title}`, { skip }, () => {
    const r = renderTaskserv(parseKcl(c.text));
    assert.ok(r, 'nothing rendered');
    assert.equal(r.release, RELEASE);
    assert.equal(r.configVersion, 2);
    const cfg = r.files.find((f) => f.kind === 'config.toml');
    assert.ok(cfg);
    const written = getStaticTOMLValue(parseTOML(cfg.content)) as Toml;
    const d = dump(`case${i}`, cfg.content);

    // every value we wrote is what containerd read
    for (const l of leaves(written)) {
      if (l.path[0] === 'imports') continue; // the dump lists the files it loaded, not the value written
      assert.deepEqual(at(d, l.path), l.value, `${l.path.join(' > ')}: dump has ${JSON.stringify(at(d, l.path))}\n${cfg.content}`);
    }

    // the settings the brief calls out, from the taskserv tree
    const tree = parseKcl(c.text);
    const decl = tree.root.props.find((p) => p.key === 'containerd');
    assert.ok(decl && decl.value.kind === 'object');
    const src = (p: string[]): unknown => {
      let cur: unknown = decl.value;
      for (const k of p) {
        const o = cur as { kind?: string; props?: { key: string; value: unknown }[] };
        if (!o || o.kind !== 'object') return undefined;
        cur = o.props!.find((x) => x.key === k)?.value;
      }
      return cur && typeof cur === 'object' && 'value' in cur ? (cur as { value: unknown }).value : undefined;
    };
    for (const [field, key] of [
      [['config', 'root'], ['root']],
      [['config', 'state'], ['state']],
      [['config', 'grpc', 'address'], ['grpc', 'address']],
      [['config', 'grpc', 'max_recv_message_size'], ['grpc', 'max_recv_message_size']],
      [['config', 'grpc', 'max_send_message_size'], ['grpc', 'max_send_message_size']],
      [['plugins', 'cri', 'sandbox_image'], ['plugins', CRI, 'sandbox_image']],
      [['performance', 'snapshotter'], ['plugins', CRI, 'containerd', 'snapshotter']],
    ] as const) {
      const v = src([...field]);
      if (v !== undefined) assert.equal(at(d, [...key]), v, `${field.join('.')} -> ${key.join('.')}`);
    }
    const runtimes = String(src(['runtimes']) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const sdc = src(['plugins', 'cri', 'systemd_cgroup']);
    const prefix = String(src(['install', 'prefix']) ?? '/usr/local');
    for (const name of runtimes) {
      const rt = (...p: string[]) => at(d, ['plugins', CRI, 'containerd', 'runtimes', name, ...p]);
      assert.equal(rt('runtime_type'), src(['runtime_configs', name, 'runtime_type']) ?? 'io.containerd.runc.v2', `${name} runtime_type`);
      const bin = src(['runtime_configs', name, 'options', 'BinaryName']) ?? (name === 'runc' ? undefined : `${prefix}/bin/${name}`);
      assert.equal(rt('options', 'BinaryName'), bin, `${name} BinaryName`);
      const cg = src(['runtime_configs', name, 'options', 'SystemdCgroup']) ?? sdc;
      assert.equal(rt('options', 'SystemdCgroup'), cg, `${name} SystemdCgroup`);
    }
    if (runtimes.length) {
      assert.equal(at(d, ['plugins', CRI, 'containerd', 'default_runtime_name']), src(['runtime_default']) ?? 'runc');
      assert.deepEqual(Object.keys(at(d, ['plugins', CRI, 'containerd', 'runtimes']) as Toml).sort(), [...runtimes].sort());
    }
    // the CRI plugin is not unloaded by the legacy systemd_cgroup key
    assert.equal(at(d, ['plugins', CRI, 'systemd_cgroup']), false);
    assert.ok(!('disabled_plugins' in written) || !(written.disabled_plugins as string[]).includes(CRI));
  });
});
