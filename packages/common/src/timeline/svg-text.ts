// Text and attribute values inside SVG: everything a name from an inventory may contain.

/** `s` safe inside SVG text and inside a double-quoted attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** A coordinate with at most one decimal: small files, no visible difference. */
export const px = (n: number): string => String(Math.round(n * 10) / 10);

/** Seconds as "2.50 h" (or "35 min" under an hour). */
export function duration(s: number): string {
  return s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(2)} h`;
}
