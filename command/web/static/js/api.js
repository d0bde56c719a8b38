// api: the few REST calls the map page makes (see command/README.md for
// the route table). The session is an HttpOnly cookie set by the login
// route, so every call is same-origin with credentials and the page never
// sees the token.

/** ApiError carries the HTTP status and the service's error code/message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
  }
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  // A state-changing call always says JSON, even without a body: the
  // service refuses anything else (its CSRF guard, command/api guard.go).
  if (method !== "GET" && method !== "HEAD") init.headers["Content-Type"] = "application/json";
  if (body !== undefined) init.body = JSON.stringify(body);
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network", err.message);
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!resp.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(resp.status, e.code, e.message || `${method} ${path}: HTTP ${resp.status}`);
    err.body = e; // the protocol's details: from, to, allowed, rule, field
    throw err;
  }
  return data;
}

/** The logged-in user ({name, display_name, role}); ApiError 401 when logged out. */
export const me = () => call("GET", "/api/v1/me");
export const userNames = () => call("GET", "/api/v1/users/names");
export const login = (user, password) => call("POST", "/api/v1/login", { user, password });
export const logout = () => call("POST", "/api/v1/logout");
/** GeoJSON FeatureCollection of zones and venues. */
export const zones = () => call("GET", "/api/v1/zones");
/** GeoJSON FeatureCollection of stalls, kitchens and banquet sites with their latest verdict. */
export const stalls = () => call("GET", "/api/v1/stalls");
/** {site, latest, results} for one site. */
export const stall = (id) => call("GET", `/api/v1/stalls/${encodeURIComponent(id)}`);
/** Recent alarms (alerts), newest first. */
export const alarms = (limit = 50) => call("GET", `/api/v1/alarms?limit=${limit}`);

// --- the assurance routes (command/api/assurance.go) and the page's own (ui_support.go) ---

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") s.set(k, v);
  const str = s.toString();
  return str ? `?${str}` : "";
};
const enc = encodeURIComponent;

/** The page's configuration: base map, label URL, incident machine, labels. */
export const uiConfig = () => call("GET", "/api/v1/ui-config");
export const saveUIConfig = (settings) => call("PUT", "/api/v1/ui-config", settings);
/** Recent alarms including the acknowledged ones (history). */
export const alarmHistory = (limit = 200) => call("GET", `/api/v1/alarms?limit=${limit}`);
export const ackAlarm = (seq) => call("POST", `/api/v1/alarms/${enc(seq)}/ack`);
/** Acknowledges many alarms at once: {acked: [alarm], missing: [seq]}. */
export const ackAlarms = (seqs) => call("POST", "/api/v1/alarms/ack", { seqs });
export const incidents = (params) => call("GET", `/api/v1/incidents${q(params)}`);
export const incident = (id) => call("GET", `/api/v1/incidents/${enc(id)}`);
/** One step of an incident: {to, team_id, controls, lab, note, evidence}. */
export const incidentStep = (id, step) => call("POST", `/api/v1/incidents/${enc(id)}/transition`, step);
export const replyComplaint = (id, text) => call("POST", `/api/v1/incidents/${enc(id)}/reply`, { text });
export const waiveRetest = (id, body) => call("POST", `/api/v1/incidents/${enc(id)}/waiver`, body);
export const nearestTeams = (lon, lat, subject) => call("GET", `/api/v1/teams/nearest${q({ lon, lat, subject })}`);
export const teams = () => call("GET", "/api/v1/teams");
export const events = () => call("GET", "/api/v1/events");
export const banquets = () => call("GET", "/api/v1/banquets");
export const kpis = (event) => call("GET", `/api/v1/kpis${q({ event })}`);
export const labels = (params) => call("GET", `/api/v1/labels${q(params)}`);

/**
 * Uploads an evidence file (multipart, field "file", kind photo /
 * lab_report / disposal_record …) for an incident; returns its record
 * with the ref to cite in a step.
 */
export const uploadEvidence = (incidentID, file, kind) => upload(`/api/v1/incidents/${enc(incidentID)}/evidence`, file, kind);

/** Uploads an evidence file for a banquet (a rectification photo); returns its record with the ref. */
export const uploadBanquetEvidence = (banquetID, file, kind) => upload(`/api/v1/banquets/${enc(banquetID)}/evidence`, file, kind);

async function upload(path, file, kind) {
  const form = new FormData();
  form.append("kind", kind || "photo");
  form.append("file", file, file.name || "evidence");
  let resp;
  try {
    resp = await fetch(path, { method: "POST", credentials: "same-origin", body: form });
  } catch (err) {
    throw new ApiError(0, "network", err.message);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(resp.status, e.code, e.message || `upload: HTTP ${resp.status}`);
    err.body = e;
    throw err;
  }
  return data;
}

