// dom: the one way Shian's pages put text on the screen. Every string that
// came from a server, a kiosk or a user (zone, stall, team, kiosk, sample and
// event names, alarm messages, tile attributions…) reaches the DOM as a text
// node, never as markup:
//
//   import { el, text, escapeHTML } from "./dom.js";
//   list.append(el("li", { class: "row", dataset: { id: s.id }, onclick: open }, s.name));
//   marker.bindTooltip(el("span", {}, zone.name));        // Leaflet takes a node
//   L.tileLayer(url, { attribution: escapeHTML(cfg.attribution) }); // only where a library insists on HTML
//
// Rules the helpers keep so a caller cannot get them wrong:
//   - children are nodes or text (strings, numbers); arrays are flattened;
//     null, undefined and false are skipped;
//   - on<event> attributes take functions only (addEventListener); a string
//     handler is refused, since it would be script;
//   - URL attributes (href, src, action, formaction, poster, xlink:href) keep
//     only http(s), mailto, tel and relative URLs — a javascript: or data:
//     URL from a name field becomes "#";
//   - srcdoc and style strings are refused (the pages' CSP forbids inline
//     style; set classes, or e.style.prop in code).
//
// Served by internal/jsdom at /js/dom.js to both the command centre's pages
// (command/web) and the kiosk's screen (kiosk/ui): there is one copy.

const URL_ATTRS = new Set(["href", "src", "action", "formaction", "poster", "xlink:href", "cite", "background"]);
const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:", "tel:"]);

/** safeURL returns u when it is relative or http(s)/mailto/tel, else "#". */
export function safeURL(u) {
  const s = String(u ?? "").trim();
  if (s === "") return "";
  // Strip what browsers ignore inside a scheme ("java\tscript:") before looking at it.
  const probe = s.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(probe);
  if (!m) return s; // relative: path, ?query, #fragment, //host is http(s) by the page's scheme
  return SAFE_SCHEMES.has(m[1].toLowerCase() + ":") ? s : "#";
}

/** escapeHTML makes s safe inside HTML text and quoted attribute values. */
export function escapeHTML(s) {
  return String(s ?? "").replace(/[&<>"'`]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" })[c]);
}

/** text makes a text node. */
export function text(s) {
  return document.createTextNode(String(s ?? ""));
}

function appendAll(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : text(c));
  }
  return parent;
}

/**
 * el builds an element:
 *   el("button", {type: "button", class: "chip on", dataset: {id: "x"}, title: name, onclick: f}, "text", child, [more])
 * Attributes: class, dataset (object), text (textContent), on<event>
 * (function), true → present, false/null/undefined → absent, anything else
 * setAttribute with the value as a string (URLs filtered by safeURL).
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    const key = k.toLowerCase();
    if (key.startsWith("on")) {
      if (typeof v !== "function") throw new TypeError(`dom.el: ${k} takes a function, not ${typeof v}`);
      e.addEventListener(key.slice(2), v);
    } else if (k === "class") e.className = v;
    else if (k === "dataset") {
      for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) e.dataset[dk] = String(dv);
    } else if (k === "text") e.textContent = String(v);
    else if (key === "srcdoc" || key === "style") throw new TypeError(`dom.el: ${k} is not allowed (use classes, or e.style in code)`);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, URL_ATTRS.has(key) ? safeURL(v) : String(v));
  }
  return appendAll(e, children);
}

/** frag groups nodes and text without a wrapper element. */
export function frag(...children) {
  return appendAll(document.createDocumentFragment(), children);
}

/** replace empties node and appends children (text or nodes); returns node. */
export function replace(node, ...children) {
  node.replaceChildren();
  return appendAll(node, children);
}
