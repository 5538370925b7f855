// Offline activation for machines that never reach the service: an activation request block
// (pasted or uploaded) becomes the signed response block to carry back, and a deactivation
// proof carried from the machine frees its seat. Write scope only.

import { ApiError, api, canWrite } from "./api.js";
import { download, fill, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { idTail, when } from "./format.js";
import { copyButton } from "./widgets.js";

/** A refusal as the merchant reads it: the API's message and its stable code, as text. */
function refusal(id, error) {
  const code = error instanceof ApiError ? error.code : "network";
  return h(
    "div",
    { class: "alert alert-error", role: "alert", id },
    h("strong", {}, t("Refused")),
    " ",
    h("span", { class: "mono" }, code),
    h("div", { class: "refusal-message" }, error.message),
  );
}

/** A text area for a carried block, with a file picker that loads a file into it. */
function blockInput(id, label) {
  const area = h("textarea", { id, class: "token-text mono", rows: 8, spellcheck: "false", autocomplete: "off", "aria-label": label });
  const picker = h("input", {
    type: "file",
    id: `${id}-file`,
    accept: ".txt,text/plain",
    on: {
      change: async () => {
        const file = picker.files && picker.files[0];
        if (file) area.value = await file.text();
      },
    },
  });
  return { area, field: h("div", { class: "block-input" }, area, h("label", { class: "field file-field" }, h("span", {}, t("Or load a file")), picker)) };
}

function licenseLink(id) {
  return h("a", { href: `#/licenses/${encodeURIComponent(id)}`, class: "license-link" }, idTail(id));
}

function responseBox(answer) {
  const area = h("textarea", { id: "offline-response", class: "token-text mono", rows: 10, readonly: true, "aria-label": t("Activation response") });
  area.value = answer.response;
  return h(
    "div",
    { class: "alert alert-success", id: "offline-answer" },
    h("p", {}, t("Response for license"), " ", licenseLink(answer.license_id), ". ", t("Carry it back to the machine; it is accepted there only.")),
    area,
    h(
      "div",
      { class: "button-row" },
      copyButton(t("Copy response"), answer.response, t("Response copied."), { id: "copy-response" }),
      h("button", { type: "button", class: "button", id: "download-response", on: { click: () => download(`activation-${answer.license_id}.txt`, answer.response) } }, t("Download response")),
    ),
  );
}

function activationCard() {
  const { area, field } = blockInput("offline-request", t("Activation request"));
  const result = h("div", { id: "offline-result" });
  const submit = async (event) => {
    event.preventDefault();
    const request = area.value.trim();
    if (!request) return;
    fill(result, h("p", { class: "loading" }, t("Loading…")));
    try {
      fill(result, responseBox(await api.post("/v1/activate/offline", { request })));
    } catch (error) {
      fill(result, refusal("offline-error", error));
    }
  };
  return h(
    "section",
    { class: "card" },
    h("h2", {}, t("Activation request")),
    h("p", { class: "muted" }, t("Paste the KOOLICENSE ACTIVATION REQUEST block the software wrote, or load its file. It names an authorization code or a license of an online-license order; the activation is the one of the online route: the same machine gets the same license, and the purchase's seats are counted.")),
    h("form", { id: "offline-request-form", on: { submit } }, field, h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary", id: "offline-activate" }, t("Create response")))),
    result,
  );
}

function deactivationCard() {
  const { area, field } = blockInput("offline-proof", t("Deactivation proof"));
  const result = h("div", { id: "offline-freed-result" });
  const submit = async (event) => {
    event.preventDefault();
    const proof = area.value.trim();
    if (!proof) return;
    fill(result, h("p", { class: "loading" }, t("Loading…")));
    try {
      const freed = await api.post("/v1/deactivate/offline", { proof });
      toast(t("Seat freed."), "success");
      fill(
        result,
        h("div", { class: "alert alert-success", id: "offline-freed" }, t("Seat freed"), ": ", licenseLink(freed.license_id), " · ", h("span", { class: "mono" }, freed.pool), " · ", when(freed.deactivated_at)),
      );
    } catch (error) {
      fill(result, refusal("offline-proof-error", error));
    }
  };
  return h(
    "section",
    { class: "card" },
    h("h2", {}, t("Deactivation proof")),
    h("p", { class: "muted" }, t("Paste the deactivation proof the software wrote after deleting its license: the seat goes back to the purchase. Limited like the software's own deactivations.")),
    h("form", { id: "offline-proof-form", on: { submit } }, field, h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-danger", id: "offline-deactivate" }, t("Free the seat")))),
    result,
  );
}

export async function render(main) {
  if (!canWrite()) {
    fill(main, h("h1", {}, t("Offline activation")), h("p", { class: "hint", id: "offline-read-only" }, t("Read-only console: sign in with a write token to activate machines offline.")));
    return;
  }
  fill(
    main,
    h("h1", {}, t("Offline activation")),
    h("p", { class: "lead" }, t("For machines that never reach this service: the software writes a request, you turn it into a response here, and a deactivation proof brought back frees the seat.")),
    h("div", { class: "grid-2" }, activationCard(), deactivationCard()),
  );
}
