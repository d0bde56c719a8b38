// labels: the printable page of QR labels (labels.html?zone=Z-A,
// ?site=S-A-01 or ?kind=kitchen). Each label carries the site's QR code
// (GET /api/v1/stalls/{id}/qr.png, holding {base}/s/{id}: the kiosk's
// scanner takes the id from it) with the names in zh-CN and English, the
// id in large type (for a scanner that fails) and the risk grade.

import * as api from "./api.js";
import { t, applyI18n } from "./i18n.js";
import { el } from "./panels.js";

async function main() {
  applyI18n(document);
  document.title = t("labels.title");
  const q = new URLSearchParams(location.search);
  document.querySelector("#print").addEventListener("click", () => window.print());
  let list;
  try {
    await api.me();
    list = await api.labels({ zone: q.get("zone"), kind: q.get("kind") });
  } catch (err) {
    const box = document.querySelector("#error");
    box.textContent = err.status === 401 ? t("labels.login") : t("labels.failed", { msg: err.message });
    box.hidden = false;
    document.body.dataset.state = "error";
    return;
  }
  const site = q.get("site");
  if (site) list = list.filter((l) => l.id === site);
  const zone = list.length && q.get("zone") ? list[0].zone_name : "";
  document.querySelector("#summary").textContent = t("labels.summary", { n: list.length, zone: zone || t("labels.allZones") });
  const sheet = document.querySelector("#sheet");
  sheet.replaceChildren(
    ...list.map((l) =>
      el(
        "div",
        { class: `label${l.scannable ? "" : " bad"}`, dataset: { id: l.id, content: l.content } },
        el("img", { src: l.png + "?scale=10", alt: l.content }),
        el(
          "div",
          { class: "text" },
          el("span", { class: "kind" }, l.kind === "kitchen" ? "供餐点 Kitchen" : "摊位 Stall"),
          el("span", { class: "name" }, l.name),
          l.name_en ? el("span", { class: "en" }, l.name_en) : null,
          el("span", { class: "id" }, l.id),
          el("span", { class: "zone" }, [l.zone_name, l.grade ? "" : null].filter(Boolean).join(" "), l.grade ? el("span", { class: "grade" }, `风险 ${l.grade}`) : null),
          el("span", { class: "scan" }, l.scannable ? "快检扫码 · Scan at the kiosk" : t("labels.unscannable")),
        ),
      ),
    ),
  );
  await Promise.all([...sheet.querySelectorAll("img")].map((img) => (img.complete ? null : new Promise((r) => (img.onload = img.onerror = r)))));
  document.body.dataset.state = "ready";
}

main().catch((err) => {
  console.error(err);
  document.body.dataset.state = "error";
});
