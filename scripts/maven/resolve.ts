import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";

/** A prerequisite (java, mvn, network) is missing; `message` is one line telling how to fix it. */
export class MissingPrerequisiteError extends Error {
  override name = "MissingPrerequisiteError";
}

/** Maven ran but could not produce the classpath. */
export class MavenResolutionError extends Error {
  override name = "MavenResolutionError";
}

export interface ResolveOptions {
  /** Versions forced onto transitive dependencies ("group:artifact:version"), e.g. to replace an unpublished one. */
  managed?: string[];
  /** Overrides `~/.m2/repository` (passed as `-Dmaven.repo.local`). */
  localRepository?: string;
  /** A Maven settings file (`mvn -s`), e.g. one declaring a mirror. */
  settingsFile?: string;
  /** Hash every jar against the `.jar.sha1` Maven stored beside it even when the cache looks intact. */
  verify?: boolean;
  /** Called with progress lines (defaults to silence). */
  log?: (line: string) => void;
}

interface CachedClasspath {
  key: string;
  jars: { path: string; size: number }[];
}

export function cacheRoot(): string {
  return process.env.KPP_CACHE_DIR ?? join(homedir(), ".cache", "kafka-partition-proxy");
}

export function mavenCacheDir(name: string): string {
  return join(cacheRoot(), "maven", name);
}

/**
 * Resolves Maven coordinates ("group:artifact:version") to a list of jar paths. The first run writes a small
 * pom and asks Maven; later runs return the cached list after cheap integrity checks (size, zip trailer).
 * Jars whose SHA-1 does not match Maven's `.jar.sha1` are deleted and fetched again.
 */
export async function resolveClasspath(
  name: string,
  coordinates: string[],
  options: ResolveOptions = {},
): Promise<string[]> {
  const dir = mavenCacheDir(name);
  const cacheFile = join(dir, "classpath.json");
  const key = cacheKey(coordinates, options);
  const cached = readCache(cacheFile, key);
  if (cached?.jars.every((jar) => looksIntact(jar.path, jar.size))) {
    if (!options.verify || corruptJars(cached.jars.map((j) => j.path)).length === 0) {
      return cached.jars.map((j) => j.path);
    }
  }
  await checkPrerequisites();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pom.xml"), pomFor(name, coordinates, options.managed ?? []));

  let jars = await runMaven(dir, options);
  const corrupt = corruptJars(jars);
  if (corrupt.length > 0) {
    options.log?.(`re-fetching ${corrupt.length} corrupt jar(s): ${corrupt.join(", ")}`);
    for (const jar of corrupt) discardArtifact(jar);
    jars = await runMaven(dir, options);
    const stillCorrupt = corruptJars(jars);
    if (stillCorrupt.length > 0) {
      throw new MavenResolutionError(`jars still corrupt after re-download: ${stillCorrupt.join(", ")}`);
    }
  }
  const entry: CachedClasspath = { key, jars: jars.map((path) => ({ path, size: statSync(path).size })) };
  writeFileSync(cacheFile, JSON.stringify(entry, null, 1));
  return jars;
}

function cacheKey(coordinates: string[], options: ResolveOptions): string {
  const material = JSON.stringify([coordinates, options.managed ?? [], options.localRepository ?? ""]);
  return createHash("sha1").update(material).digest("hex");
}

function readCache(file: string, key: string): CachedClasspath | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as CachedClasspath;
    return parsed.key === key && Array.isArray(parsed.jars) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const END_OF_CENTRAL_DIRECTORY = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const MAX_EOCD_SEARCH = 22 + 0xffff;

/** Cheap check: right size and a zip end-of-central-directory record near the end. */
export function looksIntact(path: string, expectedSize?: number): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (expectedSize !== undefined && size !== expectedSize) return false;
  if (!path.endsWith(".jar")) return true;
  return hasZipTrailer(path, size);
}

