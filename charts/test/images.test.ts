// The operator and sidecar Dockerfiles. No container engine runs here, so this checks what can
// be checked without one: multi-stage, non-root runtime matching what the chart and the
// operator ask for, build steps that are the project's own make targets, sources that exist
// and are not excluded from the build context, and a runtime stage that copies exactly the
// outputs those make targets produce (make build-ts is run to prove it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { RUN_AS_USER } from '../../operator/src/builders/deployment.js';
import { PORTS } from '../../crds/src/index.js';
import { CHART_DIR, REPO_ROOT } from './lib/chart.js';
import { copyOf, makeTargets, parseDockerfile, type Stage } from './lib/dockerfile.js';

const values = yaml.load(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { podSecurityContext: { runAsUser: number }; operator: { opsPort: number } };
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

/**
 * Runs make in the repository: `stdout` alone for what a recipe prints, `out` (stdout and stderr)
 * for messages. stdin is /dev/null: node's default stdin pipe is a socket pair, and a bash started
 * with a socket on stdin and no SHLVL (cron, systemd, a CI agent's exec) reads /etc/bash.bashrc as
 * if sshd had started it, whose warnings under the Makefile's `set -u` would mix into the output.
 */
function make(args: string[]): { code: number; out: string; stdout: string } {
  const r = spawnSync('make', ['--no-print-directory', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

const images = [
  { file: 'operator.Dockerfile', user: String(values.podSecurityContext.runAsUser), ports: [values.operator.opsPort] },
  { file: 'sidecar.Dockerfile', user: String(RUN_AS_USER), ports: [PORTS.serving, PORTS.metrics, PORTS.health, PORTS.grpc] },
];

describe('images', () => {
  it('.dockerignore keeps local installs, build outputs, cluster state and VCS metadata out of the context', () => {
    for (const p of ['.git', 'node_modules', 'dist', 'build', 'e2e/.cluster']) assert.ok(dockerignore.includes(p), p);
  });

  for (const image of images) {
    describe(image.file, () => {
      const { stages } = parseDockerfile(readFileSync(join(REPO_ROOT, 'images', image.file), 'utf8'));
      const runtime = stages[stages.length - 1] as Stage;
      const builders = stages.slice(0, -1);

      it('is multi-stage: a named build stage and a runtime stage', () => {
        assert.ok(stages.length >= 2);
        assert.ok(builders.every((s) => s.name), 'build stages are named');
      });

      it(`runs as the non-root uid ${image.user} the chart / operator expects, and sets an entrypoint`, () => {
        const users = runtime.instructions.filter((i) => i.op === 'USER');
        assert.equal(users.length, 1);
        assert.equal(users[0]?.args.split(':')[0], image.user);
        assert.notEqual(image.user, '0');
        assert.ok(runtime.instructions.some((i) => i.op === 'ENTRYPOINT'));
      });

      it('builds with the project\'s own make targets, which exist', () => {
        const targets = builders.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').flatMap((i) => makeTargets(i.args)));
        assert.ok(targets.length > 0, 'the build stage runs make');
        for (const t of targets) {
          const r = make(['-n', t]);
          assert.equal(r.code, 0, `make -n ${t}: ${r.out.slice(-500)}`);
        }
      });

      it('copies only sources that exist and that .dockerignore lets through', () => {
        for (const s of builders) {
          for (const ins of s.instructions.filter((i) => i.op === 'COPY')) {
            const c = copyOf(ins);
            if (c.from) continue;
            for (const src of c.sources) {
              const path = src.replace(/\/$/, '');
              assert.ok(existsSync(join(REPO_ROOT, path)), `COPY ${src} (line ${ins.line}): not in the repository`);
              assert.ok(!dockerignore.some((p) => path === p || path.startsWith(`${p}/`)), `COPY ${src}: excluded by .dockerignore`);
            }
          }
        }
      });

      it('copies every source the make targets it runs compile', () => {
        const copied = builders.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY').map(copyOf).filter((c) => !c.from).flatMap((c) => c.sources));
        const covered = (file: string): boolean => copied.map((src) => src.replace(/\/$/, '')).some((src) => file === src || file.startsWith(`${src}/`));
        const targets = builders.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').flatMap((i) => makeTargets(i.args)));
        const needed: string[] = [];
        if (targets.includes('build-ts')) {
          const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
          needed.push(...tsconfig.include.map((g) => g.replace(/\/\*\*.*$/, '')), 'tsconfig.json', 'tsconfig.build.json');
        }
        if (targets.includes('build-native')) {
          const r = make(['--eval', 'print-native-sources: ; @echo $(NATIVE_SOURCES)', 'print-native-sources']);
          assert.equal(r.code, 0, r.out);
          needed.push(...r.stdout.trim().split(/\s+/));
        }
        assert.ok(needed.length > 0);
        assert.deepEqual(needed.filter((f) => !covered(f)), [], `${image.file}: the build stage does not copy these`);
      });

      it('exposes the ports the chart and the pod contract use', () => {
        const exposed = runtime.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
        assert.deepEqual(exposed.sort(), [...image.ports].sort());
      });
    });
  }

  it('make build-ts produces what the runtime stages copy from the build stage, entrypoints included', function () {
    this.timeout(600_000);
    const r = make(['build-ts']);
    assert.equal(r.code, 0, r.out.slice(-2000));
    const nativeMk = readFileSync(join(REPO_ROOT, 'mk', '30-native.mk'), 'utf8');
    const addon = /^NATIVE_ADDON := (\S+)$/m.exec(nativeMk)?.[1];
    for (const image of images) {
      const { stages } = parseDockerfile(readFileSync(join(REPO_ROOT, 'images', image.file), 'utf8'));
      const runtime = stages[stages.length - 1] as Stage;
      for (const ins of runtime.instructions.filter((i) => i.op === 'COPY')) {
        const c = copyOf(ins);
        for (const src of c.sources) {
          const rel = src.replace(/^\/src\//, '').replace(/\/$/, '');
          if (rel === 'node_modules' || rel === 'package.json') continue; // npm ci + prune in the build stage
          if (addon && rel === addon) continue; // make build-native's output, named in mk/30-native.mk
          if (rel === '/rootfs') {
            // The runtime root filesystem is assembled by images/rootfs.sh in the build stage
            // (the same script `make images` runs here): what it takes from the build tree
            // ("$src/<path>") must be what the make targets produced.
            const build = stages[stages.length - 2] as Stage;
            assert.ok(build.instructions.some((i) => i.op === 'RUN' && /images\/rootfs\.sh\b/.test(i.args)), `${image.file}: COPY /rootfs/ but no RUN images/rootfs.sh`);
            const script = readFileSync(join(REPO_ROOT, 'images', 'rootfs.sh'), 'utf8');
            const taken = [...script.matchAll(/"\$src\/([^"$]+)"/g)].map((m) => m[1] as string);
            assert.ok(taken.includes('dist/crds'), 'images/rootfs.sh takes dist/crds from the build tree');
            for (const path of taken) {
              if (addon && path === addon) continue;
              assert.ok(existsSync(join(REPO_ROOT, path)), `${image.file}: images/rootfs.sh takes ${path} but make build-ts did not produce it`);
            }
            continue;
          }
          assert.ok(existsSync(join(REPO_ROOT, rel)), `${image.file}: COPY ${src} but make build-ts did not produce ${rel}`);
        }
        if (c.sources.some((s) => s.includes('paddle_native.node'))) assert.equal(c.sources[0]?.replace(/^\/src\//, ''), addon, 'the addon path is make build-native\'s');
      }
      const entry = runtime.instructions.find((i) => i.op === 'ENTRYPOINT')?.args ?? '';
      const script = (JSON.parse(entry) as string[]).find((a) => a.endsWith('.js'));
      assert.ok(script && existsSync(join(REPO_ROOT, script)), `${image.file}: entrypoint ${script ?? '?'} was not built`);
    }
  });

  it('the built entrypoints load their whole module graph under plain node and parse their flags', function () {
    this.timeout(120_000);
    // An unknown flag makes each program stop right after loading every module: a module that
    // does not load (e.g. a default import that ESM does not provide) fails here, not in a pod.
    const run = (script: string, flag: string) => spawnSync(process.execPath, [script, flag], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    const op = run('dist/operator/main.js', '--no-such-flag=1');
    assert.equal(op.status, 2, `operator: ${op.stderr.slice(-1500)}`);
    assert.match(op.stderr, /unknown flag --no-such-flag/);
    // The operator image ships the bundle without node_modules: it must load on its own.
    const alone = mkdtempSync(join(tmpdir(), 'operator-bundle-'));
    try {
      mkdirSync(join(alone, 'dist/operator'), { recursive: true });
      copyFileSync(join(REPO_ROOT, 'dist/operator/main.js'), join(alone, 'dist/operator/main.js'));
      copyFileSync(join(REPO_ROOT, 'package.json'), join(alone, 'package.json'));
      const bundled = spawnSync(process.execPath, ['dist/operator/main.js', '--no-such-flag=1'], { cwd: alone, encoding: 'utf8', timeout: 60_000 });
      assert.equal(bundled.status, 2, `operator bundle without node_modules: ${bundled.stderr.slice(-1500)}`);
      assert.match(bundled.stderr, /unknown flag --no-such-flag/);
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
    const sidecar = run('dist/sidecar/src/main.js', '--no-such-flag');
    assert.match(`${sidecar.stdout}${sidecar.stderr}`, /Unknown option '--no-such-flag'/, `sidecar: ${sidecar.stderr.slice(-1500)}`);
    assert.notEqual(sidecar.status, 0);
  });
});
