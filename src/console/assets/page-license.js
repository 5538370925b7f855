// One license: its claims, binding, every token it has had, its audit timeline, the seats a
// floating license's leases hold now, and the merchant's actions (suspend, reinstate, revoke,
// change expiry, reissue, free the seat), each confirmed first.
// The token can be copied, or downloaded as a license file (the armoured form).

import { api, canWrite } from "./api.js";
import { confirmChange, dialogField } from "./dialog.js";
import { download, fill, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { badge, expiry, idTail, label, orDash, when } from "./format.js";
import { copyButton, dataTable } from "./widgets.js";

/** The armoured file form of a one-line license, as `verify/src/envelope.rs` writes it. */
export function armor(token) {
  const body = token.trim().replace(/^kl1\./, "");
  const lines = body.match(/.{1,64}/g) || [];
  return `-----BEGIN KOOLICENSE LICENSE-----\n${lines.join("\n")}\n-----END KOOLICENSE LICENSE-----\n`;
}

function claims(l) {
  const rows = [
    ["License ID", h("span", { class: "mono" }, l.license_id)],
    ["State", h("span", {}, badge(l.status), l.status_reason ? h("span", { class: "sub inline", id: "status-reason" }, l.status_reason) : null)],
    ["Customer name", h("span", { id: "customer-name" }, orDash(l.customer_name))],
    ["Customer ID", h("span", { class: "mono" }, orDash(l.customer_id))],
    ["Order ID", h("span", { class: "mono" }, orDash(l.order_id))],
    ["Instance ID", h("span", { class: "mono" }, orDash(l.instance_id))],
    ["Product", [l.product_id, l.previous_product_ids?.length ? ` (${t("before")}: ${l.previous_product_ids.join(", ")})` : ""]],
    ["SKU code", orDash(l.sku_code)],
    ["Origin", label(l.origin)],
    ["Trial", l.trial ? t("yes") : t("no")],
    ["Test traffic", l.test ? t("yes") : t("no")],
    ["Charging mode", orDash(l.charging_mode)],
    ["Period", l.period_type ? `${orDash(l.period_number)} × ${l.period_type}` : "—"],
    ["Amount", orDash(l.amount)],
    ["Quantity", orDash(l.quantity)],
    ["Features", l.features?.length ? l.features.join(", ") : "—"],
    ["Valid from", when(l.not_before)],
    ["Expires", h("span", { id: "license-expiry" }, expiry(l.expires_at))],
    ["Created", when(l.created_at)],
    ["Last changed", when(l.updated_at)],
    ["Token signed", `${when(l.issued_at)} · ${t("revision")} ${l.revision} · kid ${l.kid}`],
  ];
  return h("dl", { class: "claims" }, rows.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

function binding(b) {
  if (!b || b.kind === "none") return h("p", {}, t("Floating: not bound to a machine."));
  if (b.kind === "system") return h("dl", { class: "claims" }, h("dt", {}, t("System identifier")), h("dd", { class: "mono" }, b.identifier));
  const names = ["MAC", "Disk", "Board", "CPU"];
  return h(
    "div",
    {},
    h("p", {}, t("Hardware: at least {k} of the components below must match (stored only as salted hashes).", { k: b.min_match })),
    h("dl", { class: "claims" }, names.map((name, i) => [h("dt", {}, t(name)), h("dd", {}, t("{n} hashed", { n: (b.hashes?.[i] || []).length }))])),
  );
}

function tokenBox(license) {
  const area = h("textarea", { class: "token-text mono", readonly: true, rows: 4, id: "current-token", "aria-label": t("Current token") });
  area.value = license.token;
  return h(
    "div",
    {},
    area,
    h(
      "div",
      { class: "button-row" },
      copyButton(t("Copy token"), license.token, t("Token copied."), { id: "copy-token" }),
      h("button", { type: "button", class: "button", id: "download-license", on: { click: () => download(`${license.license_id}.lic`, armor(license.token)) } }, t("Download license file")),
    ),
  );
}

function history(tokens, current) {
  const rows = tokens
    .slice()
    .reverse()
    .map((tk) =>
      h(
        "tr",
        {},
        h("td", {}, tk.revision),
        h("td", {}, badge(tk.revision === current ? "current" : tk.revoked ? "revoked" : "earlier")),
        h("td", { class: "mono ellipsis", title: tk.token }, tk.token.slice(0, 28) + "…"),
        h("td", {}, copyButton(t("Copy"), tk.token, t("Token copied."), { class: "button button-small" })),
      ),
    );
  return dataTable("token-history", [t("Revision"), t("State"), t("Token"), ""], rows, t("No events."), "table compact");
}

function timeline(events) {
  if (!events.length) return h("p", { class: "muted" }, t("No events."));
  return h(
    "ol",
    { class: "timeline", id: "timeline" },
    events
      .slice()
      .reverse()
      .map((e) =>
        h(
          "li",
          {},
          h("div", { class: "timeline-when" }, when(e.at)),
          h("div", { class: "timeline-what" }, h("strong", {}, e.action), " → ", e.outcome, e.test ? h("span", { class: "badge badge-test" }, t("test")) : null),
          h("div", { class: "sub" }, e.actor, e.detail ? ` · ${e.detail}` : ""),
        ),
      ),
  );
}

const reasonField = (required) =>
  dialogField(required ? t("Reason (required)") : t("Reason (optional)"), h("textarea", { name: "reason", rows: 2, maxlength: 500, required }));

function toLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** Origins whose licenses hold one of their purchase's seats (`POST /v1/licenses/{id}/deactivate`). */
const SEAT_ORIGINS = ["authorization_code", "koomarket_online"];

/** The actions, each: label, when it applies, dialog, request. */
function actions(license) {
  const path = `/v1/licenses/${encodeURIComponent(license.license_id)}`;
  const open = !["revoked", "released"].includes(license.status);
  const reason = (v) => (v.reason ? { reason: v.reason } : {});
  return [
    { id: "suspend", label: "Suspend", show: ["active", "frozen"].includes(license.status), message: "The license stops verifying online at once and offline with the next revocation list. It can be reinstated.", fields: () => [reasonField(false)], send: (v) => api.post(`${path}/suspend`, reason(v)) },
    { id: "reinstate", label: "Reinstate", show: license.status === "suspended", message: "The license is in force again.", fields: () => [reasonField(false)], send: (v) => api.post(`${path}/reinstate`, reason(v)) },
    { id: "revoke", label: "Revoke", danger: true, show: open, message: "Revoking is permanent: the license never verifies again.", fields: () => [reasonField(true)], send: (v) => api.post(`${path}/revoke`, reason(v)) },
    {
      id: "expiry",
      label: "Change expiry",
      show: open,
      message: "A new token is signed with the new expiry.",
      fields: () => [dialogField(t("New expiry (empty: perpetual)"), h("input", { type: "datetime-local", name: "expires_at", value: toLocalInput(license.expires_at) })), reasonField(false)],
      send: (v) => api.post(`${path}/expiry`, { expires_at: v.expires_at ? new Date(v.expires_at).toISOString() : null, ...reason(v) }),
    },
    {
      id: "deactivate",
      label: "Free seat",
      danger: true,
      show: open && SEAT_ORIGINS.includes(license.origin) && Boolean(license.instance_id),
      message: "The machine gives its seat back to the purchase: this license is released (listed in the next revocation list) and another machine can activate. Never limited for the merchant, but counted toward the customer's deactivation limit.",
      fields: () => [],
      send: () => api.post(`${path}/deactivate`),
    },
    {
      id: "reissue",
      label: "Reissue",
      show: open,
      message: "A new token with a new binding is signed; every earlier token of this license is revoked.",
      fields: () => [
        dialogField(t("Binding"), h("select", { name: "kind" }, ["system", "hardware", "unbound"].map((k) => h("option", { value: k, selected: license.binding?.kind === k || (k === "unbound" && license.binding?.kind === "none") }, label(k))))),
        dialogField(t("Identifier (system or hardware)"), h("input", { name: "identifier", autocomplete: "off" })),
        reasonField(false),
      ],
      send: (v) => {
        const body = { ...reason(v) };
        if (v.kind === "unbound") body.unbound = true;
        else body[v.kind === "hardware" ? "hardware_identifier" : "system_identifier"] = v.identifier;
        return api.post(`${path}/reissue`, body);
      },
    },
  ].filter((a) => a.show);
}

function actionBar(license, redraw) {
  if (!canWrite()) return h("p", { class: "hint", id: "read-only-note" }, t("Read-only console: sign in with a write token to change licenses."));
  return h(
    "div",
    { class: "button-row actions" },
    actions(license).map((a) =>
      h(
        "button",
        {
          type: "button",
          class: a.danger ? "button button-danger" : "button",
          "data-action": a.id,
          on: {
            click: async () => {
              const values = await confirmChange({ title: t(a.label), message: t(a.message), fields: a.fields(), confirm: t(a.label), danger: a.danger });
              if (!values) return;
              try {
                await a.send(values);
                toast(t("Done: {action}.", { action: t(a.label) }), "success");
              } catch (e) {
                toast(e.message, "error");
              }
              redraw();
            },
          },
        },
        t(a.label),
      ),
    ),
  );
}

/** Who holds a floating license's seats now: machines as digests, never identifiers. */
function seats(held) {
  const rows = held.leases.map((lease) =>
    h(
      "tr",
      { "data-lease": lease.lease_id },
      h("td", {}, idTail(lease.machine_sha256, 16)),
      h("td", {}, when(lease.checked_out_at)),
      h("td", {}, when(lease.renewed_at)),
      h("td", { class: "num" }, String(lease.heartbeats)),
      h("td", {}, when(lease.expires_at)),
      h("td", {}, lease.borrowed ? t("yes") : t("no")),
    ),
  );
  const headers = ["Machine (SHA-256)", "Checked out", "Renewed", "Heartbeats", "Lease expires", "Borrowed"].map((x) => t(x));
  return [
    h("p", { id: "seats-in-use" }, t("{held} of {seats} seats in use.", { held: held.leases.length, seats: held.seats })),
    dataTable("held-leases", headers, rows, t("No machine holds a seat.")),
  ];
}

function section(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

export async function render(main, ctx) {
  const id = ctx.parts[1];
  const data = await api.get(`/v1/licenses/${encodeURIComponent(id)}`);
  if (!ctx.isCurrent()) return;
  const l = data.license;
  const held = l.binding?.kind === "none" ? await api.get(`/v1/licenses/${encodeURIComponent(id)}/leases`) : null;
  if (!ctx.isCurrent()) return;
  fill(document.getElementById("crumb"), h("a", { href: "#/licenses" }, t("Licenses")), " / ", idTail(l.license_id));
  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, l.customer_name || l.order_id || l.license_id),
      h("span", { id: "license-status" }, badge(l.status)),
    ),
    actionBar(l, () => render(main, ctx)),
    h("div", { class: "grid-2" }, section(t("Claims"), claims(l)), h("div", {}, section(t("Binding"), binding(l.binding)), section(t("Current token"), tokenBox(l)), section(t("Token history"), history(data.tokens, l.revision)))),
    held ? section(t("Seats in use"), seats(held)) : null,
    section(t("Audit timeline"), timeline(data.audit)),
  );
}
