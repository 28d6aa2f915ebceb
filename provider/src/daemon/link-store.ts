/**
 * Link definitions on disk: one JSON file in the state directory, replaced atomically and
 * readable by the owner only (it holds the servers' passwords).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";
import { STATE_FILES } from "../core/state-dir";
import { type LinkDefinition, withDefaults } from "./link-definition";

const FORMAT_VERSION = 1;

export class LinkStore {
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, STATE_FILES.links);
  }

  load(): LinkDefinition[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const doc = JSON.parse(text) as { version: number; links: LinkDefinition[] };
    if (doc.version !== FORMAT_VERSION) throw new Error(`${this.file} has format version ${doc.version}; this daemon reads version ${FORMAT_VERSION}`);
    return doc.links.map(withDefaults);
  }

  save(links: LinkDefinition[]): void {
    writeFileAtomic.sync(this.file, JSON.stringify({ version: FORMAT_VERSION, links }, null, 2) + "\n", { mode: 0o600 });
  }
}
