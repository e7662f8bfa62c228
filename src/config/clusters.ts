import type { ParsedConfig } from "./schema.ts";
import { type NamedFile, normalizeUpstreamSecurity, type UpstreamSecuritySettings } from "./security.ts";

export interface HostPort {
  host: string;
  port: number;
}

export interface UpstreamClusterSettings {
  name: string;
  bootstrapServers: HostPort[];
  /** Virtual node id of the cluster's node 0. */
  nodeIdBase: number;
  /** TLS and SASL towards the cluster's brokers, for every connection the proxy opens to them. */
  security: UpstreamSecuritySettings;
}

/** One routing rule: names matching `pattern` (anchored) belong to `cluster`. */
export interface RoutingRule {
  readonly pattern: RegExp;
  /** The pattern as written in the config. */
  readonly source: string;
  readonly cluster: string;
}

/** Which cluster each topic lives on, and where each group and transactional id has its coordinator. */
export interface RoutingSettings {
  readonly defaultCluster: string;
  readonly topics: readonly RoutingRule[];
  readonly groups: readonly RoutingRule[];
  readonly transactionalIds: readonly RoutingRule[];
}

export interface UpstreamSettings {
  /** The upstream clusters, the default one first. */
  clusters: UpstreamClusterSettings[];
  routing: RoutingSettings;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  metadataRefreshMs: number;
}

/** How far apart the virtual node ids of successive clusters start when the config does not say. */
export const DEFAULT_NODE_ID_STRIDE = 100;

export function parseHostPort(text: string): HostPort {
  const index = text.lastIndexOf(":");
  const host = text.slice(0, index).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(text.slice(index + 1)) };
}

/** Compiles a config pattern into a regular expression anchored at both ends, or reports it. */
export function compileRegex(pattern: string, path: string, problems: string[]): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    problems.push(`${path}: invalid regular expression: ${(error as Error).message}`);
    return /$^/;
  }
}

/**
 * The upstream side of the config: `kafka` (one cluster) or `clusters` (several, by name), the routing of topics,
 * groups and transactional ids between them, and the timeouts towards them. Problems name their field path.
 */
export function normalizeUpstream(
  raw: ParsedConfig,
  problems: string[],
  warnings: string[],
  files: NamedFile[],
): UpstreamSettings {
  const clusters: UpstreamClusterSettings[] = [];
  let timing = raw.upstream;
  if (raw.kafka && raw.clusters) {
    problems.push("clusters: give either kafka (one cluster) or clusters (several), not both");
  } else if (raw.kafka) {
    const { name, bootstrap_servers, node_id_base, security_protocol, tls, sasl, ...kafkaTiming } = raw.kafka;
    timing = kafkaTiming;
    clusters.push({
      name,
      bootstrapServers: bootstrap_servers.map(parseHostPort),
      nodeIdBase: node_id_base ?? 0,
      security: normalizeUpstreamSecurity(security_protocol, tls, sasl, "kafka", problems, warnings, files),
    });
  } else if (raw.clusters) {
    Object.entries(raw.clusters).forEach(([name, cluster], index) => {
      clusters.push({
        name,
        bootstrapServers: cluster.bootstrap_servers.map(parseHostPort),
        nodeIdBase: cluster.node_id_base ?? index * DEFAULT_NODE_ID_STRIDE,
        security: normalizeUpstreamSecurity(
          cluster.security_protocol,
          cluster.tls,
          cluster.sasl,
          `clusters.${name}`,
          problems,
          warnings,
          files,
        ),
      });
    });
    if (clusters.length === 0) problems.push("clusters: name at least one cluster");
  } else {
    problems.push(
      "kafka: required: the upstream cluster (kafka.bootstrap_servers), or several under clusters",
    );
  }
  checkNodeIdBases(clusters, raw.kafka ? "kafka" : "clusters", problems);

  const names = clusters.map((cluster) => cluster.name);
  const routing = normalizeRouting(raw.routing, names, problems);
  const defaultIndex = names.indexOf(routing.defaultCluster);
  if (defaultIndex > 0) clusters.unshift(...clusters.splice(defaultIndex, 1));
  return {
    clusters,
    routing,
    connectionTimeoutMs: timing.connection_timeout_ms,
    requestTimeoutMs: timing.request_timeout_ms,
    metadataRefreshMs: Math.round(timing.metadata_refresh_interval_secs * 1000),
  };
}

