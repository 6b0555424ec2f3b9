// The trade tape of the detail panel: the newest trades first, each with its time, price and size,
// green when it traded above the trade before it and red when below. Trades are queued as they
// arrive and written once per frame (a burst of 200 trades costs one frame, not 200 layouts).
import { parsePrice, formatPrice } from "./prices.js";

export class TradeTape {
  constructor(list, length) {
    this.list = list;
    this.length = length;
    this.queued = [];
    this.previous = null;      // the last trade's price, to colour the next
    this.seen = 0;
    list.replaceChildren();
  }

  add(trade) {
    const price = parsePrice(trade.price);
    const direction = !this.previous || !price ? "" : price.units > this.previous.units ? "up" : price.units < this.previous.units ? "down" : "";
    this.previous = price;
    this.queued.push({ ts: trade.ts, price, size: trade.size, direction });
    if (this.queued.length > this.length) this.queued.shift();
    this.seen++;
  }

  get dirty() { return this.queued.length > 0; }

  render(decimals) {
    const fragment = document.createDocumentFragment();
    for (let i = this.queued.length - 1; i >= 0; i--) {
      const { ts, price, size, direction } = this.queued[i];
      const li = document.createElement("li");
      li.className = direction;
      const time = new Date(ts / 1e6);
      const cells = [time.toISOString().slice(11, 23), formatPrice(price, decimals), String(size)];
      for (const text of cells) { const span = document.createElement("span"); span.textContent = text; li.appendChild(span); }
      fragment.appendChild(li);
    }
    this.queued = [];
    this.list.prepend(fragment);
    while (this.list.childElementCount > this.length) this.list.lastElementChild.remove();
    this.list.dataset.trades = String(this.seen);
  }
}
