// scan: a keyboard-wedge QR scanner types the code and Enter into whatever
// has focus. This module listens to every key on the page (capture phase)
// and turns "characters + Enter" into a scan:
//
//   - focus outside a text field (the usual case on the kiosk): every
//     Enter after typed characters is a scan, and the Enter does not
//     activate a focused button;
//   - focus in a text field: it is a scan only when it looks like one —
//     a URL, a known stall id typed as a whole, or a fast burst (a scanner
//     types far faster than a person) — and then the burst is taken back
//     out of the field.
//
// A pause of more than GAP ms starts a new burst. Keys of an input method
// (isComposing) are ignored.

const GAP = 500; // ms between keys that ends a burst
const FAST = 35; // ms mean between keys of a scanner burst
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Parse what a scanner typed: a bare stall id ("S-012") or a URL that
 * carries it (?stall=S-012, ?stall_id=, ?site=, ?id=, or the last path
 * segment, e.g. https://cmd.example/s/S-012). Returns {id} or {error}.
 */
export function parseStallCode(raw) {
  const code = String(raw || "").trim();
  if (!code) return { error: "empty" };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(code)) {
    let u;
    try {
      u = new URL(code);
    } catch (e) {
      return { error: "bad_url" };
    }
    for (const k of ["stall", "stall_id", "site", "site_id", "id"]) {
      const v = u.searchParams.get(k);
      if (v && ID.test(v)) return { id: v, url: true };
    }
    const parts = (u.pathname + (u.hash || "").replace(/^#/, "/"))
      .split("/")
      .filter((p) => p !== "");
    const last = parts.length ? decodeURIComponent(parts[parts.length - 1]) : "";
    if (ID.test(last)) return { id: last, url: true };
    return { error: "no_id" };
  }
  if (ID.test(code)) return { id: code };
  return { error: "bad_id" };
}

/**
 * Parse a kit box's barcode: GS1 element strings as a scanner types them,
 * with the lot (AI 10) and the expiry (AI 17, YYMMDD) — in the
 * human-readable form "(01)06912345678905(17)270331(10)GC2611A", or raw
 * ("]d2" / "]C1" prefix optional, FNC1 typed as the GS character or as
 * "|") — or "LOT:GC2611A;EXP:2027-03-31". Returns {lot, expires} (expires
 * YYYY-MM-DD or "") or null when the code is not a lot code.
 */
export function parseLotCode(raw) {
  let code = String(raw || "").trim();
  const date = (yymmdd) => {
    if (!/^\d{6}$/.test(yymmdd)) return "";
    let dd = yymmdd.slice(4, 6);
    const mm = yymmdd.slice(2, 4);
    const yyyy = "20" + yymmdd.slice(0, 2);
    if (dd === "00") dd = String(new Date(Date.UTC(+yyyy, +mm, 0)).getUTCDate()).padStart(2, "0"); // GS1: day 00 = end of month
    const d = new Date(yyyy + "-" + mm + "-" + dd + "T00:00:00Z");
    return isNaN(d) || d.toISOString().slice(0, 10) !== yyyy + "-" + mm + "-" + dd ? "" : yyyy + "-" + mm + "-" + dd;
  };
  const lotOK = (s) => /^[A-Za-z0-9_./-]{1,32}$/.test(s);
  let m = /^LOT:([^;]+)(?:;EXP:(\d{4}-\d{2}-\d{2}))?$/i.exec(code);
  if (m) return lotOK(m[1]) ? { lot: m[1], expires: m[2] || "" } : null;
  if (code.startsWith("(")) {
    const ais = {};
    const re = /\((\d{2,4})\)([^()]*)/g;
    let x;
    let seen = 0;
    while ((x = re.exec(code))) {
      ais[x[1]] = x[2];
      seen += x[0].length;
    }
    if (seen !== code.length || !ais["10"] || !lotOK(ais["10"])) return null;
    return { lot: ais["10"], expires: ais["17"] ? date(ais["17"]) : "" };
  }
  code = code.replace(/^\](d2|C1|Q3)/, "");
  if (!/^(01\d{14}|17\d{6}|10)/.test(code)) return null;
  const out = { lot: "", expires: "" };
  while (code) {
    if (/^01\d{14}/.test(code)) code = code.slice(16);
    else if (/^17\d{6}/.test(code)) {
      out.expires = date(code.slice(2, 8));
      code = code.slice(8);
    } else if (code.startsWith("10")) {
      const end = code.slice(2).search(/[\x1d|]/);
      out.lot = end < 0 ? code.slice(2) : code.slice(2, 2 + end);
      code = end < 0 ? "" : code.slice(3 + end);
    } else return out.lot && lotOK(out.lot) ? out : null; // another AI: stop here
    code = code.replace(/^[\x1d|]/, "");
  }
  return out.lot && lotOK(out.lot) ? out : null;
}

function editable(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA") return true;
  if (el.tagName !== "INPUT") return false;
  return ["text", "search", "url", "tel", "email", "number", "password", ""].includes(el.type);
}

/**
 * Install the global listener. onScan(code, parsed) is called for every
 * scan; isKnown(id) says whether an id is a listed stall.
 */
export function installScanner({ onScan, isKnown }) {
  let buf = "";
  let first = 0;
  let last = 0;
  let field = null;
  let fieldValue = "";
  // A tap, or focus moving, ends a burst: what a person typed in a field
  // just before (a lot number, say) must not run into the scan that
  // follows within GAP ms.
  const reset = () => (buf = "");
  for (const ev of ["pointerdown", "focusin", "focusout"]) document.addEventListener(ev, reset, true);
  document.addEventListener(
    "keydown",
    (e) => {
      if (e.isComposing || e.key === "Process" || e.key === "Unidentified") return;
      const now = performance.now();
      if (now - last > GAP) buf = "";
      last = now;
      if (e.key === "Enter") {
        const code = buf.trim();
        const n = buf.length;
        buf = "";
        if (!code) return;
        const parsed = parseStallCode(code);
        const inField = editable(document.activeElement);
        if (inField) {
          const fast = n >= 4 && (now - first) / n < FAST;
          const whole = fieldValue === "" && document.activeElement.value.trim() === code;
          const looks = parsed.url || fast || (whole && parsed.id && isKnown(parsed.id));
          if (!looks) return; // a person pressing Enter in a field
          // Take the burst back out of the field: it was typed at the
          // caret, usually the end; else restore the value it had.
          const f = document.activeElement;
          if (f.value.endsWith(code)) f.value = f.value.slice(0, f.value.length - code.length).trimEnd();
          else if (f === field) f.value = fieldValue;
          f.dispatchEvent(new Event("input", { bubbles: true }));
        }
        e.preventDefault();
        e.stopPropagation();
        onScan(code, parsed);
        return;
      }
      if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
        if (!buf) {
          // The burst's first character, before it is typed.
          first = now;
          field = editable(document.activeElement) ? document.activeElement : null;
          fieldValue = field ? field.value : "";
        }
        buf += e.key;
      }
    },
    true,
  );
}
