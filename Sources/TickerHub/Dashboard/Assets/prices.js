// Prices arrive as decimal strings, and are added and subtracted as scaled integers, never as
// floats: the same rule the hub follows (FeedModel's Price). Used by the watchlist page.

// "188.2200" -> {units: 1882200, scale: 4}. Exact while units < 2^53 (prices below ~900 billion).
export function parsePrice(text) {
  if (typeof text !== "string") return null;
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  const units = Number(whole + fraction);
  return Number.isSafeInteger(units) ? { units: negative ? -units : units, scale: fraction.length } : null;
}

export function formatUnits(units, scale) {
  const sign = units < 0 ? "-" : "";
  const digits = String(Math.abs(units)).padStart(scale + 1, "0");
  return scale ? `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}` : sign + digits;
}

export function difference(a, b) {  // a - b, in a's scale when both share it
  if (!a || !b || a.scale !== b.scale) return null;
  return { units: a.units - b.units, scale: a.scale };
}
