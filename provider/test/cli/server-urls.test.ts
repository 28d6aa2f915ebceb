/**
 * Where the CLI takes a server URL from: the flag, else the file, else the environment variable;
 * both flag and file is a usage error, none is one when the server is required. Pure: no server.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { URL_ENV, serverFromOptions } from "../../src/cli/server-urls";

describe("cli: server URL sources", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-urls-"));
  const file = path.join(dir, "source.url");
  const saved = process.env[URL_ENV.source];
  before(() => fs.writeFileSync(file, "\n  mysql://file:pw@from-file:3306 \n"));
  afterEach(() => {
    if (saved === undefined) delete process.env[URL_ENV.source];
    else process.env[URL_ENV.source] = saved;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads the file, trimmed", () => {
    assert.equal(serverFromOptions({ sourceFile: file }, "source", true).host, "from-file");
  });

  it("reads MYSQL_DR_SOURCE_URL when neither flag nor file is given", () => {
    process.env[URL_ENV.source] = "mysql://env@from-env:1";
    assert.equal(serverFromOptions({}, "source", true).host, "from-env");
  });

  it("prefers the flag, then the file, to the environment", () => {
    process.env[URL_ENV.source] = "mysql://env@from-env:1";
    assert.equal(serverFromOptions({ source: "mysql://flag@from-flag:1" }, "source", true).host, "from-flag");
    assert.equal(serverFromOptions({ sourceFile: file }, "source", true).host, "from-file");
  });

  it("refuses the flag and the file together, as a usage error (exit 2)", () => {
    assert.throws(() => serverFromOptions({ source: "mysql://u@h:1", sourceFile: file }, "source", true), (err: Error & { exitCode?: number }) => {
      assert.equal(err.message, "Both --source and --source-file are given; pass only one of them.");
      return err.exitCode === 2;
    });
  });

  it("says every way to give a required server when none is given, and returns nothing for an optional one", () => {
    delete process.env[URL_ENV.source];
    assert.throws(() => serverFromOptions({}, "source", true), /The source server is missing; pass --source-file PATH, set MYSQL_DR_SOURCE_URL, or pass --source URL\./);
    assert.equal(serverFromOptions({}, "source", false), undefined);
  });

  it("says which file cannot be read, and refuses an empty one", () => {
    assert.throws(() => serverFromOptions({ sourceFile: path.join(dir, "missing") }, "source", true), /--source-file .*missing cannot be read \(ENOENT\)/);
    const empty = path.join(dir, "empty");
    fs.writeFileSync(empty, "  \n");
    assert.throws(() => serverFromOptions({ sourceFile: empty }, "source", true), /is empty/);
  });
});
