/**
 * The aligned text tables of the CLI's list commands (`keys list`, `hsm keys list`,
 * `kmip keys list`, `credentials list`, `status --fleet`): columns two spaces apart, each
 * as wide as its widest cell. The last column is not padded, so a line ends with its last
 * cell, and a long last cell (an error, a digest) does not widen every other line.
 */

/** A table: the header row first, then one row per item, every row as long as the header. */
export type TextTable = readonly (readonly string[])[];

const GAP = '  ';

/** The table's lines, without line ends. */
export function tableLines(rows: TextTable): string[] {
  const header = rows[0];
  if (header === undefined) return [];
  const last = header.length - 1;
  const widths = header.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows.map((row) => row.map((cell, col) => (col === last ? cell : cell.padEnd(widths[col] ?? 0))).join(GAP));
}

/** The table as text, each line ended by a newline. */
export function formatTable(rows: TextTable): string {
  return tableLines(rows)
    .map((line) => `${line}\n`)
    .join('');
}
