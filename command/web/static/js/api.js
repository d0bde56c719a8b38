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
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
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
    throw new ApiError(resp.status, e.code, e.message || `${method} ${path}: HTTP ${resp.status}`);
  }
  return data;
}

/** The logged-in user ({name, display_name, role}); ApiError 401 when logged out. */
export const me = () => call("GET", "/api/v1/me");
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