function hasZipTrailer(path: string, size: number): boolean {
  if (size < 22) return false;
  const length = Math.min(size, MAX_EOCD_SEARCH);
  const tail = Buffer.allocUnsafe(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, tail, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return tail.lastIndexOf(END_OF_CENTRAL_DIRECTORY) >= 0;
}

/** Jars whose content disagrees with the SHA-1 Maven stored beside them, or that are not readable zips. */
export function corruptJars(jars: string[]): string[] {
  return jars.filter((jar) => {
    if (!looksIntact(jar)) return true;
    const expected = storedSha1(jar);
    if (expected === undefined) return false;
    return createHash("sha1").update(readFileSync(jar)).digest("hex") !== expected;
  });
}

function storedSha1(jar: string): string | undefined {
  try {
    const text = readFileSync(`${jar}.sha1`, "utf8").trim().split(/\s+/)[0]?.toLowerCase();
    return text && /^[0-9a-f]{40}$/.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a jar and the bookkeeping Maven keeps beside it so that the next run downloads it again. */
function discardArtifact(jar: string): void {
  for (const file of [jar, `${jar}.sha1`, join(dirname(jar), "_remote.repositories")]) {
    rmSync(file, { force: true });
  }
}

function pomFor(name: string, coordinates: string[], managed: string[]): string {
  const dependency = (coordinate: string) => {
    const [groupId, artifactId, version] = parseCoordinate(coordinate);
    return `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
  };
  const artifactId = name.replace(/[^A-Za-z0-9_.-]/g, "-");
  return [
    `<project xmlns="http://maven.apache.org/POM/4.0.0">`,
    `  <modelVersion>4.0.0</modelVersion>`,
    `  <groupId>kafka-partition-proxy.classpath</groupId>`,
    `  <artifactId>${artifactId}</artifactId>`,
    `  <version>1</version>`,
    `  <packaging>pom</packaging>`,
    `  <dependencyManagement><dependencies>`,
    ...managed.map(dependency),
    `  </dependencies></dependencyManagement>`,
    `  <dependencies>`,
    ...coordinates.map(dependency),
    `  </dependencies>`,
    `</project>`,
    "",
  ].join("\n");
}

function parseCoordinate(coordinate: string): [string, string, string] {
  const parts = coordinate.split(":");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new MavenResolutionError(`bad Maven coordinate "${coordinate}" (expected group:artifact:version)`);
  }
  return parts as [string, string, string];
}

/** Finds an executable on PATH (or at an absolute path). */
export function findExecutable(command: string): string | undefined {
  if (command.includes("/")) return existsSync(command) ? command : undefined;
  for (const entry of (process.env.PATH ?? "").split(delimiter)) {
    if (!entry) continue;
    const candidate = join(entry, command);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return undefined;
}

export function javaExecutable(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : undefined;
  const java = fromHome && existsSync(fromHome) ? fromHome : findExecutable("java");
  if (!java) {
    throw new MissingPrerequisiteError(
      "Java not found: install a JDK 17 with `apt-get install openjdk-17-jdk-headless` or set JAVA_HOME",
    );
  }
  return java;
}

async function checkPrerequisites(): Promise<void> {
  javaExecutable();
  if (!findExecutable("mvn")) {
    throw new MissingPrerequisiteError("Maven not found: install it with `apt-get install maven`");
  }
}

const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

function runMaven(dir: string, options: ResolveOptions): Promise<string[]> {
  const outputFile = join(dir, "classpath.txt");
  rmSync(outputFile, { force: true });
  const args = ["-q", "-B", `${DEPENDENCY_PLUGIN}:build-classpath`, `-Dmdep.outputFile=${outputFile}`];
  if (options.localRepository) args.push(`-Dmaven.repo.local=${options.localRepository}`);
  if (options.settingsFile) args.push("-s", options.settingsFile);
  options.log?.(`mvn ${args.join(" ")} (in ${dir})`);
  return new Promise((resolve, reject) => {
    execFile("mvn", args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(explainMavenFailure(`${stdout}\n${stderr}`, error));
        return;
      }
      const text = existsSync(outputFile) ? readFileSync(outputFile, "utf8").trim() : "";
      resolve(text ? text.split(delimiter) : []);
    });
  });
}

function explainMavenFailure(output: string, error: Error & { code?: unknown }): Error {
  if (error.code === "ENOENT") {
    return new MissingPrerequisiteError("Maven not found: install it with `apt-get install maven`");
  }
  const plain = output.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "");
  const offline =
    /UnknownHostException|Connection refused|Network is unreachable|connect timed out|Could not transfer artifact|No route to host|transfer failed/i;
  if (offline.test(plain)) {
    return new MissingPrerequisiteError(
      "Maven could not reach Maven Central (https://repo.maven.apache.org): check the network or proxy settings in ~/.m2/settings.xml",
    );
  }
  const firstError =
    plain.split("\n").find((line) => line.startsWith("[ERROR]")) ?? plain.trim().split("\n")[0];
  return new MavenResolutionError(
    `Maven failed: ${firstError?.replace(/^\[ERROR\]\s*/, "") ?? error.message}`,
  );
}
