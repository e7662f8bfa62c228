import { timingSafeEqual } from "node:crypto";

/** One admin API request, as a route handler sees it. */
export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  /** The `{name}` parts of the route's pattern, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body (undefined when there is none). */
  readonly body: unknown;
  /** Who asked, for the log: the caller's address, and whether it proved the admin token. */
  readonly actor: { readonly remote: string; readonly authenticated: boolean };
}

/** A route's answer: JSON unless `text` is given. */
export type AdminReply =
  | { readonly status?: number; readonly json: unknown }
  | { readonly status?: number; readonly text: string; readonly type?: string };

export type AdminHandler = (request: AdminRequest) => AdminReply | Promise<AdminReply>;

/** A problem a handler reports with its HTTP status (400 for a bad body, 404 for an unknown group, ...). */
export class AdminError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "AdminError";
    this.status = status;
  }
}

interface Route {
  readonly method: string;
  readonly pattern: string;
  readonly matcher: RegExp;
  readonly names: readonly string[];
  readonly handler: AdminHandler;
  readonly changesState: boolean;
}

export interface RouteMatch {
  readonly handler: AdminHandler;
  readonly params: Record<string, string>;
  readonly changesState: boolean;
}

function compilePattern(pattern: string): { matcher: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split("/")
    .map((part) => {
      const name = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part)?.[1];
      if (!name) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return "([^/]+)";
    })
    .join("/");
  return { matcher: new RegExp(`^${source}$`), names };
}

/**
 * The admin API's routes. Features and the runtime add theirs; every method but GET and HEAD changes state and
 * needs the admin token (`admin.token`, sent as `Authorization: Bearer <token>`).
 */
export class AdminApi {
  private readonly routes: Route[] = [];
  private token: Buffer | undefined;

  constructor(token?: string) {
    this.setToken(token);
  }

  /** Replaces the admin token (a reloaded config); undefined turns every state-changing route off. */
  setToken(token: string | undefined): void {
    this.token = token ? Buffer.from(token) : undefined;
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  get(pattern: string, handler: AdminHandler): void {
    this.add("GET", pattern, handler);
  }

  post(pattern: string, handler: AdminHandler): void {
    this.add("POST", pattern, handler);
  }

  put(pattern: string, handler: AdminHandler): void {
    this.add("PUT", pattern, handler);
  }

  delete(pattern: string, handler: AdminHandler): void {
    this.add("DELETE", pattern, handler);
  }

  private add(method: string, pattern: string, handler: AdminHandler): void {
    if (this.routes.some((route) => route.method === method && route.pattern === pattern)) {
      throw new Error(`admin route ${method} ${pattern} is registered twice`);
    }
    const { matcher, names } = compilePattern(pattern);
    this.routes.push({ method, pattern, matcher, names, handler, changesState: method !== "GET" });
  }

  /** The route for a request; "method" when the path exists under other methods only. */
  match(method: string, path: string): RouteMatch | "method" | undefined {
    const wanted = method === "HEAD" ? "GET" : method;
    let pathKnown = false;
    for (const route of this.routes) {
      const found = route.matcher.exec(path);
      if (!found) continue;
      pathKnown = true;
      if (route.method !== wanted) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1]!);
      });
      return { handler: route.handler, params, changesState: route.changesState };
    }
    return pathKnown ? "method" : undefined;
  }

  /** The registered routes, for the index page and the 404 answer. */
  list(): { method: string; path: string; needsToken: boolean }[] {
    return this.routes.map((route) => ({
      method: route.method,
      path: route.pattern,
      needsToken: route.changesState,
    }));
  }

  /** Whether an `Authorization` header carries the admin token (compared in constant time). */
  accepts(authorization: string | undefined): boolean {
    if (!this.token || !authorization) return false;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return false;
    const given = Buffer.from(match[1]!);
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }
}
