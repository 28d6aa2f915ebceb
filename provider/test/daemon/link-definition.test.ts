/**
 * How a link request names its servers: a URL or a connection object (the form that carries
 * certificates as PEM text), checked strictly; what describeLink shows of them. Pure: no server.
 */
import * as assert from "node:assert/strict";
import { DrError } from "../../src/core/errors";
import { describeLink, parseLinkRequest, parseServerRequest } from "../../src/daemon/link-definition";

const CA = "-----BEGIN CERTIFICATE-----\nMIIca\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIsecretkey\n-----END PRIVATE KEY-----\n";
const PASSWORD = "pw:s3cret";

function refused(value: unknown): string {
  try {
    parseServerRequest(value, "source");
  } catch (err) {
    assert.ok(err instanceof DrError && err.code === "BAD_INPUT", String(err));
    assert.ok(!err.message.includes(PASSWORD) && !err.message.includes("MIIsecretkey"), err.message);
    return err.message;
  }
  assert.fail(`${JSON.stringify(value)} was accepted`);
}

describe("link-definition: servers in a link request", () => {
  it("accepts a URL, as before", () => {
    assert.deepEqual(parseServerRequest("mysql://u:pw@h:3307", "source"), { host: "h", port: 3307, user: "u", password: "pw" });
  });

  it("accepts a connection object with PEM certificates, defaulting port and password", () => {
    const address = parseServerRequest({ host: "db", user: "repl", tls: { ca: CA, cert: CA, key: KEY } }, "source");
    assert.deepEqual(address, { host: "db", port: 3306, user: "repl", password: "", tls: { mode: "VERIFY_CA", ca: CA, cert: CA, key: KEY } });
  });

  it("refuses an unknown field, so a misspelt tls never means no TLS", () => {
    assert.equal(refused({ host: "h", user: "u", password: PASSWORD, tsl: {} }), 'The source connection has the unknown field "tsl"; the accepted ones are host, port, user, password, tls.');
    assert.match(refused({ host: "h", user: "u", tls: { mode: "REQUIRED", verify: true } }), /tls has the unknown field "verify"/);
  });

  it("refuses a missing host or user, a bad port, a non-string password", () => {
    assert.match(refused({ user: "u" }), /has no host/);
    assert.match(refused({ host: "h" }), /has no user/);
    assert.match(refused({ host: "h", user: "u", port: 0 }), /port 0/);
    assert.match(refused({ host: "h", user: "u", password: 5 }), /password must be a string/);
  });

  it("refuses a bad mode, a file path where PEM text belongs, and a non-object", () => {
    assert.match(refused({ host: "h", user: "u", tls: { mode: "ON" } }), /ssl-mode "ON"/);
    assert.match(refused({ host: "h", user: "u", tls: { ca: "/etc/ssl/ca.pem" } }), /is not a PEM certificate; give the PEM text/);
    assert.match(refused(["h"]), /must be a URL or an object/);
    assert.match(refused(undefined), /The source is missing/);
  });

  it("describeLink shows neither the password nor the key", () => {
    const def = parseLinkRequest({ name: "l", source: { host: "m", user: "repl", password: PASSWORD, tls: { mode: "VERIFY_IDENTITY", ca: CA, cert: CA, key: KEY } }, target: "mysql://u@dr:1" });
    const shown = JSON.stringify(describeLink(def));
    assert.ok(!shown.includes(PASSWORD) && !shown.includes("PRIVATE KEY"), shown);
    assert.equal(describeLink(def).source, "mysql://repl:***@m:3306?ssl-mode=VERIFY_IDENTITY&ssl-ca=***&ssl-cert=***&ssl-key=***");
  });
});
