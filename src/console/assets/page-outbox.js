// The outbox: marketplace calls made after an answer (license uploads, order queries), their
// attempts and last error, and a retry for a failed one.

import { api, canWrite } from "./api.js";
import { confirmChange } from "./dialog.js";
import { fill, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { badge, label, orDash, when } from "./format.js";
import { dataTable } from "./widgets.js";

const STATES = ["pending", "failed", "done"];

export async function render(main, ctx) {
  const { params, isCurrent } = ctx;
  const state = STATES.includes(params.get("state")) ? params.get("state") : "";
  const data = await api.get("/v1/outbox", { state, after: params.get("after"), limit: 100 });
  if (!isCurrent()) return;
  const retry = async (job) => {
    const ok = await confirmChange({ title: t("Retry"), message: t("Job {id} is tried again at once.", { id: job.id }), confirm: t("Retry") });
    if (!ok) return;
    try {
      await api.post(`/v1/outbox/${job.id}/retry`);
      toast(t("Retry scheduled."), "success");
    } catch (e) {
      toast(e.message, "error");
    }
    render(main, ctx);
  };
  const tabs = h(
    "div",
    { class: "tabs" },
    ["", ...STATES].map((value) => h("a", { href: value ? `#/outbox?state=${value}` : "#/outbox", class: value === state ? "tab active" : "tab" }, value ? label(value) : t("All"))),
  );
  const next = new URLSearchParams(params);
  if (data.next_after) next.set("after", data.next_after);
  fill(
    main,
    h("h1", {}, t("Outbox")),
    tabs,
    dataTable(
      "outbox-table",
      [t("Job"), t("Kind"), t("State"), t("Attempts"), t("Next attempt"), t("Last error"), t("Created"), ""],
      data.jobs.map((job) =>
        h(
          "tr",
          {},
          h("td", { class: "mono" }, job.id),
          h("td", {}, label(job.kind?.type), h("div", { class: "sub mono" }, job.key)),
          h("td", {}, badge(job.state)),
          h("td", {}, job.attempts),
          h("td", { class: "nowrap" }, job.state === "pending" ? when(job.next_attempt_at) : "—"),
          h("td", { class: "detail" }, orDash(job.last_error)),
          h("td", { class: "nowrap" }, when(job.created_at)),
          h("td", {}, canWrite() && job.state !== "done" ? h("button", { type: "button", class: "button button-small", "data-retry": job.id, on: { click: () => retry(job) } }, t("Retry")) : null),
        ),
      ),
      t("The outbox is empty."),
    ),
    data.next_after ? h("div", { class: "pager" }, h("a", { class: "button button-quiet", href: `#/outbox?${next}` }, t("Next"))) : null,
  );
}