// --- the protocol screens (issue 14: patrol, menus, banquets) ---

/** A patrol team's plan for a day (YYYY-MM-DD, "" for today). */
export const patrolPlan = (team, date) => call("GET", `/api/v1/patrols/plan${q({ team, date })}`);
/** Patrol visits, newest first (target "" for all). */
export const visits = (target, limit = 200) => call("GET", `/api/v1/patrols/visits${q({ target, limit })}`);
/** Records a patrol visit: {target_id, team_id, findings: [{text, severity}], note, where}. */
export const recordVisit = (body) => call("POST", "/api/v1/patrols/visits", body);
/** Reports a team's position ({lon, lat}, WGS-84). */
export const teamPosition = (team, p) => call("POST", `/api/v1/teams/${enc(team)}/position`, p);
/** A business's (stall's, kitchen's) credit account: score, grade, ledger, grade history. */
export const vendor = (id) => call("GET", `/api/v1/vendors/${enc(id)}`);
/** Every credit account in the user's events, worst grade first. */
export const vendors = () => call("GET", "/api/v1/vendors");
/** Books a credit entry by hand: {reason, ref, note} → the account. */
export const recordCredit = (id, body) => call("POST", `/api/v1/vendors/${enc(id)}/credit`, body);
/** Menus, for one kitchen or banquet (owner) or all. */
export const menus = (owner) => call("GET", `/api/v1/menus${q({ owner })}`);
export const createMenu = (body) => call("POST", "/api/v1/menus", body);
export const setDishes = (id, dishes) => call("PUT", `/api/v1/menus/${enc(id)}/dishes`, { dishes });
export const menuStep = (id, body) => call("POST", `/api/v1/menus/${enc(id)}/transition`, body);
export const decideDish = (id, body) => call("POST", `/api/v1/menus/${enc(id)}/decisions`, body);
/** Banquets, filtered ({state, team, date}). */
export const banquetList = (params) => call("GET", `/api/v1/banquets${q(params)}`);
export const banquet = (id) => call("GET", `/api/v1/banquets/${enc(id)}`);
/** Files a banquet: {filing, note} → {banquet, warnings}. */
export const fileBanquet = (body) => call("POST", "/api/v1/banquets", body);
export const banquetStep = (id, body) => call("POST", `/api/v1/banquets/${enc(id)}/transition`, body);
export const closeRectification = (id, rid, body) => call("POST", `/api/v1/banquets/${enc(id)}/rectifications/${enc(rid)}/close`, body);

// --- events and their readiness (issue 14: the readiness gate) ---

/** Files a major event: {id, filing, note} → the event's view. */
export const fileEvent = (body) => call("POST", "/api/v1/events", body);
/** One phase change: {to, note, summary}; refused (409 not_ready) with the open items. */
export const eventPhase = (id, body) => call("POST", `/api/v1/events/${enc(id)}/phase`, body);
/** {report, kitchens: [KitchenRecord]}: what was recorded for each kitchen. */
export const readiness = (id) => call("GET", `/api/v1/events/${enc(id)}/readiness`);
/** Records one checklist item of a kitchen: {item, ref, at, staff, retention, kiosk_id, instruments, note}. */
export const recordReadiness = (id, kitchen, body) => call("POST", `/api/v1/events/${enc(id)}/kitchens/${enc(kitchen)}/readiness`, body);
/** An event's meals, for one day (YYYY-MM-DD, Beijing time) or all. */
export const meals = (event, date) => call("GET", `/api/v1/meals${q({ event, date })}`);

// --- teams and their load, the village-chef register (issue 14, decision 0031) ---

/** {date, least_loaded, teams: [team + incidents, stops, visits, score, member_names], inspectors?}. */
export const teamLoads = (params) => call("GET", `/api/v1/teams/load${q(params || {})}`);
/** Creates or replaces a team (commanders and admins): the whole team record. */
export const putTeam = (team) => call("POST", "/api/v1/teams", team);
/** Puts a team on or off duty. */
export const teamDuty = (id, on) => call("POST", `/api/v1/teams/${enc(id)}/duty`, { on_duty: on });
/** The village-chef register: [chef + fit_today, why, cert_state, banquets]. */
export const chefs = () => call("GET", "/api/v1/chefs");
/** Files or replaces a register entry (no id: the service numbers it). */
export const putChef = (chef) => call("POST", "/api/v1/chefs", chef);
/** Counts one training session of a chef on date (YYYY-MM-DD, "" for today). */
export const chefTraining = (id, date) => call("POST", `/api/v1/chefs/${enc(id)}/training`, date ? { date } : {});