function checkNodeIdBases(clusters: UpstreamClusterSettings[], path: string, problems: string[]): void {
  const byBase = new Map<number, string>();
  for (const cluster of clusters) {
    const other = byBase.get(cluster.nodeIdBase);
    if (other !== undefined) {
      problems.push(
        `${path === "kafka" ? "kafka" : `clusters.${cluster.name}`}.node_id_base: ${cluster.nodeIdBase} is also the base of cluster "${other}"; each cluster needs its own range of virtual node ids`,
      );
    }
    byBase.set(cluster.nodeIdBase, cluster.name);
  }
}

function normalizeRouting(
  raw: ParsedConfig["routing"],
  clusterNames: string[],
  problems: string[],
): RoutingSettings {
  const known = new Set(clusterNames);
  const knownList = clusterNames.join(", ");
  const checkCluster = (cluster: string, path: string): void => {
    if (clusterNames.length > 0 && !known.has(cluster)) {
      problems.push(`${path}: unknown cluster "${cluster}" (known: ${knownList})`);
    }
  };
  const defaultCluster = raw?.default_cluster ?? clusterNames[0] ?? "default";
  if (raw?.default_cluster) checkCluster(raw.default_cluster, "routing.default_cluster");
  const rules = (entries: Record<string, string> | undefined, section: string): RoutingRule[] => {
    const compiled: RoutingRule[] = [];
    for (const [source, cluster] of Object.entries(entries ?? {})) {
      const path = `routing.${section}.${JSON.stringify(source)}`;
      checkCluster(cluster, path);
      const rule = { pattern: compileRegex(source, path, problems), source, cluster };
      const shadowing = compiled.find(
        (earlier) => earlier.cluster !== cluster && overlaps(earlier.pattern, rule.pattern, source),
      );
      if (shadowing) {
        problems.push(
          `${path}: overlaps the earlier rule ${JSON.stringify(shadowing.source)}, which routes the names both match to cluster "${shadowing.cluster}" (first match wins); narrow one of them or put this one first`,
        );
      }
      compiled.push(rule);
    }
    return compiled;
  };
  return {
    defaultCluster,
    topics: rules(raw?.topics, "topics"),
    groups: rules(raw?.groups, "groups"),
    transactionalIds: rules(raw?.transactional_ids, "transactional_ids"),
  };
}

const SUFFIXES = ["", "x", "0", ".x", "-x", "_x", "x.x"];

/**
 * Whether some name that `later` matches is taken by `earlier` first. Checked on names built from the later
 * pattern's literal beginning; a pattern that begins with something else is not checked.
 */
function overlaps(earlier: RegExp, later: RegExp, laterSource: string): boolean {
  const prefix = literalPrefix(laterSource);
  for (const suffix of SUFFIXES) {
    const name = prefix + suffix;
    if (name !== "" && later.test(name) && earlier.test(name)) return true;
  }
  return false;
}

/** The literal text a pattern starts with (escapes resolved), up to its first operator. */
function literalPrefix(source: string): string {
  let prefix = "";
  let i = source.startsWith("^") ? 1 : 0;
  for (; i < source.length; i++) {
    const char = source[i]!;
    if (char === "\\") {
      const next = source[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break;
      prefix += next;
      i++;
    } else if (/[.*+?()[\]{}|$^]/.test(char)) {
      break;
    } else {
      prefix += char;
    }
  }
  // A quantifier after the last literal character makes that character optional.
  const after = source[i];
  if (after === "*" || after === "?" || after === "{") prefix = prefix.slice(0, -1);
  return prefix;
}
