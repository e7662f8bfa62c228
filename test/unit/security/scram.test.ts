import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CredentialStore, scramCredentialFor } from "../../../src/security/credentials.ts";
import { SaslClientError, saslClientExchange } from "../../../src/security/sasl/client.ts";
import { scramServerExchange } from "../../../src/security/sasl/scram-server.ts";
import {
  clientKeyOf,
  type ScramMechanism,
  saltedPassword,
  scramDigest,
  scramHmac,
  xorBuffers,
} from "../../../src/security/scram.ts";
import { expectChallenge, expectFailure, runExchange } from "./sasl-helpers.ts";

// RFC 7677 §3.
const RFC7677 = {
  salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

function rfc7677Store() {
  const credential = scramCredentialFor("pencil", "SCRAM-SHA-256", 4096, RFC7677.salt);
  return {
    scramCredential: (user: string, mechanism: ScramMechanism) =>
      user === "user" && mechanism === "SCRAM-SHA-256" ? credential : undefined,
  };
}

const store = CredentialStore.fromConfig({ users: { alice: "alice-secret", "we,ird=name": "odd" } });

describe("SCRAM", () => {
  test("the server reproduces RFC 7677's SCRAM-SHA-256 exchange", async () => {
    const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store(), { serverNonce: RFC7677.serverNonce });
    const serverFirst = expectChallenge(await server.step(Buffer.from(RFC7677.clientFirst)));
    assert.equal(serverFirst.toString(), RFC7677.serverFirst);
    const final = await server.step(Buffer.from(RFC7677.clientFinal));
    assert.deepEqual(final, {
      kind: "success",
      payload: Buffer.from(RFC7677.serverFinal),
      principal: "user",
    });
  });

  test("the client reproduces RFC 7677's SCRAM-SHA-256 exchange", () => {
    const client = saslClientExchange({
      mechanism: "SCRAM-SHA-256",
      username: "user",
      password: "pencil",
      clientNonce: RFC7677.clientNonce,
    });
    assert.equal(client.initial().toString(), RFC7677.clientFirst);
    assert.equal(client.next(Buffer.from(RFC7677.serverFirst))?.toString(), RFC7677.clientFinal);
    assert.equal(client.next(Buffer.from(RFC7677.serverFinal)), undefined);
    client.finish(Buffer.from(RFC7677.serverFinal));
  });

  test("the client rejects a wrong server signature", () => {
    const client = saslClientExchange({
      mechanism: "SCRAM-SHA-256",
      username: "user",
      password: "pencil",
      clientNonce: RFC7677.clientNonce,
    });
    client.initial();
    client.next(Buffer.from(RFC7677.serverFirst));
    const forged = Buffer.from(`v=${Buffer.alloc(32, 7).toString("base64")}`);
    assert.equal(client.next(forged), undefined);
    assert.throws(() => client.finish(forged), SaslClientError);
  });

  test("the client refuses a server nonce that does not extend its own, and too few iterations", () => {
    const start = () => {
      const client = saslClientExchange({
        mechanism: "SCRAM-SHA-256",
        username: "user",
        password: "pencil",
        clientNonce: RFC7677.clientNonce,
      });
      client.initial();
      return client;
    };
    assert.throws(
      () => start().next(Buffer.from("r=otherNonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")),
      /nonce/,
    );
    assert.throws(
      () => start().next(Buffer.from(`r=${RFC7677.clientNonce}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095`)),
      /fewer than 4096/,
    );
    assert.throws(() => start().finish(Buffer.from(RFC7677.serverFinal)), /out of order/);
  });

  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    test(`${mechanism}: client and server authenticate each other`, async () => {
      const step = await runExchange(
        saslClientExchange({ mechanism, username: "alice", password: "alice-secret" }),
        scramServerExchange(mechanism, store),
      );
      assert.equal(step.kind, "success");
      assert.equal(step.kind === "success" && step.principal, "alice");
    });

    test(`${mechanism}: a username with ',' and '=' travels escaped`, async () => {
      const client = saslClientExchange({ mechanism, username: "we,ird=name", password: "odd" });
      assert.match(client.initial().toString(), /^n,,n=we=2Cird=3Dname,r=/);
      const step = await runExchange(
        saslClientExchange({ mechanism, username: "we,ird=name", password: "odd" }),
        scramServerExchange(mechanism, store),
      );
      assert.equal(step.kind === "success" && step.principal, "we,ird=name");
    });

    test(`${mechanism}: a wrong password fails after the proof`, async () => {
      const failure = expectFailure(
        await runExchange(
          saslClientExchange({ mechanism, username: "alice", password: "wrong" }),
          scramServerExchange(mechanism, store),
        ),
      );
      assert.match(failure.reason, /wrong password for user "alice"/);
      assert.equal(
        failure.clientMessage,
        `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
      );
    });

    test(`${mechanism}: an unknown user still gets a server-first and fails like a wrong password`, async () => {
      const client = saslClientExchange({ mechanism, username: "mallory", password: "x" });
      const server = scramServerExchange(mechanism, store);
      const serverFirst = expectChallenge(await server.step(client.initial())).toString();
      assert.match(serverFirst, /^r=[^,]+,s=[A-Za-z0-9+/]+=*,i=4096$/);
      const again = scramServerExchange(mechanism, store);
      const sameUser = saslClientExchange({ mechanism, username: "mallory", password: "x" });
      const saltOf = (message: string) => /s=([^,]+)/.exec(message)![1];
      const secondFirst = expectChallenge(await again.step(sameUser.initial())).toString();
      assert.equal(saltOf(secondFirst), saltOf(serverFirst), "the made-up salt is stable");
      const failure = expectFailure(await server.step(client.next(Buffer.from(serverFirst))!));
      assert.match(failure.reason, /unknown user "mallory"/);
      const wrongPassword = expectFailure(
        await runExchange(
          saslClientExchange({ mechanism, username: "alice", password: "x" }),
          scramServerExchange(mechanism, store),
        ),
      );
      assert.equal(failure.clientMessage, wrongPassword.clientMessage);
    });
  }

  test("an unknown user is offered the iteration count most users have", async () => {
    const fields = (password: string) => {
      const c = scramCredentialFor(password, "SCRAM-SHA-512", 8192);
      return {
        salt: c.salt.toString("base64"),
        iterations: c.iterations,
        stored_key: c.storedKey.toString("base64"),
        server_key: c.serverKey.toString("base64"),
      };
    };
    const stored = CredentialStore.fromConfig({ users: { a: fields("1"), b: fields("2"), c: "plaintext" } });
    const serverFirstFor = async (username: string) => {
      const client = saslClientExchange({ mechanism: "SCRAM-SHA-512", username, password: "x" });
      const server = scramServerExchange("SCRAM-SHA-512", stored);
      return expectChallenge(await server.step(client.initial())).toString();
    };
    assert.match(await serverFirstFor("a"), /,i=8192$/);
    assert.match(await serverFirstFor("nobody"), /,i=8192$/);
    assert.match(await serverFirstFor("c"), /,i=4096$/);
  });

  test("a bad proof fails", async () => {
    const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store(), { serverNonce: RFC7677.serverNonce });
    await server.step(Buffer.from(RFC7677.clientFirst));
    const tampered = RFC7677.clientFinal.replace("p=dHzb", "p=dHzc");
    assert.match(expectFailure(await server.step(Buffer.from(tampered))).reason, /wrong password/);
  });

  test("a channel-binding mismatch fails, and so does a changed nonce", async () => {
    const cases: [string, RegExp][] = [
      [RFC7677.clientFinal.replace("c=biws", "c=eSws"), /channel binding/],
      [RFC7677.clientFinal.replace("r=rOprNGfwEbeRWgbNEkqO%", "r=rOprNGfwEbeRWgbNEkqX%"), /nonce/],
    ];
    for (const [clientFinal, reason] of cases) {
      const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store(), {
        serverNonce: RFC7677.serverNonce,
      });
      expectChallenge(await server.step(Buffer.from(RFC7677.clientFirst)));
      assert.match(expectFailure(await server.step(Buffer.from(clientFinal))).reason, reason);
    }
  });

  test("gs2 flag y and an authzid equal to the user are accepted and bound into c=", async () => {
    const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store(), { serverNonce: RFC7677.serverNonce });
    const header = "y,a=user,";
    const bare = `n=user,r=${RFC7677.clientNonce}`;
    const serverFirst = expectChallenge(await server.step(Buffer.from(header + bare))).toString();
    const credential = scramCredentialFor("pencil", "SCRAM-SHA-256", 4096, RFC7677.salt);
    const withoutProof = `c=${Buffer.from(header).toString("base64")},r=${/r=([^,]+)/.exec(serverFirst)![1]}`;
    const authMessage = `${bare},${serverFirst},${withoutProof}`;
    const clientKey = clientKeyOf(
      "SCRAM-SHA-256",
      saltedPassword("SCRAM-SHA-256", "pencil", RFC7677.salt, 4096),
    );
    assert.deepEqual(scramDigest("SCRAM-SHA-256", clientKey), credential.storedKey);
    const proof = xorBuffers(clientKey, scramHmac("SCRAM-SHA-256", credential.storedKey, authMessage));
    const step = await server.step(Buffer.from(`${withoutProof},p=${proof.toString("base64")}`));
    assert.equal(step.kind, "success");
  });

  test("the client-first refusals: channel binding, another authzid, tokenauth, malformed", async () => {
    const cases: [string, RegExp][] = [
      [`p=tls-unique,,n=user,r=${RFC7677.clientNonce}`, /channel binding/],
      [`n,a=admin,n=user,r=${RFC7677.clientNonce}`, /different authorization id "admin"/],
      [`n,,n=user,r=${RFC7677.clientNonce},tokenauth=true`, /tokenauth=true/],
      [`n,,n=user,r=${RFC7677.clientNonce},tokenauth=TRUE`, /tokenauth=true/],
      [`n,,m=ext,n=user,r=${RFC7677.clientNonce}`, /mandatory extension/],
      [`n,,n=us=er,r=${RFC7677.clientNonce}`, /malformed.*username/],
      ["n,,n=user", /malformed/],
      ["x,,n=user,r=abc", /malformed.*gs2 flag/],
    ];
    for (const [clientFirst, reason] of cases) {
      const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store());
      assert.match(expectFailure(await server.step(Buffer.from(clientFirst))).reason, reason, clientFirst);
    }
  });

  test("a message after the exchange finished fails", async () => {
    const server = scramServerExchange("SCRAM-SHA-256", rfc7677Store(), { serverNonce: RFC7677.serverNonce });
    await server.step(Buffer.from(RFC7677.clientFirst));
    assert.equal((await server.step(Buffer.from(RFC7677.clientFinal))).kind, "success");
    assert.match(
      expectFailure(await server.step(Buffer.from(RFC7677.clientFinal))).reason,
      /after the exchange/,
    );
  });

  test("a stored SCRAM-SHA-512 credential does not serve SCRAM-SHA-256", async () => {
    const credential = scramCredentialFor("pw", "SCRAM-SHA-512", 4096);
    const stored = CredentialStore.fromConfig({
      users: {
        bob: {
          salt: credential.salt.toString("base64"),
          iterations: credential.iterations,
          stored_key: credential.storedKey.toString("base64"),
          server_key: credential.serverKey.toString("base64"),
        },
      },
    });
    const ok = await runExchange(
      saslClientExchange({ mechanism: "SCRAM-SHA-512", username: "bob", password: "pw" }),
      scramServerExchange("SCRAM-SHA-512", stored),
    );
    assert.equal(ok.kind, "success");
    const refused = expectFailure(
      await runExchange(
        saslClientExchange({ mechanism: "SCRAM-SHA-256", username: "bob", password: "pw" }),
        scramServerExchange("SCRAM-SHA-256", stored),
      ),
    );
    assert.match(refused.reason, /no SCRAM-SHA-256 credential/);
  });
});
