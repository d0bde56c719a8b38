// people: who a record names, as people know them. Records carry user ids
// (op-01, insp-T-04, jiandu); the page shows the user's display name
// instead, from GET /api/v1/users/names (the users the caller's event
// scope shows: name and role, nothing else), loaded once after login and
// kept for the page's life (load again after a new login).
//
//   import { loadPeople, personName } from "./people.js";
//   await loadPeople();                 // app.js, after ui-config
//   personName("insp-T-04")             // "李监督"
//   personName("system")                // "系统自动"
//   personName("kiosk:K-T-01")          // "快检终端 K-T-01"
//   personName("op-unknown")            // "op-unknown" (not a user the command knows)

import * as api from "./api.js";
import { t, label, getLang } from "./i18n.js";

let people = {};
let loading = null;

/** Loads the names (once; again with fresh). A failure leaves the ids shown. */
export function loadPeople(fresh) {
  if (!loading || fresh) {
    loading = api
      .userNames()
      .then((r) => {
        people = (r && r.users) || {};
      })
      .catch((err) => {
        console.warn("user names unavailable; ids are shown", err);
        loading = null;
      });
  }
  return loading;
}

/** Forgets the names (logout). */
export function forgetPeople() {
  people = {};
  loading = null;
}

/** A user's name for people: the display name, "系统自动" for the engine, a kiosk by its id, else the id. */
export function personName(id) {
  if (!id) return "";
  if (id === "system") return t("actor.system");
  if (id.startsWith("kiosk:")) return `${t("kind.kiosk")} ${id.slice(6)}`;
  const p = people[id];
  return p && p.name ? p.name : id;
}

/** "李监督（监督员）": the name with the role's label, from the record's role or the user's. */
export function personWithRole(id, role) {
  const name = personName(id);
  const r = role || (people[id] && people[id].role);
  if (!r || id === "system" || id.startsWith("kiosk:")) return name;
  return getLang() === "en" ? `${name} (${label(r)})` : `${name}（${label(r)}）`;
}
