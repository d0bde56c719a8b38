// The browser half of TestDomInBrowser: it exercises dom.js with hostile
// strings and leaves its findings in window.domTest for the Go test.
import { el, text, frag, replace, escapeHTML, safeURL } from "./dom.js";

const failures = [];
const check = (what, ok) => { if (!ok) failures.push(what); };
window.pwned = 0;
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));

const hostile = [
  `<img src=x onerror="window.pwned++">`,
  `"><script>window.pwned++</script>`,
  `<svg onload="window.pwned++">`,
  `' onmouseover='window.pwned++`,
  "javascript:window.pwned++",
];

const box = document.getElementById("box");
for (const h of hostile) {
  const li = el("li", { class: "row", title: h, dataset: { name: h } }, h, " · ", el("b", {}, h));
  box.append(li);
  check(`text of ${h}`, li.textContent === `${h} · ${h}`);
  check(`no child elements but <b> for ${h}`, li.querySelectorAll("*").length === 1);
  check(`title of ${h}`, li.getAttribute("title") === h);
  check(`dataset of ${h}`, li.dataset.name === h);
}

// escapeHTML: what a library parses as HTML comes back as the same text.
for (const h of hostile) {
  const probe = document.createElement("div");
  probe.innerHTML = `<span title="${escapeHTML(h)}">${escapeHTML(h)}</span>`;
  box.append(probe);
  check(`escapeHTML round trip of ${h}`, probe.textContent === h && probe.querySelectorAll("*").length === 1);
  check(`escapeHTML attribute of ${h}`, probe.firstChild.getAttribute("title") === h);
}
check("escapeHTML of null", escapeHTML(null) === "" && escapeHTML(undefined) === "" && escapeHTML(0) === "0");

// URLs: only http(s), mailto, tel and relative ones survive.
const bad = ["javascript:window.pwned++", " JavaScript:window.pwned++", "java\tscript:window.pwned++", "\u0001javascript:x", "data:text/html,<script>window.pwned++</script>", "vbscript:x"];
for (const u of bad) {
  check(`safeURL(${JSON.stringify(u)})`, safeURL(u) === "#");
  const a = el("a", { href: u }, "link");
  box.append(a);
  check(`href of ${JSON.stringify(u)}`, a.getAttribute("href") === "#");
  a.click(); // a javascript: href would run here
}
for (const u of ["https://tiles.example/a?b=1", "http://x", "/api/v1/labels", "labels.html?event=e1", "#top", "mailto:a@b", "tel:123", ""]) {
  check(`safeURL keeps ${u}`, safeURL(u) === u);
}
const img = el("img", { src: "javascript:window.pwned++", alt: "x" });
check("img src", img.getAttribute("src") === "#");

// Event handlers: functions only.
let clicked = 0;
const btn = el("button", { type: "button", onclick: () => clicked++ }, "go");
box.append(btn);
btn.click();
check("onclick function runs", clicked === 1);
let threw = false;
try { el("button", { onclick: "window.pwned++" }); } catch (e) { threw = e instanceof TypeError; }
check("string onclick refused", threw);
threw = false;
try { el("div", { style: "background:url(javascript:x)" }); } catch (e) { threw = e instanceof TypeError; }
check("style string refused", threw);
threw = false;
try { el("iframe", { srcdoc: "<script>window.pwned++</script>" }); } catch (e) { threw = e instanceof TypeError; }
check("srcdoc refused", threw);

// Children: arrays flattened, null/false skipped, numbers as text; booleans as presence.
const nested = el("p", { hidden: false, "aria-live": "polite", disabled: true }, ["a", ["b", null, false, 0]], undefined, text("c"));
check("nested children", nested.textContent === "ab0c" && !nested.hidden && nested.hasAttribute("disabled"));
check("frag", frag("x", el("i", {}, "y")).textContent === "xy");
const r = replace(el("div", {}, el("b", {}, "old")), hostile[0], "!");
check("replace", r.textContent === hostile[0] + "!" && r.children.length === 0);
check("text(null)", text(null).data === "");

// Give any handler that slipped through a chance to run, then report.
setTimeout(() => {
  check("no hostile string ran", window.pwned === 0);
  window.domTest = { done: true, failures, pwned: window.pwned, csp: window.cspViolations };
}, 300);
