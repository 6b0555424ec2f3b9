// The depth ladder of the detail panel: a book's top levels, asks above (best ask at the bottom of
// them), the spread, then bids (best first), each with its size and a bar for the size resting
// there. Built once with a fixed number of rows; `render` writes only the cells whose text changed,
// so a book updating hundreds of times a second costs a handful of DOM writes per frame.
import { parsePrice, formatPrice, difference } from "./prices.js";

export class DepthLadder {
  constructor(table, levels) {
    this.levels = levels;
    this.table = table;
    table.replaceChildren();
    const row = side => {
      const tr = document.createElement("tr");
      tr.className = side;
      const cells = {};
      for (const name of ["price", "size", "total"]) {
        const td = document.createElement("td");
        td.className = name;
        tr.appendChild(td);
        cells[name] = td;
      }
      table.appendChild(tr);
      return { tr, cells, shown: {} };
    };
    this.asks = Array.from({ length: levels }, () => row("ask"));   // top row: the worst shown ask
    this.spread = row("spread");
    this.bids = Array.from({ length: levels }, () => row("bid"));
  }

  // `book`: the client's BookState (levels as strings); `decimals`: the tick size's.
  render(book, decimals) {
    const asks = book ? book.asks.slice(0, this.levels) : [];
    const bids = book ? book.bids.slice(0, this.levels) : [];
    let largest = 1;
    for (const [, size] of asks.concat(bids)) largest = Math.max(largest, Number(size));
    // Asks: the best ask sits just above the spread row, so the ladder reads down in price.
    this.fill(this.asks, asks.map((level, i) => [level, cumulative(asks, i)]).reverse(), this.levels - asks.length, decimals, largest);
    this.fill(this.bids, bids.map((level, i) => [level, cumulative(bids, i)]), 0, decimals, largest);
    const spread = asks.length && bids.length ? difference(parsePrice(asks[0][0]), parsePrice(bids[0][0])) : null;
    setCell(this.spread, "price", spread ? `spread ${formatPrice(spread, decimals)}` : "");
    // For tests and curious users: the checksums the client verified for the book shown.
    this.table.dataset.seq = String(book ? book.seq : 0);
    this.table.dataset.verified = String(book ? book.verified : 0);
    this.table.dataset.mismatches = String(book ? book.mismatches : 0);
  }

  fill(rows, levels, offset, decimals, largest) {
    rows.forEach((row, i) => {
      const entry = i >= offset ? levels[i - offset] : null;
      const [level, total] = entry || [null, null];
      setCell(row, "price", level ? formatPrice(parsePrice(level[0]), decimals) : "");
      setCell(row, "size", level ? level[1] : "");
      setCell(row, "total", level ? String(total) : "");
      const width = level ? `${Math.round(100 * Number(level[1]) / largest)}%` : "0%";
      if (row.shown.width !== width) { row.shown.width = width; row.tr.style.setProperty("--depth", width); }
    });
  }
}

function cumulative(levels, through) {
  let total = 0;
  for (let i = 0; i <= through; i++) total += Number(levels[i][1]);
  return total;
}

function setCell(row, name, text) {
  if (row.shown[name] !== text) { row.shown[name] = text; row.cells[name].textContent = text; }
}
