// The watchlist's access token, when the hub runs with auth on: given in the page's URL fragment
// (`/#token=<jwt>`), which the browser never sends to any server, so it stays out of access logs
// and Referer headers. It is kept in sessionStorage (this tab only) and taken out of the address
// bar. Opening the page again with a new fragment replaces it; `onChange` hears about that, so a
// live connection can send `{"op":"auth"}` instead of reconnecting. The WebSocket itself gets the
// token from the JavaScript client (`tokenProvider`), which puts it in the query.
const STORAGE_KEY = "tickerhub.token";

export const accessToken = {
  value: null,

  load() {
    const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromFragment) {
      this.value = fromFragment;
      sessionStorage.setItem(STORAGE_KEY, fromFragment);
      history.replaceState(null, "", location.pathname + location.search);
    } else {
      this.value = sessionStorage.getItem(STORAGE_KEY);
    }
    return this.value;
  },

  onChange(handler) {
    window.addEventListener("hashchange", () => {
      const before = this.value;
      if (this.load() && this.value !== before) handler(this.value);
    });
  },

  // Options for fetch() of the market-data routes.
  fetchOptions() {
    const options = { cache: "no-store" };
    if (this.value) options.headers = { Authorization: `Bearer ${this.value}` };
    return options;
  },
};
