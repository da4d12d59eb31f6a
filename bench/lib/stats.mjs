/** Small statistics and formatting helpers for the bench report. */

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** `median (min–max)` of ratios, two decimals. */
export function ratioText(values) {
  if (values.length === 0 || values.some((x) => !Number.isFinite(x))) return 'n/a';
  const m = median(values).toFixed(2);
  if (values.length === 1) return `${m}×`;
  return `${m}× (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;
}

export function fmt(n, digits = 0) {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A plain-text table (also valid Markdown). */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
