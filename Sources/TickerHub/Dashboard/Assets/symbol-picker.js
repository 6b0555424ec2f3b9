// The watchlist's symbol search: matches from the hub's /v1/symbols as you type (prefix matches
// first), arrow keys and Enter to pick, or a pasted list ("AAPL, MSFT") to add several at once.
import { $ } from "./dom.js";

export class SymbolPicker {
  // `page`: the watchlist (its symbols, its rows, and `add`).
  constructor(page) {
    this.page = page;
    this.matches = [];
    this.active = 0;
    $("search").addEventListener("input", () => this.update());
    $("search").addEventListener("keydown", event => this.onKey(event));
  }

  update() {
    const query = $("search").value.trim().toUpperCase();
    const candidates = this.page.allSymbols.filter(s => !this.page.rows.has(s));
    this.matches = !query ? [] : [
      ...candidates.filter(s => s.startsWith(query)),
      ...candidates.filter(s => !s.startsWith(query) && s.includes(query)),
    ].slice(0, 12);
    this.active = 0;
    this.show();
  }

  show() {
    const list = $("suggestions");
    list.replaceChildren(...this.matches.map((symbol, i) => {
      const li = document.createElement("li");
      li.textContent = symbol;
      li.className = i === this.active ? "active" : "";
      li.onmousedown = event => { event.preventDefault(); this.choose([symbol]); };
      return li;
    }));
  }

  // Enter adds the highlighted match; a typed list ("AAPL, MSFT") adds each symbol this hub knows.
  choose(symbols) {
    const unknown = symbols.filter(s => !this.page.known.has(s));
    this.page.add(symbols.filter(s => this.page.known.has(s)));
    $("notice").textContent = unknown.length ? `not published by this hub: ${unknown.join(", ")}` : "";
    $("search").value = "";
    this.update();
  }

  onKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!this.matches.length) return;
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : this.matches.length - 1)) % this.matches.length;
      this.show();
    } else if (event.key === "Enter") {
      const typed = $("search").value.split(/[\s,]+/).map(s => s.trim().toUpperCase()).filter(Boolean);
      const exact = typed.length > 1 || (typed.length === 1 && this.page.known.has(typed[0]));
      this.choose(this.matches.length && (this.active > 0 || !exact) ? [this.matches[this.active]] : typed);
    } else if (event.key === "Escape") {
      $("search").value = ""; this.update();
    }
  }
}
