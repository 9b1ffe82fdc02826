// The serving port's one router, built from the one route table: SIDECAR_ROUTES in the pod
// contract (the table the config loader, the operator and the CRD's CEL use for default-deny).
// Each table entry (its path and its aliases, for its methods) maps to a handler; building the
// router fails if a table entry has no handler or a handler no table entry, so the routes
// served are exactly the table's.
//
// Matching follows what the express router did before (clients may rely on it): literal
// segments compare case-insensitively, one trailing slash is ignored, a `{param}` segment is one
// non-empty segment, percent-decoded (a malformed escape is 400). HEAD is served as GET (node
// sends no body). A path that matches no entry, or an entry without the method, is 404.

import { SIDECAR_ROUTES, type SidecarRoute } from '../../../crds/src/pod-contract.js';
import { SidecarError } from '../errors.js';

export type Method = 'GET' | 'POST';

export interface RouteMatch<H> {
  /** The table entry (its `path` is also the policy path of a guarded route). */
  readonly route: SidecarRoute;
  /** Metrics/access-log label: the entry's path with `:name`/`:version` parameters. */
  readonly label: string;
  readonly handler: H;
  readonly model: string | undefined;
  readonly version: string | undefined;
}

/** Entries kept in the seen-path cache before it is cleared (any caller can send new paths). */
const SEEN_MAX = 512;

interface Found<H> {
  pattern: Pattern<H>;
  /** The match per method (absent: the method is not served on this path). */
  matches: Partial<Record<Method, RouteMatch<H>>>;
}

function found<H>(pattern: Pattern<H>, model: string | undefined, version: string | undefined): Found<H> {
  const matches: Partial<Record<Method, RouteMatch<H>>> = {};
  for (const m of ['GET', 'POST'] as const) {
    const handler = pattern.handlers[m];
    if (handler !== undefined) matches[m] = { route: pattern.route, label: pattern.label, handler, model, version };
  }
  return { pattern, matches };
}

interface Pattern<H> {
  segments: string[];
  route: SidecarRoute;
  label: string;
  handlers: Partial<Record<Method, H>>;
}

/** `/v2/models/{model}/infer` -> `/v2/models/:name/infer` (the route labels metrics have always used). */
export function routeLabel(path: string): string {
  return path.replace('{model}', ':name').replace('{version}', ':version');
}

export class Router<H> {
  private readonly patterns: Pattern<H>[] = [];
  /** Exact-spelling static paths (the common case skips the segment walk). */
  private readonly exact = new Map<string, Found<H>>();
  /** Paths seen lately and what they matched (null: nothing); bounded, cleared when full. */
  private readonly seen = new Map<string, Found<H> | null>();

  /** `handlers`: table path -> method -> handler, for every entry and method of `routes`. */
  constructor(handlers: Record<string, Partial<Record<Method, H>>>, readonly routes: readonly SidecarRoute[] = SIDECAR_ROUTES) {
    for (const route of routes) {
      const h = handlers[route.path];
      for (const m of route.methods) if (!h?.[m]) throw new Error(`route ${m} ${route.path} has no handler`);
      for (const m of Object.keys(h ?? {})) if (!(route.methods as readonly string[]).includes(m)) throw new Error(`handler ${m} ${route.path} is not in the route table`);
      for (const path of [route.path, ...(route.aliases ?? [])]) {
        const p: Pattern<H> = { segments: path.split('/').slice(1), route, label: routeLabel(route.path), handlers: h ?? {} };
        this.patterns.push(p);
        if (!path.includes('{')) this.exact.set(path, found(p, undefined, undefined));
      }
    }
    for (const path of Object.keys(handlers)) if (!routes.some((r) => r.path === path)) throw new Error(`handler for ${path}, which is not in the route table`);
  }

  /** The route `method path` takes (path without the query); undefined for none (404). The match is shared: read only. */
  match(method: string, path: string): RouteMatch<H> | undefined {
    const m: Method | undefined = method === 'GET' || method === 'HEAD' ? 'GET' : method === 'POST' ? 'POST' : undefined;
    const hit = this.find(path);
    if (!hit || m === undefined) return undefined;
    return hit.matches[m];
  }

  /** The methods served on `path` (empty when no entry matches it). */
  allowed(path: string): readonly string[] {
    return this.find(path)?.pattern.route.methods ?? [];
  }

  private find(path: string): Found<H> | undefined {
    const exact = this.exact.get(path);
    if (exact) return exact;
    const seen = this.seen.get(path);
    if (seen !== undefined) return seen ?? undefined;
    const found = this.walk(path);
    if (this.seen.size >= SEEN_MAX) this.seen.clear();
    this.seen.set(path, found ?? null);
    return found;
  }

  /** Matches `path` segment by segment (throws 400 for a malformed escape in a parameter; not cached). */
  private walk(path: string): Found<H> | undefined {
    let p = path;
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    const segs = p.split('/');
    if (segs[0] !== '') return undefined;
    for (const pattern of this.patterns) {
      const want = pattern.segments;
      if (want.length !== segs.length - 1) continue;
      let model: string | undefined;
      let version: string | undefined;
      let ok = true;
      for (let i = 0; i < want.length && ok; i++) {
        const w = want[i] as string;
        const s = segs[i + 1] as string;
        if (w === '{model}') ok = s !== '' && (model = decode(s)) !== undefined;
        else if (w === '{version}') ok = s !== '' && (version = decode(s)) !== undefined;
        else ok = s === w || (s.length === w.length && s.toLowerCase() === w);
      }
      if (ok) return found(pattern, model, version);
    }
    return undefined;
  }
}

function decode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch (err) {
    throw new SidecarError('bad_request', `malformed percent-escape in the path segment ${JSON.stringify(s.slice(0, 64))}`, { cause: err });
  }
}
