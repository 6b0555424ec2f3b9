// What every page's script shares: one module, imported, so no page keeps its own copy.

/** The element with `id`. */
export const $ = id => document.getElementById(id);
