// The merchant JSON API, called with the session cookie; every change carries the session's
// CSRF token. The session (who is signed in, with which scopes) is kept here.

let session = null;

/** An answer other than 2xx, with the API's stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method) && session) headers["X-CSRF-Token"] = session.csrf_token;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    const code = (data && data.code) || "http_" + response.status;
    const message = (data && data.message) || response.statusText;
    if (response.status === 401 && session && path !== "/console/session") {
      session = null;
      window.dispatchEvent(new Event("koolicense:signed-out"));
    }
    throw new ApiError(response.status, code, message);
  }
  return data;
}

export const api = {
  get: (path, query) => call("GET", path + queryString(query)),
  post: (path, body) => call("POST", path, body ?? {}),
  del: (path) => call("DELETE", path),
};

/** `?a=1&b=2` from an object, leaving out empty values. */
export function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? "?" + text : "";
}

/** The signed-in session, or null. */
export function currentSession() {
  return session;
}

/** Whether the session may change things (write scope). */
export function canWrite() {
  return Boolean(session && session.scopes.includes("write"));
}

/** Asks the server whether this browser is signed in (after a reload). */
export async function resumeSession() {
  try {
    session = await call("GET", "/console/session");
  } catch {
    session = null;
  }
  return session;
}

export async function signIn(token) {
  session = await call("POST", "/console/session", { token });
  return session;
}

export async function signOut() {
  try {
    await call("DELETE", "/console/session");
  } finally {
    session = null;
  }
}
