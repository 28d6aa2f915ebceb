/**
 * TLS to real servers: sandboxes started with their own CA and certificates (made with openssl),
 * and one without TLS. Each ssl-mode does what the mysql client's does, a client certificate
 * authenticates, a link (binlog stream and applier) replicates through VERIFY_CA to a master whose
 * replication user requires TLS, and the CLI takes its URLs from a file and the environment.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { type ServerAddress, parseServerUrl } from "../../src/core/connection-url";
import { type Connection, openConnection } from "../../src/core/db";
import { DrError } from "../../src/core/errors";
import { CLI, DaemonProcess, sql, tableContents, tempStateDir, waitCaughtUp } from "../support/daemon-process";
import { type TestServer, startExtraSandbox } from "../support/servers";
import { type TestCertificates, makeTestCertificates } from "../support/tls-certs";

const REPL_USER = "tls_repl";
const REPL_PASSWORD = "Tls:s3cret@pw";
const X509_USER = "tls_x509";

describe("tls", () => {
  let certs: TestCertificates;
  let tlsMaster: TestServer;
  let tlsReplica: TestServer;
  let plain: TestServer;

  before(async function () {
    this.timeout(300_000);
    certs = makeTestCertificates();
    // The replica's certificate names localhost but not 127.0.0.1, the address the tests use.
    [tlsMaster, tlsReplica, plain] = await Promise.all([
      startExtraSandbox("tls", "master", { tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey } }),
      startExtraSandbox("tls", "replica", { tls: { ca: certs.ca, cert: certs.localhostCert, key: certs.localhostKey } }),
      startExtraSandbox("tls", "plain"),
    ]);
    // The link's source user can only connect over TLS: the binlog stream must use it too.
    await sql(tlsMaster, `SET SESSION sql_log_bin = 0;
      CREATE USER '${REPL_USER}'@'127.0.0.1' IDENTIFIED BY '${REPL_PASSWORD}' REQUIRE SSL;
      GRANT ALL PRIVILEGES ON *.* TO '${REPL_USER}'@'127.0.0.1';
      CREATE USER '${X509_USER}'@'127.0.0.1' REQUIRE SUBJECT '${certs.clientSubject}';
      GRANT SELECT ON *.* TO '${X509_USER}'@'127.0.0.1'`);
  });
  after(async () => {
    await Promise.all([tlsMaster?.stop(), tlsReplica?.stop(), plain?.stop()]);
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  function url(server: TestServer, params: string, user = "root", password = ""): string {
    return `mysql://${user}${password ? `:${encodeURIComponent(password)}` : ""}@127.0.0.1:${server.port}${params}`;
  }

  async function cipher(address: ServerAddress): Promise<string> {
    const conn = await openConnection(address, "source");
    try {
      return await sessionCipher(conn);
    } finally {
      await conn.end();
    }
  }

  async function refusal(address: ServerAddress): Promise<DrError> {
    try {
      const conn = await openConnection(address, "source");
      await conn.end();
    } catch (err) {
      assert.ok(err instanceof DrError, `expected a DrError, got ${String(err)}`);
      return err;
    }
    assert.fail("the connection was accepted");
  }

  it("VERIFY_CA with the right CA connects, and the session is encrypted", async () => {
    assert.notEqual(await cipher(parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`))), "");
  });

  it("VERIFY_IDENTITY connects to 127.0.0.1, which the certificate's SAN names", async () => {
    assert.notEqual(await cipher(parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_IDENTITY&ssl-ca=${certs.ca}`))), "");
  });

  it("VERIFY_IDENTITY refuses a certificate that names localhost but not the IP address connected to", async () => {
    const err = await refusal(parseServerUrl(url(tlsReplica, `?ssl-mode=VERIFY_IDENTITY&ssl-ca=${certs.ca}`)));
    assert.equal(err.code, "PRECONDITION");
    assert.match(err.message, /TLS handshake .* failed \(.*127\.0\.0\.1.*\)/);
    assert.notEqual(await cipher(parseServerUrl(url(tlsReplica, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`))), "", "VERIFY_CA checks the chain, not the name");
  });

  it("VERIFY_CA with a CA that did not sign the server's certificate is refused in one sentence", async () => {
    const err = await refusal(parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.otherCa}`)));
    assert.equal(err.code, "PRECONDITION");
    assert.match(err.message, /^The TLS handshake with the source server at 127\.0\.0\.1:\d+ failed \(.*certificate.*\); check ssl-ca/);
  });

  it("REQUIRED against a server without TLS is refused", async () => {
    const err = await refusal(parseServerUrl(url(plain, "?ssl-mode=REQUIRED")));
    assert.equal(err.code, "PRECONDITION");
    assert.match(err.message, /does not offer TLS, which ssl-mode REQUIRED requires/);
  });

  it("PREFERRED (the default) uses TLS where offered and connects in plain where not", async () => {
    assert.equal(await cipher(parseServerUrl(url(plain, "?ssl-mode=PREFERRED"))), "");
    assert.equal(await cipher(parseServerUrl(url(plain, ""))), "");
    assert.notEqual(await cipher(parseServerUrl(url(tlsMaster, ""))), "");
  });

  it("REQUIRED encrypts without verifying the certificate", async () => {
    assert.notEqual(await cipher(parseServerUrl(url(tlsMaster, "?ssl-mode=REQUIRED"))), "");
  });

  it("DISABLED connects in plain to a server that offers TLS", async () => {
    assert.equal(await cipher(parseServerUrl(url(tlsMaster, "?ssl-mode=DISABLED"))), "");
  });

  it("a client certificate authenticates a user created with REQUIRE SUBJECT; without it the user is refused", async () => {
    const withCert = parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}&ssl-cert=${certs.clientCert}&ssl-key=${certs.clientKey}`, X509_USER));
    assert.notEqual(await cipher(withCert), "");
    const err = await refusal(parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`, X509_USER)));
    assert.equal(err.code, "ACCESS_DENIED");
  });

  describe("a link through VERIFY_CA", () => {
    let daemon: DaemonProcess;
    let client: DaemonClient;

    before(async () => {
      daemon = await DaemonProcess.start(tempStateDir("tls"));
      client = daemon.client();
    });
    after(async () => {
      await daemon?.stop();
    });

    it("replicates rows over TLS (binlog stream and applier), and shows no password or key", async () => {
      await sql(tlsMaster, "CREATE DATABASE tls_db; CREATE TABLE tls_db.t (id INT PRIMARY KEY, v VARCHAR(20))");
      await sql(tlsReplica, "CREATE DATABASE tls_db; CREATE TABLE tls_db.t (id INT PRIMARY KEY, v VARCHAR(20))");
      // As the CLI sends it: parsed on the client, certificates as PEM text in a connection object.
      const withClientCert = `&ssl-cert=${certs.clientCert}&ssl-key=${certs.clientKey}`;
      const source = parseServerUrl(url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}${withClientCert}`, REPL_USER, REPL_PASSWORD));
      const target = parseServerUrl(url(tlsReplica, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`));
      const created = await client.createLink({ name: "tls", source, target, include: ["tls_db"], initial: "none" });
      await sql(tlsMaster, "INSERT INTO tls_db.t VALUES (1, 'one'), (2, 'two'); UPDATE tls_db.t SET v = 'deux' WHERE id = 2");
      const status = await waitCaughtUp(client, "tls", tlsMaster);
      assert.deepEqual(await tableContents(tlsReplica, "tls_db", "t"), ['{"id":1,"v":"one"}', '{"id":2,"v":"deux"}']);

      const binlogDumps = await sql(tlsMaster, `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = '${REPL_USER}' AND COMMAND LIKE 'Binlog Dump%'`);
      assert.equal(Number(binlogDumps[0].n), 1, "the binlog stream runs as the user that requires TLS");
      const shown = JSON.stringify([created, status, await client.listLinks()]) + daemon.log();
      for (const secret of [REPL_PASSWORD, encodeURIComponent(REPL_PASSWORD), "PRIVATE KEY", fs.readFileSync(certs.clientKey, "utf8").split("\n")[1]]) {
        assert.ok(!shown.includes(secret), `${secret} was shown`);
      }
      await client.deleteLink("tls");
    });
  });

  describe("the CLI's URL sources", () => {
    it("takes the source from --source-file and the target from MYSQL_DR_TARGET_URL, keeping the password off the command line", async () => {
      const urlFile = path.join(certs.dir, "source.url");
      fs.writeFileSync(urlFile, `  ${url(tlsMaster, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`, REPL_USER, REPL_PASSWORD)}\n`, { mode: 0o600 });
      const child = spawn(process.execPath, [CLI, "verify", "--source-file", urlFile, "--include", "tls_db", "--json"], {
        env: { ...process.env, MYSQL_DR_TARGET_URL: url(tlsReplica, `?ssl-mode=VERIFY_CA&ssl-ca=${certs.ca}`) },
      });
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d));
      child.stderr.on("data", (d: Buffer) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 0, stderr);
      assert.equal((JSON.parse(stdout) as { identical: boolean }).identical, true);
      assert.ok(cmdline.includes("--source-file"));
      assert.ok(!cmdline.includes(REPL_PASSWORD) && !cmdline.includes(encodeURIComponent(REPL_PASSWORD)));
      assert.ok(!stdout.includes(REPL_PASSWORD) && !stderr.includes(REPL_PASSWORD));
    });
  });
});

async function sessionCipher(conn: Connection): Promise<string> {
  const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  return String((rows as { Value: string }[])[0]?.Value ?? "");
}
