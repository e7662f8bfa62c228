import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findExecutable, MissingPrerequisiteError } from "../maven/resolve.ts";

const run = promisify(execFile);

export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export const SASL_USERS: Record<string, string> = {
  admin: "admin-secret",
  alice: "alice-secret",
};

export interface TlsFiles {
  caFile: string;
  /** PEM holding the server's PKCS#8 private key followed by its certificate chain. */
  keystoreFile: string;
}

/** Creates a throw-away CA and a server certificate valid for 127.0.0.1 and localhost. */
export async function createTlsFiles(dir: string): Promise<TlsFiles> {
  if (!findExecutable("openssl")) {
    throw new MissingPrerequisiteError("openssl not found: install it with `apt-get install openssl`");
  }
  mkdirSync(dir, { recursive: true });
  const path = (name: string) => join(dir, name);
  const days = "30";
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.pem"),
    "-days",
    days,
    "-subj",
    "/CN=kafka-partition-proxy test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    path("server.key"),
    "-out",
    path("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  writeFileSync(
    path("server.ext"),
    [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth,clientAuth",
      "",
    ].join("\n"),
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    path("server.csr"),
    "-CA",
    path("ca.pem"),
    "-CAkey",
    path("ca.key"),
    "-set_serial",
    `0x${randomBytes(8).toString("hex")}`,
    "-days",
    days,
    "-extfile",
    path("server.ext"),
    "-out",
    path("server.pem"),
  ]);
  const keystore = [readFileSync(path("server.key"), "utf8"), readFileSync(path("server.pem"), "utf8")];
  writeFileSync(path("server-keystore.pem"), keystore.join(""), { mode: 0o600 });
  return { caFile: path("ca.pem"), keystoreFile: path("server-keystore.pem") };
}

function jaasString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Broker settings for a SASL_SSL listener named SASL_SSL. */
export function saslSslBrokerProperties(tls: TlsFiles): Record<string, string> {
  const plainUsers = Object.entries(SASL_USERS)
    .map(([user, password]) => `user_${user}=${jaasString(password)}`)
    .join(" ");
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  return {
    "sasl.enabled.mechanisms": SASL_MECHANISMS.join(","),
    "listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password=${jaasString(SASL_USERS.admin!)} ${plainUsers};`,
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram,
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": tls.keystoreFile,
    "ssl.client.auth": "none",
  };
}

/** `kafka.tools.StorageTool format` arguments creating every SCRAM user for both SCRAM mechanisms. */
export function scramFormatArguments(): string[] {
  const args: string[] = [];
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"]) {
    for (const [user, password] of Object.entries(SASL_USERS)) {
      args.push("--add-scram", `${mechanism}=[name=${user},password=${password}]`);
    }
  }
  return args;
}

/** Java client properties for one mechanism and user. */
export function clientProperties(
  mechanism: SaslMechanism,
  caFile: string,
  user: string,
  password: string,
): string {
  const module =
    mechanism === "PLAIN"
      ? "org.apache.kafka.common.security.plain.PlainLoginModule"
      : "org.apache.kafka.common.security.scram.ScramLoginModule";
  return [
    "security.protocol=SASL_SSL",
    `sasl.mechanism=${mechanism}`,
    `sasl.jaas.config=${module} required username=${jaasString(user)} password=${jaasString(password)};`,
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${caFile}`,
    "",
  ].join("\n");
}
