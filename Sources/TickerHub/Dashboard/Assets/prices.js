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

// The decimals a tick size shows: "0.0100" -> 2, "0.0050" -> 3, "0.25" -> 2, "1" -> 0. Prices are
// shown with them (the instrument's details, docs/PROTOCOL.md "Instruments"); null without details.
export function tickDecimals(tickSize) {
  if (typeof tickSize !== "string") return null;
  const fraction = (tickSize.split(".")[1] || "").replace(/0+$/, "");
  return fraction.length;
}

// A price at a tick size's decimals: the zeros past them dropped, never a digit that is not zero
// (a price off the tick grid keeps every decimal it has, so nothing shown is rounded).
export function formatPrice(price, decimals) {
  if (!price) return "–";
  let { units, scale } = price;
  while (decimals !== null && decimals !== undefined && scale > decimals && units % 10 === 0) { units /= 10; scale--; }
  return formatUnits(units, scale);
}
