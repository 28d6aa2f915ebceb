/** Rows of a SELECT handed out as they arrive, for the copy's writers (table-stream.ts, load-data.ts). */
import type { FieldPacket } from "mysql2";
import type { Connection } from "../core/db";

/**
 * Runs a SELECT on `source` and hands each row (an array) to `onRow` as it arrives, keeping no
 * result set; while the promise `onRow` may return is pending, the read pauses. Resolves once
 * the result has ended and the last promise settled; fails with the first error. With `raw`,
 * every value is its field's bytes as sent (or null), undecoded; `onFields` receives the
 * result's column metadata before the first row.
 */
export function forEachRow(source: Connection, sql: string, values: unknown[], onRow: (row: unknown[]) => Promise<void> | undefined, options: { raw?: boolean; onFields?: (fields: FieldPacket[]) => void } = {}): Promise<void> {
  const conn = rawConnection(source);
  return new Promise((resolve, reject) => {
    let failed = false;
    let waiting: Promise<void> | undefined;
    let ended = false;
    const fail = (err: unknown) => {
      failed = true;
      reject(err);
    };
    conn
      .query({ sql, values, rowsAsArray: true, ...(options.raw ? { typeCast: false } : {}) })
      .on("result", (row) => {
        if (failed) return;
        try {
          waiting = onRow(row as unknown as unknown[]);
        } catch (err) {
          return fail(err);
        }
        if (!waiting) return;
        conn.pause();
        waiting.then(
          () => {
            waiting = undefined;
            conn.resume();
            if (ended) resolve();
          },
          (err: unknown) => {
            conn.resume();
            fail(err);
          },
        );
      })
      .on("fields", (fields) => options.onFields?.(fields as unknown as FieldPacket[]))
      .on("error", fail)
      .on("end", () => {
        ended = true;
        if (!waiting && !failed) resolve();
      });
  });
}

/** The callback connection under the promise wrapper: only it can hand rows out as they arrive. */
export function rawConnection(conn: Connection): import("mysql2").Connection {
  return (conn as unknown as { connection: import("mysql2").Connection }).connection;
}
