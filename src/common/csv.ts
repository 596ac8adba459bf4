/**
 * CSV as RFC 4180 defines it: fields joined by commas, rows ended by CRLF, a field quoted when it
 * holds a comma, a double quote, CR or LF, with quotes doubled; null is an empty field. Used by
 * the audit report (audit/report-csv.ts) and the bulk jobs' outputs.
 */

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** One field, quoted only when it has to be. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly (string | number | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
