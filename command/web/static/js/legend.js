// legend: what the map's symbols mean (图例), a small control at the map's
// bottom left that opens and closes: the fill colour is a site's latest
// verdict, the letter inside its risk grade (A lowest … D highest, with a
// heavier purple ring for C and D), and one symbol per kind of site
// (venue-map.js): stalls (circles), kitchens (squares, 厨), banquets
// (diamonds, 宴), vendor zones, kiosks, teams, incidents and patrol routes.

import { t, addStrings, verdictLabel, label } from "./i18n.js";
import { el } from "./dom.js";
import { VERDICT_COLOURS } from "./venue-map.js";

addStrings({
  "legend.title": { zh: "图例", en: "Legend" },
  "legend.open": { zh: "显示图例", en: "Show the legend" },
  "legend.close": { zh: "收起图例", en: "Hide the legend" },
  "legend.fill": { zh: "填充色：最新结论", en: "Fill: latest verdict" },
  "legend.letter": { zh: "字母：风险等级（A 最低，D 最高；C、D 加粗紫圈）", en: "Letter: risk grade (A lowest, D highest; C and D ringed in purple)" },
  "legend.stall": { zh: "摊位（圆点）", en: "Stall (circle)" },
  "legend.kitchen": { zh: "供餐点（方块“厨”，角标为保障准备完成度）", en: "Kitchen (square K; the badge is its readiness)" },
  "legend.banquet": { zh: "农村集体聚餐（菱形“宴”）", en: "Rural banquet (diamond Bq)" },
  "legend.zone": { zh: "摊贩集中区", en: "Vendor zone" },
  "legend.patrol": { zh: "巡查路线（数字为巡查点顺序）", en: "Patrol route (numbered stops)" },
  "legend.hidden": { zh: "标签放不下时暂不显示，放大地图即可看到", en: "Labels with no room are hidden until you zoom in" },
  "legend.team": { zh: "保障组（绿：待命，橙：处置中）", en: "Team (green: available, orange: busy)" },
  "legend.incident": { zh: "风险处置事件（标签为当前环节）", en: "Incident (the tag is its step)" },
  "legend.kiosk": { zh: "快检终端（蓝：在线，灰：离线）", en: "Test kiosk (blue: online, grey: offline)" },
});

/** Adds the legend control to a Leaflet map; returns a function that relabels it. */
export function addLegend(map) {
  const L = window.L;
  let open = false;
  let box = null;
  const render = () => {
    const verdicts = ["negative", "suspicious", "positive", "invalid"].map((v) =>
      el("li", { dataset: { verdict: v } }, el("i", { class: "swatch", dataset: { colour: VERDICT_COLOURS[v] } }), verdictLabel(v)),
    );
    verdicts.push(el("li", { dataset: { verdict: "none" } }, el("i", { class: "swatch none" }), verdictLabel("")));
    box.replaceChildren(
      ...[el("button", { type: "button", class: "legend-toggle", "aria-expanded": open ? "true" : "false", title: t(open ? "legend.close" : "legend.open"), onclick: () => ((open = !open), render()) }, t("legend.title")),
      open
        ? el(
            "div",
            { class: "legend-body" },
            el("div", { class: "k" }, t("legend.fill")),
            el("ul", { class: "verdicts" }, ...verdicts),
            el("div", { class: "k" }, t("legend.letter")),
            el("ul", { class: "grades" }, ...["A", "B", "C", "D"].map((g) => el("li", { dataset: { grade: g } }, el("i", { class: `grade g-${g}` }, g), label(`grade_${g}`)))),
            el(
              "ul",
              { class: "symbols" },
              el("li", { dataset: { sym: "stall" } }, el("i", { class: "sym stall" }), t("legend.stall")),
              el("li", { dataset: { sym: "kitchen" } }, el("i", { class: "sym kitchen" }, t("map.kitchenGlyph")), t("legend.kitchen")),
              el("li", { dataset: { sym: "banquet" } }, el("i", { class: "sym banquet" }, el("span", {}, t("map.banquetGlyph"))), t("legend.banquet")),
              el("li", { dataset: { sym: "zone" } }, el("i", { class: "sym zone" }), t("legend.zone")),
              el("li", { dataset: { sym: "team" } }, el("i", { class: "sym team" }), t("legend.team")),
              el("li", { dataset: { sym: "incident" } }, el("i", { class: "sym incident" }, label("warned")), t("legend.incident")),
              el("li", { dataset: { sym: "kiosk" } }, el("i", { class: "sym kiosk" }), t("legend.kiosk")),
              el("li", { dataset: { sym: "patrol" } }, el("i", { class: "sym patrol" }, "1"), t("legend.patrol")),
            ),
            el("div", { class: "k" }, t("legend.hidden")),
          )
        : null].filter(Boolean),
    );
    // Swatch colours come from the map's own table (no inline style attribute through el()).
    for (const s of box.querySelectorAll(".swatch[data-colour]")) s.style.background = s.dataset.colour;
  };
  const Legend = L.Control.extend({
    onAdd() {
      box = L.DomUtil.create("div", "leaflet-control map-legend");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      render();
      return box;
    },
  });
  new Legend({ position: "bottomleft" }).addTo(map);
  return render;
}
