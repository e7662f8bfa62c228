import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../maven/resolve.ts";

/**
 * Dynamic class-data-sharing archives (JDK 13+) for the Kafka CLI tools: the first run of a main class on a
 * classpath dumps the classes it loaded, later runs map them and start 30-50% faster. A missing, stale or
 * mismatched archive is ignored by the JVM, and JVM logging is limited to errors on stderr so that tool output
 * stays clean. `KPP_NO_CDS=1` turns it off.
 */
export interface ClassDataSharing {
  flags: string[];
  /** Call when the JVM has exited; publishes a freshly dumped archive when the run succeeded. */
  finish(exitCode: number | null): void;
}

const QUIET_JVM_LOGGING = ["-Xlog:disable", "-Xlog:all=error:stderr"];
const STALE_LOCK_MS = 5 * 60_000;
const NOTHING: ClassDataSharing = { flags: [], finish: () => {} };

export function classDataSharing(java: string, classpath: string, mainClass: string): ClassDataSharing {
  if (process.env.KPP_NO_CDS === "1") return NOTHING;
  const dir = join(cacheRoot(), "cds");
  const family = `${mainClass}-${createHash("sha1").update(classpath).digest("hex").slice(0, 8)}-`;
  const archive = join(dir, `${family}${archiveKey(java, classpath)}.jsa`);
  if (sizeOf(archive) > 0)
    return { flags: [`-XX:SharedArchiveFile=${archive}`, ...QUIET_JVM_LOGGING], finish: () => {} };

  const lock = `${archive}.lock`;
  if (!takeLock(dir, lock)) return NOTHING;
  const pending = `${archive}.${process.pid}.tmp`;
  return {
    flags: [`-XX:ArchiveClassesAtExit=${pending}`, ...QUIET_JVM_LOGGING],
    finish: (exitCode) => {
      try {
        if (exitCode === 0 && sizeOf(pending) > 0) {
          renameSync(pending, archive);
          removeOutdated(dir, family, archive);
        }
      } catch {}
      rmSync(pending, { force: true });
      rmSync(lock, { force: true });
    },
  };
}

/** The JVM rejects an archive when the JDK or any jar changed; so does this key, so a new archive gets dumped. */
function archiveKey(java: string, classpath: string): string {
  const hash = createHash("sha1");
  for (const file of [realpathOr(java), ...classpath.split(":")]) {
    try {
      const stat = statSync(file);
      hash.update(`${file}\0${stat.size}\0${stat.mtimeMs}\0`);
    } catch {
      hash.update(`${file}\0missing\0`);
    }
  }
  return hash.digest("hex").slice(0, 16);
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Deletes archives of the same main class and classpath made for an older JDK or older jars. */
function removeOutdated(dir: string, family: string, current: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.startsWith(family) && name.endsWith(".jsa") && path !== current) rmSync(path, { force: true });
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function takeLock(dir: string, lock: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    closeSync(openSync(lock, "wx"));
    return true;
  } catch {
    try {
      if (Date.now() - statSync(lock).mtimeMs < STALE_LOCK_MS) return false;
      rmSync(lock, { force: true });
      closeSync(openSync(lock, "wx"));
      return true;
    } catch {
      return false;
    }
  }
}
