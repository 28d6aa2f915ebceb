/**
 * Connection URLs: parsing with percent-decoding, the BAD_INPUT sentences for malformed ones, and
 * the forms shown to users (formatted and redacted). Pure: no server.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatHostPort, formatServerUrl, parseServerUrl, redactUrl } from "../../src/core/connection-url";
import { DrError } from "../../src/core/errors";

/** A password with every character that means something in a URL. */
const ODD_PASSWORD = "s3cr:t@/%x";
const ODD_URL = `mysql://repl:${encodeURIComponent(ODD_PASSWORD)}@db.example:3307`;

function badInput(url: string, what = "source URL"): DrError {
  try {
    parseServerUrl(url, what);
  } catch (err) {
    assert.ok(err instanceof DrError, `expected a DrError, got ${String(err)}`);
    assert.equal(err.code, "BAD_INPUT");
    return err;
  }
  assert.fail(`${url} was accepted`);
}

describe("connection-url", () => {
  describe("parseServerUrl", () => {
    it("reads user, password, host and port", () => {
      assert.deepEqual(parseServerUrl("mysql://app:pw@db.example:3307"), { host: "db.example", port: 3307, user: "app", password: "pw" });
    });

    it("defaults the port to 3306", () => {
      assert.equal(parseServerUrl("mysql://app:pw@db.example").port, 3306);
    });

    it("allows a user without a password", () => {
      assert.deepEqual(parseServerUrl("mysql://root@127.0.0.1:4000"), { host: "127.0.0.1", port: 4000, user: "root", password: "" });
    });

    it("percent-decodes a password holding : @ / and %", () => {
      assert.equal(parseServerUrl(ODD_URL).password, ODD_PASSWORD);
    });

    it("percent-decodes the user", () => {
      assert.equal(parseServerUrl("mysql://dr%40ops:pw@h:1").user, "dr@ops");
    });

    it("accepts the mariadb:// scheme", () => {
      assert.equal(parseServerUrl("mariadb://u:p@h:3310").port, 3310);
    });

    it("strips the brackets of an IPv6 host", () => {
      assert.equal(parseServerUrl("mysql://u@[::1]:3306").host, "::1");
    });

    it("accepts a trailing slash", () => {
      assert.equal(parseServerUrl("mysql://u:p@h:1/").host, "h");
    });

    it("refuses text that is not a URL, naming which URL and never echoing it", () => {
      const err = badInput(`not a url ${ODD_PASSWORD}`);
      assert.match(err.message, /^The source URL is not a valid URL/);
      assert.ok(!err.message.includes(ODD_PASSWORD));
    });

    it("refuses another scheme", () => {
      assert.match(badInput("http://u:p@h:1").message, /must start with mysql:\/\/ \(got http:\/\/\)/);
    });

    it("refuses a URL without a host", () => {
      assert.match(badInput("mysql:///").message, /has no host/);
    });

    it("refuses a URL without a user", () => {
      assert.match(badInput("mysql://:pw@h:1").message, /has no user/);
    });

    it("refuses a database in the path and points to --include", () => {
      assert.match(badInput("mysql://u:p@h:1/shop").message, /must not name a database \(\/shop\).*--include/);
    });

    it("refuses a malformed percent-encoding without echoing the password", () => {
      const err = badInput("mysql://u:pa%zzss@h:1");
      assert.match(err.message, /malformed percent-encoding/);
      assert.ok(!err.message.includes("pa%zzss"));
    });

    it("refuses a port out of range", () => {
      badInput("mysql://u:p@h:70000");
    });

    it("refuses port 0", () => {
      assert.match(badInput("mysql://u:p@h:0").message, /port/);
    });

    it("names the URL's role given by the caller", () => {
      assert.match(badInput("nonsense", "target URL").message, /^The target URL /);
    });
  });

  describe("TLS parameters", () => {
    /** Stand-ins for PEM files: parsing checks the PEM markers, not the cryptography. */
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-url-"));
    const CA = "-----BEGIN CERTIFICATE-----\nMIIca\n-----END CERTIFICATE-----\n";
    const KEY = "-----BEGIN PRIVATE KEY-----\nMIIkey\n-----END PRIVATE KEY-----\n";
    const caFile = path.join(dir, "ca.pem");
    const keyFile = path.join(dir, "client.key");
    const notPem = path.join(dir, "notes.txt");
    fs.writeFileSync(caFile, CA);
    fs.writeFileSync(keyFile, KEY);
    fs.writeFileSync(notPem, "hello");
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses an unknown parameter, naming it and the accepted ones, never echoing the password", () => {
      const err = badInput(`mysql://u:${encodeURIComponent(ODD_PASSWORD)}@h:1?ssl=true`);
      assert.equal(err.message, 'The source URL has the unknown parameter "ssl"; the accepted ones are ssl-mode, ssl-ca, ssl-cert, ssl-key.');
      assert.ok(!err.message.includes(ODD_PASSWORD));
    });

    it("reads ssl-mode, case-insensitively as the mysql client", () => {
      assert.deepEqual(parseServerUrl("mysql://u@h:1?ssl-mode=required").tls, { mode: "REQUIRED" });
    });

    it("refuses an ssl-mode that does not exist, listing the modes", () => {
      assert.match(badInput("mysql://u@h:1?ssl-mode=ON").message, /ssl-mode "ON"; use one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY\./);
    });

    it("leaves tls out when the URL has no parameter (the default mode applies)", () => {
      assert.equal(parseServerUrl("mysql://u@h:1").tls, undefined);
    });

    it("reads ssl-ca, ssl-cert and ssl-key from their files when the URL is parsed", () => {
      const tls = parseServerUrl(`mysql://u@h:1?ssl-mode=VERIFY_IDENTITY&ssl-ca=${caFile}&ssl-cert=${caFile}&ssl-key=${keyFile}`).tls;
      assert.deepEqual(tls, { mode: "VERIFY_IDENTITY", ca: CA, cert: CA, key: KEY });
    });

    it("takes ssl-ca without ssl-mode as VERIFY_CA, so a CA given is never left unused", () => {
      assert.equal(parseServerUrl(`mysql://u@h:1?ssl-ca=${caFile}`).tls?.mode, "VERIFY_CA");
    });

    it("says which file cannot be read and why", () => {
      assert.equal(badInput("mysql://u@h:1?ssl-ca=/no/such/ca.pem").message, "The source URL's ssl-ca file /no/such/ca.pem cannot be read (ENOENT); give the path of a readable PEM file.");
    });

    it("refuses a file that holds no PEM", () => {
      assert.match(badInput(`mysql://u@h:1?ssl-ca=${notPem}`).message, /ssl-ca is not a PEM certificate/);
    });

    it("refuses a client certificate without its key, and certificates with ssl-mode DISABLED", () => {
      assert.match(badInput(`mysql://u@h:1?ssl-cert=${caFile}`).message, /ssl-cert without ssl-key/);
      assert.match(badInput(`mysql://u@h:1?ssl-mode=DISABLED&ssl-ca=${caFile}`).message, /DISABLED and certificates/);
    });

    it("refuses a parameter given twice", () => {
      assert.match(badInput("mysql://u@h:1?ssl-mode=REQUIRED&ssl-mode=DISABLED").message, /gives ssl-mode twice/);
    });

    it("formatServerUrl keeps the mode, and parses back to the same address", () => {
      const address = parseServerUrl(`${ODD_URL}?ssl-mode=REQUIRED`);
      assert.equal(formatServerUrl(address), `${ODD_URL}?ssl-mode=REQUIRED`);
      assert.deepEqual(parseServerUrl(formatServerUrl(address)), address);
    });

    it("formatServerUrl refuses an address holding certificates: they travel as connection objects", () => {
      const address = parseServerUrl(`mysql://u@h:1?ssl-ca=${caFile}`);
      assert.throws(() => formatServerUrl(address), /holds certificates, which a URL cannot carry/);
    });

    it("redactUrl shows the mode and which certificates were given, never their contents", () => {
      const shown = redactUrl(parseServerUrl(`mysql://u:pw@h:1?ssl-mode=VERIFY_CA&ssl-ca=${caFile}&ssl-cert=${caFile}&ssl-key=${keyFile}`));
      assert.equal(shown, "mysql://u:***@h:1?ssl-mode=VERIFY_CA&ssl-ca=***&ssl-cert=***&ssl-key=***");
    });
  });

  describe("formatServerUrl", () => {
    it("round-trips a password with URL metacharacters", () => {
      const address = parseServerUrl(ODD_URL);
      assert.deepEqual(parseServerUrl(formatServerUrl(address)), address);
    });

    it("omits the colon when there is no password", () => {
      assert.equal(formatServerUrl({ host: "h", port: 1, user: "root", password: "" }), "mysql://root@h:1");
    });
  });

  describe("redactUrl", () => {
    it("replaces the password with *** and keeps user, host and port", () => {
      const shown = redactUrl(parseServerUrl(ODD_URL));
      assert.equal(shown, "mysql://repl:***@db.example:3307");
    });

    it("shows no *** when there is no password", () => {
      assert.equal(redactUrl({ host: "h", port: 1, user: "root", password: "" }), "mysql://root@h:1");
    });
  });

  describe("formatHostPort", () => {
    it("brackets an IPv6 host", () => {
      assert.equal(formatHostPort({ host: "::1", port: 3306 }), "[::1]:3306");
    });

    it("leaves a name or IPv4 host bare", () => {
      assert.equal(formatHostPort({ host: "127.0.0.1", port: 3306 }), "127.0.0.1:3306");
    });
  });
});
