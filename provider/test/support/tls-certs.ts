/**
 * Throwaway certificates for TLS tests, made with the `openssl` command in a temp dir: a CA, a
 * server certificate it signs (CN and SAN 127.0.0.1, SAN localhost), a second server certificate
 * that names localhost only (not 127.0.0.1), a client certificate it signs, and a second CA that
 * signed nothing here (the "wrong CA").
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** File paths, as the mysql client's --ssl-* options and the server's ssl_* options take them. */
export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Signed by ca, but naming only localhost: VERIFY_IDENTITY to 127.0.0.1 must refuse it. */
  localhostCert: string;
  localhostKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  /** The client certificate's subject, for CREATE USER ... REQUIRE SUBJECT. */
  clientSubject: string;
}

const VALID_DAYS = "2";
const CLIENT_CN = "mysql-dr-test-client";

export function makeTestCertificates(): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-certs-"));
  const file = (name: string) => path.join(dir, name);
  makeCa(file("ca"), "mysql-dr test CA");
  makeCa(file("other-ca"), "mysql-dr unrelated CA");
  signed(file("server"), file("ca"), "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  signed(file("localhost"), file("ca"), "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n");
  signed(file("client"), file("ca"), CLIENT_CN, "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    ca: file("ca.pem"),
    serverCert: file("server.pem"),
    serverKey: file("server.key"),
    localhostCert: file("localhost.pem"),
    localhostKey: file("localhost.key"),
    clientCert: file("client.pem"),
    clientKey: file("client.key"),
    otherCa: file("other-ca.pem"),
    clientSubject: `/CN=${CLIENT_CN}`,
  };
}

function makeCa(base: string, cn: string): void {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.pem`, "-days", VALID_DAYS, "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

function signed(base: string, ca: string, cn: string, extensions: string): void {
  fs.writeFileSync(`${base}.ext`, extensions);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`]);
  openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-set_serial", String(Date.now()), "-days", VALID_DAYS, "-out", `${base}.pem`, "-extfile", `${base}.ext`]);
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}
