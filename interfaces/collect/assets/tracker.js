/*
 * Tinylytics embed script: privacy-first page hits and events.
 *
 * Included as  <script src="BASE/embed/SITE_UID.js?spa&events" defer></script>
 * (or BASE/embed/SITE_UID/min.js, generated from this file). Everything it needs,
 * the server's base URL, the site uid and the parameters, comes from its own src.
 *
 * Parameters: spa, events, beacon, ignore; widget parameters hits, kudos,
 * countries, uptime, webring (read at the WIDGETS HOOK below, which loads the
 * widgets script, assets/widgets.js, only when one of them is present).
 *
 * Transport: POST BASE/collect/SITE_UID, a text/plain JSON body (a CORS simple
 * request: no preflight), no credentials:
 *   hit    {"k":"hit","u":<page URL>,"r":<referrer or null>}
 *   event  {"k":"event","u":<page URL>,"r":<referrer or null>,"e":"category.action","v":<value or null>}
 * "r" is document.referrer for the page load; after a client-side (spa)
 * navigation it is the URL the visitor navigated from, as a page load would have.
 *
 * No cookies. The only storage is the visitor's own opt-out flag,
 * localStorage["tinylytics_ignore"], set with ?tiny_ignore=true (or ?ti=true)
 * on any page and cleared with =false (and, in the widgets script, the uids of
 * the kudos this visitor gave). Nothing here may ever break the page:
 * every entry point is wrapped so that errors are swallowed.
 */
(() => {
  "use strict";
  const w = window;
  const d = document;
  const loc = location;
  const IGNORE_KEY = "tinylytics_ignore";
  const EVENT_ATTR = "data-tinylytics-event";
  const DEBOUNCE_MS = 500;
  const WIDGETS = ["hits", "kudos", "countries", "uptime", "webring", "publicstats"];

  const noop = () => {};
  const safe = (fn) => {
    try {
      fn();
    } catch (e) {
      // never into the page
    }
  };

  // ---- WIDGETS HOOK (1 of 2) -------------------------------------------
  // Called once the page is shown, with the server's base URL, the site uid and
  // every widget parameter present with its value ("" when bare), e.g.
  // {hits: "unique", kudos: "❤️"}. The widgets are a second script (assets/widgets.js)
  // so that pages without them load only this one: BASE/embed/SITE_UID/widgets.js,
  // or /widgets/min.js for min.js. Once loaded it is handed these arguments and
  // `ignored` (kudos are not sent from an ignored visit). Widgets show counts, so
  // they run even when this visit is ignored.
  const mountWidgets = (base, uid, widgets, ignored, min) => {
    const script = d.createElement("script");
    script.src = base + "/embed/" + uid + "/widgets" + min + ".js";
    script.onload = () => safe(() => w.tinylyticsWidgets(base, uid, widgets, ignored));
    d.head.appendChild(script);
  };

  safe(() => {
    // Our own script element: currentScript, or, when that is unavailable, the
    // last embed script on the page (e.g. one inserted by code).
    const me = d.currentScript || [].slice.call(d.querySelectorAll('script[src*="/embed/"]')).pop();
    if (!me) return;
    const src = new URL(me.src, loc.href);
    const found = /^(.*)\/embed\/([^/]+?)(\/min)?\.js$/.exec(src.pathname);
    if (!found) return;
    const base = src.origin + found[1];
    const uid = found[2];
    const params = src.searchParams;
    const on = (name) => params.has(name);

    // One copy per site and page, even when the snippet is included twice.
    const loaded = "__tinylytics_" + uid;
    if (w[loaded]) return;
    w[loaded] = 1;

    const collectUrl = base + "/collect/" + uid;
    let referrer = d.referrer || null;

    const ignored = () => {
      if (on("ignore")) return true;
      try {
        return localStorage.getItem(IGNORE_KEY) === "true";
      } catch (e) {
        return false;
      }
    };

    const send = (kind, extra, beacon) => {
      if (ignored()) return;
      safe(() => {
        const body = JSON.stringify(Object.assign({ k: kind, u: loc.href, r: referrer }, extra));
        if (beacon && navigator.sendBeacon && navigator.sendBeacon(collectUrl, body)) return;
        fetch(collectUrl, { method: "POST", body, keepalive: true, credentials: "omit" }).catch(noop);
      });
    };

    // A page hit, unless the path is the one counted last (the initial load, a
    // replaceState to the same path, a query or hash change).
    let path;
    let here = loc.href;
    const page = () => {
      const from = here;
      here = loc.href;
      if (loc.pathname === path) return;
      if (path !== undefined) referrer = from;
      path = loc.pathname;
      send("hit");
    };

    const optOut = () => {
      const query = new URLSearchParams(loc.search);
      const value = (query.get("tiny_ignore") || query.get("ti") || "").toLowerCase();
      if (value === "true") {
        localStorage.setItem(IGNORE_KEY, "true");
        alert("Tinylytics: your visits to this site are now ignored in this browser.");
      } else if (value === "false") {
        localStorage.removeItem(IGNORE_KEY);
        alert("Tinylytics: your visits to this site are counted again in this browser.");
      }
    };

    const spa = () => {
      ["pushState", "replaceState"].forEach((name) => {
        const original = history[name];
        history[name] = function () {
          const result = original.apply(this, arguments);
          safe(page);
          return result;
        };
      });
      w.addEventListener("popstate", () => safe(page));
    };

    const events = () => {
      const last = new WeakMap();
      d.addEventListener(
        "click",
        (click) =>
          safe(() => {
            const target = click.target;
            const el = target && target.closest && target.closest("[" + EVENT_ATTR + "]");
            if (!el) return;
            const name = el.getAttribute(EVENT_ATTR).trim().replace(/->/g, ".");
            const now = Date.now();
            if (!name || now - (last.get(el) || 0) < DEBOUNCE_MS) return;
            last.set(el, now);
            const value = el.getAttribute(EVENT_ATTR + "-value");
            send("event", { e: name, v: value }, on("beacon"));
          }),
        true
      );
    };

    const start = () => {
      safe(optOut);
      safe(page);
      if (on("spa")) safe(spa);
      if (on("events")) safe(events);

      // ---- WIDGETS HOOK (2 of 2) -----------------------------------------
      // The widget parameters are read here; the widgets script is loaded only
      // when at least one is present.
      const widgets = {};
      WIDGETS.forEach((name) => {
        if (on(name)) widgets[name] = params.get(name);
      });
      if (Object.keys(widgets).length)
        safe(() => mountWidgets(base, uid, widgets, ignored, found[3] || ""));
      // --------------------------------------------------------------------
    };

    // A prerendered (or prefetched) page is not a visit until it is shown.
    if (d.prerendering) {
      d.addEventListener("prerenderingchange", () => safe(start), { once: true });
    } else if (d.visibilityState === "prerender") {
      const shown = () => {
        if (d.visibilityState === "prerender") return;
        d.removeEventListener("visibilitychange", shown);
        safe(start);
      };
      d.addEventListener("visibilitychange", shown);
    } else {
      start();
    }
  });
})();
