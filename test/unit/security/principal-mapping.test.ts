import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { connect, createServer, type PeerCertificate } from "node:tls";
import {
  distinguishedName,
  NoMatchingRuleError,
  PrincipalMapper,
  PrincipalMappingError,
} from "../../../src/security/principal-mapping.ts";

// The cases of Kafka's SslPrincipalMapperTest, then the proxy's own.
describe("PrincipalMapper (Kafka's SslPrincipalMapperTest)", () => {
  test("valid rules", () => {
    for (const rules of [
      "DEFAULT",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
      "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
      "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
      "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
      "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
      "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
    ]) {
      assert.ok(PrincipalMapper.parse(rules), rules);
    }
  });

  test("invalid rules", () => {
    for (const rules of [
      "default",
      "DEFAUL",
      "DEFAULT/L",
      "DEFAULT/U",
      "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
      "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
    ]) {
      assert.throws(() => PrincipalMapper.parse(rules), PrincipalMappingError, rules);
    }
  });

  test("mapping", () => {
    const mapper = PrincipalMapper.parse(
      [
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
        "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
        "DEFAULT",
      ].join(", "),
    );
    assert.equal(mapper.map("CN=Duke,OU=ServiceUsers,O=Org,C=US"), "duke");
    assert.equal(mapper.map("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"), "duke@sme");
    assert.equal(mapper.map("cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
    assert.equal(mapper.map("cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
    assert.equal(mapper.map("OU=JavaSoft,O=Sun Microsystems,C=US"), "OU=JavaSoft,O=Sun Microsystems,C=US");
  });

  test("rules splitting", () => {
    const cases: [string, string][] = [
      ["", "[]"],
      ["DEFAULT", "[DEFAULT]"],
      ["RULE://", "[RULE:/]"],
      ["RULE:/.*/", "[RULE:/.*]"],
      ["RULE:/.*/L", "[RULE:/.*/L]"],
      ["RULE://,DEFAULT", "[RULE:/, DEFAULT]"],
      ["  RULE:// ,  DEFAULT  ", "[RULE:/, DEFAULT]"],
      ["  RULE:   /     / ,  DEFAULT  ", "[RULE:   /     , DEFAULT]"],
      ["  RULE:  /     /U   ,DEFAULT  ", "[RULE:  /     /U, DEFAULT]"],
      [
        "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ",
        "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]",
      ],
      [",   , , ,      , , ,   ", "[]"],
      [",,RULE://,,,DEFAULT,,", "[RULE:/, DEFAULT]"],
      [",  , RULE: /   /    ,,,   DEFAULT, ,   ", "[RULE: /   , DEFAULT]"],
      ["     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,", "[RULE:   /  /U, DEFAULT]"],
      ["RULE:\\/\\\\\\(\\)\\n\\t/\\/\\//", "[RULE:\\/\\\\\\(\\)\\n\\t/\\/\\/]"],
      ["RULE:\\**\\/+/*/L,RULE:\\/*\\**/**/", "[RULE:\\**\\/+/*/L, RULE:\\/*\\**/**]"],
      [
        "RULE:,RULE:,/,RULE:,\\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT",
        "[RULE:,RULE:,/,RULE:,\\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]",
      ],
    ];
    for (const [rules, expected] of cases) {
      assert.equal(PrincipalMapper.parse(rules).describeRules(), expected, rules);
    }
  });

  test("comma with whitespace", () => {
    const mapper = PrincipalMapper.parse("RULE:^CN=((\\\\, *|\\w)+)(,.*|$)/$1/,DEFAULT");
    assert.equal(mapper.map("CN=Tkac\\, Adam,OU=ITZ,DC=geodis,DC=cz"), "Tkac\\, Adam");
  });
});

describe("PrincipalMapper", () => {
  test("no applicable rule throws NoMatchingRuleError naming the name and the rules", () => {
    const mapper = PrincipalMapper.parse("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/");
    assert.throws(
      () => mapper.map("CN=x,OU=Other"),
      (error: Error) =>
        error instanceof NoMatchingRuleError &&
        error.message === "No rules apply to CN=x,OU=Other, rules [RULE:^CN=(.*?),OU=ServiceUsers.*$/$1]",
    );
    assert.throws(() => PrincipalMapper.parse("").map("CN=x"), NoMatchingRuleError);
  });

  // Each expected value is what Kafka 4.3.1's SslPrincipalMapper gives.
  test("replacements follow Java's group references", () => {
    const cases: [string, string, string][] = [
      ["RULE:^CN=([a-z]+)$/$1@$2/", "CN=bob", "bob@$2"],
      ["RULE:^CN=([a-z]+)$/$12/", "CN=bob", "bob2"],
      ["RULE:^CN=([a-z]+)$/$01x/", "CN=bob", "bobx"],
      ["RULE:^CN=([a-z]+)$/$0!/", "CN=bob", "CN=bob!"],
      ["RULE:^CN=([a-z]+)$/\\$1/", "CN=bob", "$1"],
      ["RULE:^CN=([a-z]+)$/a\\b/", "CN=bob", "ab"],
      ["RULE:^CN=(?<n>[a-z]+)$/${n}!/", "CN=bob", "bob!"],
      ["RULE:([A-Z]*)/x$1/", "ABC", "xABCx"],
      ["RULE:(.*)/$1$1/", "ab", "abab"],
      ["RULE:CN=([a-z]+),.*/$1/, RULE:.*/none/", "O=x", "nonenone"],
      ["RULE:(?i)cn=([a-z]+)/$1/U", "CN=Bob", "BOB"],
      ["RULE:^CN=(.*)$/$1/L", "CN=ÄBC", "äbc"],
      ["RULE:^CN=(.*)$/$1/,  RULE:^(.*)$/x$1/", "Q,R", "xQ,R"],
      ["DEFAULT ,RULE:a/b/", "a", "a"],
    ];
    for (const [rules, name, expected] of cases) {
      assert.equal(PrincipalMapper.parse(rules).map(name), expected, `${rules} on ${name}`);
    }
  });

  test("a list holds one rule per element, commas included", () => {
    const mapper = PrincipalMapper.parse(["RULE:^CN=([^,]+),O=(a,b)$/$1 of $2/", " DEFAULT "]);
    assert.equal(mapper.map("CN=x,O=a,b"), "x of a,b");
    assert.equal(mapper.map("CN=x,O=c"), "CN=x,O=c");
    assert.throws(() => PrincipalMapper.parse(["RULE:a/b/, DEFAULT"]), /unmatched substring: `, DEFAULT`/);
  });

  test("errors Kafka would raise only while mapping are raised while parsing", () => {
    assert.throws(
      () => PrincipalMapper.parse("RULE:^.*$/no groups $1/"),
      /group 1 but the pattern has no groups/,
    );
    assert.throws(() => PrincipalMapper.parse("RULE:^CN=(.*)$/$1$/"), /followed by a group number/);
    assert.throws(() => PrincipalMapper.parse("RULE:^CN=((.*)$/$1/"), /does not compile/);
    assert.equal(PrincipalMapper.parse("RULE:^.*$/no groups $0/").map("x"), "no groups x");
  });

  test("error messages point at the bad part", () => {
    assert.throws(
      () => PrincipalMapper.parse("DEFAULT/L"),
      /^PrincipalMappingError: Invalid rule: `DEFAULT\/L`, unmatched substring: `\/L`$/,
    );
    assert.throws(() => PrincipalMapper.parse("RULE:a/b/ L"), /unmatched substring: ` L`/);
  });
});

describe("distinguishedName", () => {
  const directory = mkdtempSync(path.join(tmpdir(), "kpp-dn-"));
  after(() => rmSync(directory, { recursive: true, force: true }));
  const keyFile = path.join(directory, "key.pem");
  writeFileSync(
    keyFile,
    generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
  );
  let certificates = 0;
  function certificateFor(subject: string, ...extra: string[]): string {
    const file = path.join(directory, `cert-${certificates++}.pem`);
    execFileSync(
      "openssl",
      ["req", "-new", "-x509", "-key", keyFile, "-days", "1", "-out", file, "-subj", subject, ...extra],
      {
        stdio: "ignore",
      },
    );
    return file;
  }
  const peer = (file: string) => ({ raw: new X509Certificate(readFileSync(file)).raw }) as PeerCertificate;

  test("is most specific first, the reverse of the encoded order, as openssl's RFC 2253 output", () => {
    const file = certificateFor("/C=US/O=Acme/OU=eng/CN=alice");
    assert.equal(distinguishedName(peer(file)), "CN=alice,OU=eng,O=Acme,C=US");
    const openssl = execFileSync(
      "openssl",
      ["x509", "-in", file, "-noout", "-subject", "-nameopt", "RFC2253"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(openssl.trim(), "subject=CN=alice,OU=eng,O=Acme,C=US");
    assert.equal(new X509Certificate(readFileSync(file)).subject, "C=US\nO=Acme\nOU=eng\nCN=alice");
  });

  // Expected values are Java 17's X500Principal.getName() for the same certificates.
  test("matches Java's escaping, keywords, hex values and multi-valued RDNs", () => {
    const cases: [string[], string][] = [
      [
        [
          '/C=US/ST=CA/L=San Francisco/O=Acme, Inc./OU=eng+UID=u1/CN=alice "a" <x>;#y=z\\+w/emailAddress=alice@example.com',
        ],
        "1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e636f6d," +
          'CN=alice \\"a\\" \\<x\\>\\;\\#y\\=z\\+w,OU=eng+UID=u1,O=Acme\\, Inc.,L=San Francisco,ST=CA,C=US',
      ],
      [
        ["/DC=com/DC=example/O=Zürich ÄG/CN= lead and trail /serialNumber=1234/street=Main St", "-utf8"],
        "STREET=Main St,2.5.4.5=#130431323334,CN=\\ lead and trail\\ ,O=Zürich ÄG,DC=example,DC=com",
      ],
      [["/CN=#hash/O=   "], "O=\\ \\ \\ ,CN=\\#hash"],
      [["/C=US/O=Acme/CN=bob+OU=ops+L=here"], "CN=bob+OU=ops+L=here,O=Acme,C=US"],
    ];
    for (const [[subject, ...extra], expected] of cases) {
      assert.equal(distinguishedName(peer(certificateFor(subject, ...extra))), expected, subject);
    }
  });

  test("works on the certificate a TLS client presents", async () => {
    const serverCert = certificateFor("/CN=localhost");
    const clientCert = certificateFor("/C=US/O=Acme/OU=ServiceUsers/CN=Duke");
    const received = new Promise<string>((resolve, reject) => {
      const server = createServer(
        {
          key: readFileSync(keyFile),
          cert: readFileSync(serverCert),
          ca: readFileSync(clientCert),
          requestCert: true,
        },
        (socket) => {
          try {
            resolve(distinguishedName(socket.getPeerCertificate()));
          } catch (error) {
            reject(error);
          }
          socket.end();
          server.close();
        },
      );
      server.listen(0, "127.0.0.1", () => {
        const client = connect({
          port: (server.address() as AddressInfo).port,
          host: "127.0.0.1",
          key: readFileSync(keyFile),
          cert: readFileSync(clientCert),
          rejectUnauthorized: false,
        });
        client.on("error", () => {});
        client.resume();
      });
    });
    const name = await received;
    assert.equal(name, "CN=Duke,OU=ServiceUsers,O=Acme,C=US");
    assert.equal(PrincipalMapper.parse("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT").map(name), "duke");
  });

  test("a peer without a certificate is an error", () => {
    assert.throws(() => distinguishedName({} as PeerCertificate), /no certificate/);
  });
});
