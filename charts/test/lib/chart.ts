// Helpers shared by the chart's tests: where the chart and the tools are, running the real helm
// binary, and reading what it renders.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'paddle-operator');
export const ALL_OPTIONS_VALUES = join(REPO_ROOT, 'charts', 'test', 'values', 'all-options.yaml');
export const MONITORING_STANDIN_CRDS = join(REPO_ROOT, 'charts', 'test', 'fixtures', 'monitoring-crds-test-standins.yaml');

/** A Kubernetes object as rendered (only the fields every object has are typed). */
export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

function pinnedVersion(key: string): string {
  const text = readFileSync(join(REPO_ROOT, 'e2e', 'tools', 'versions.env'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`${key} missing from e2e/tools/versions.env`);
  return line.slice(key.length + 1).trim();
}

/** The Kubernetes version the chart is rendered for: the pinned version of the local cluster. */
export function kubeVersion(): string {
  return pinnedVersion('KUBERNETES_VERSION');
}

/** The helm binary: $HELM, else the cached build of the pinned version (make builds it). */
export function helmPath(): string {
  const fromEnv = process.env.HELM;
  const cache = process.env.PADDLE_OPERATOR_CACHE ?? join(homedir(), '.cache', 'paddle-operator');
  const path = fromEnv || join(cache, 'bin', `helm-${pinnedVersion('HELM_VERSION')}`, 'helm');
  if (!existsSync(path)) throw new Error(`helm not found at ${path} (make test-chart builds it: e2e/tools/build.sh helm)`);
  return path;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with the given arguments; never throws on a non-zero exit (callers assert). */
export function helm(args: string[], options: { kubeconfig?: string; timeoutMs?: number } = {}): CommandResult {
  const env: NodeJS.ProcessEnv = { ...process.env, HELM_CACHE_HOME: join(REPO_ROOT, 'dist', '.helm', 'cache'), HELM_CONFIG_HOME: join(REPO_ROOT, 'dist', '.helm', 'config'), HELM_DATA_HOME: join(REPO_ROOT, 'dist', '.helm', 'data') };
  if (options.kubeconfig) env.KUBECONFIG = options.kubeconfig;
  const r = spawnSync(helmPath(), args, { encoding: 'utf8', env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`could not run helm ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs helm and throws with its output when it fails. */
export function helmOk(args: string[], options: { kubeconfig?: string; timeoutMs?: number } = {}): string {
  const r = helm(args, options);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  set?: Record<string, string | number | boolean>;
}

/** `helm template` arguments for the options (shared with helm install / upgrade). */
export function valueArgs(o: RenderOptions): string[] {
  const args: string[] = [];
  for (const f of o.valuesFiles ?? []) args.push('-f', f);
  for (const [k, v] of Object.entries(o.set ?? {})) args.push(typeof v === 'string' ? '--set-string' : '--set', `${k}=${String(v)}`);
  return args;
}

/** Renders the chart with `helm template` and returns the manifest text. */
export function renderText(o: RenderOptions = {}): string {
  return helmOk(['template', o.release ?? 'paddle-operator', CHART_DIR, '--namespace', o.namespace ?? 'paddle-system', '--kube-version', kubeVersion(), ...valueArgs(o)]);
}

/** Splits a multi-document manifest into objects (empty documents dropped). */
export function parseManifests(text: string): RenderedObject[] {
  const docs = yaml.loadAll(text) as unknown[];
  return docs.filter((d): d is RenderedObject => typeof d === 'object' && d !== null);
}

/** Renders the chart and parses the objects. */
export function render(o: RenderOptions = {}): RenderedObject[] {
  return parseManifests(renderText(o));
}

/** The one object of a kind (and name, when given); throws when there is not exactly one. */
export function only(objects: RenderedObject[], kind: string, name?: string): RenderedObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found[0] as RenderedObject;
}

export function readYaml(path: string): unknown {
  return yaml.load(readFileSync(path, 'utf8'));
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}
