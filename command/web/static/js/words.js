// words: the few English words third-party code puts on the page — Leaflet's
// zoom buttons and popup close button ("Zoom in", "Close popup") — said in
// the page's language. localiseLeaflet(container) is called after the map
// is built, after a popup opens and after the language changes.

import { t, addStrings } from "./i18n.js";

addStrings({
  "map.zoomIn": { zh: "放大", en: "Zoom in" },
  "map.zoomOut": { zh: "缩小", en: "Zoom out" },
  "map.closePopup": { zh: "关闭弹窗", en: "Close popup" },
  "actor.system": { zh: "系统自动", en: "System (automatic)" },
});

/** Sets the titles and labels of Leaflet's own controls under container. */
export function localiseLeaflet(container) {
  const set = (sel, key) => {
    for (const e of container.querySelectorAll(sel)) {
      e.title = t(key);
      e.setAttribute("aria-label", t(key));
    }
  };
  set(".leaflet-control-zoom-in", "map.zoomIn");
  set(".leaflet-control-zoom-out", "map.zoomOut");
  for (const e of container.querySelectorAll(".leaflet-popup-close-button")) e.setAttribute("aria-label", t("map.closePopup"));
}
