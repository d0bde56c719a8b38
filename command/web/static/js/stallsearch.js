// stallsearch: find a stall or kitchen by what people type — its name
// (麻辣), its id (S-012), its category, or the name's pinyin as typed on a
// Latin keyboard: full ("malatang") or initials ("mlt"). The pinyin keys
// come with the site features from the server (properties pinyin and
// initials, internal/pinyin; decision 0034): the page only compares
// strings. Picking a hit opens the site on the map and its detail.

import { t, addStrings, featureName } from "./i18n.js";
import { el } from "./panels.js";

addStrings({
  "search.label": { zh: "找摊位", en: "Find a stall" },
  "search.placeholder": { zh: "名称、拼音或编号", en: "Name, pinyin or id" },
  "search.none": { zh: "没有匹配的摊位", en: "No matching stall" },
});

const MAX_HITS = 8;

/** Whether a site's properties match a query (any case; spaces are ignored for pinyin). */
export function siteMatches(id, p, query) {
  const q = String(query || "").trim().toLowerCase();
  if (!q) return false;
  if (String(id).toLowerCase().includes(q)) return true;
  for (const v of [p.name, p.name_en, p.category]) if (v && String(v).toLowerCase().includes(q)) return true;
  const py = q.replace(/\s+/g, "");
  return /^[a-z0-9]+$/.test(py) && ((p.pinyin || "").includes(py) || (p.initials || "").includes(py));
}

export class StallSearch {
  /**
   * @param {object} o
   * @param {() => Map<string, {feature: object, kind: string}>} o.sites the map's sites
   * @param {(id: string) => void} o.onPick
   */
  constructor(o) {
    this.o = o;
    this.input = el("input", { type: "search", name: "stall-search", class: "stall-search", autocomplete: "off", oninput: () => this.render(), onkeydown: (e) => this.key(e) });
    this.hits = el("ul", { class: "search-hits", role: "listbox" });
    this.caption = el("span", {});
    this.node = el("label", { class: "f-search" }, this.caption, el("span", { class: "search-box" }, this.input, this.hits));
    this.hits.hidden = true;
    this.relabel();
  }

  relabel() {
    this.caption.textContent = t("search.label");
    this.input.placeholder = t("search.placeholder");
    this.input.setAttribute("aria-label", t("search.label"));
    if (!this.hits.hidden) this.render();
  }

  /** The matching sites, stalls before kitchens and banquets, by id. */
  matches(q) {
    const out = [];
    for (const [id, s] of this.o.sites()) {
      if (s.kind === "venue") continue;
      if (siteMatches(id, s.feature.properties || {}, q)) out.push({ id, s });
    }
    out.sort((a, b) => (a.s.kind === "stall" ? 0 : 1) - (b.s.kind === "stall" ? 0 : 1) || a.id.localeCompare(b.id));
    return out;
  }

  render() {
    const q = this.input.value;
    if (!q.trim()) {
      this.hits.hidden = true;
      this.hits.replaceChildren();
      return;
    }
    const found = this.matches(q);
    const rows = found.slice(0, MAX_HITS).map(({ id, s }) => {
      const p = s.feature.properties || {};
      return el(
        "li",
        { role: "option", dataset: { stall: id } },
        el(
          "button",
          { type: "button", class: "hit", onclick: () => this.pick(id) },
          el("b", {}, featureName(p) || id),
          el("small", {}, [id, p.category, s.kind !== "stall" ? t(`kind.${s.kind}`) : ""].filter(Boolean).join(" · ")),
        ),
      );
    });
    this.hits.replaceChildren(...(rows.length ? rows : [el("li", { class: "empty" }, t("search.none"))]));
    this.hits.hidden = false;
  }

  key(e) {
    if (e.key === "Escape") {
      this.input.value = "";
      this.render();
    } else if (e.key === "Enter") {
      e.preventDefault();
      const first = this.matches(this.input.value)[0];
      if (first) this.pick(first.id);
    }
  }

  pick(id) {
    this.hits.hidden = true;
    this.o.onPick(id);
  }
}
