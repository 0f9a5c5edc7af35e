/**
 * CSV as s3tar, S3 Inventory and s3c write and read it: fields separated by commas, quoted when
 * they hold a comma, a quote or a line break, quotes doubled inside. Hand-written: two short
 * functions, and the CSV packages bring streaming and dialects that a manifest does not need.
 */

/** One field, quoted only when it must be. */
export function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

/** One line of fields (without its line break). */
export function csvLine(fields: string[]): string {
  return fields.map(csvField).join(',')
}

/** Parses CSV lines (quoted fields allowed, as S3 Inventory writes them); empty lines are dropped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      if (row.some(f => f !== '')) rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  row.push(field)
  if (row.some(f => f !== '')) rows.push(row)
  return rows
}
