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
