/*
 * Tinylytics page widgets: hit counter, kudos, visited countries, uptime, webring.
 *
 * Not included by sites directly: the embed script (tracker.js) loads it from
 * BASE/embed/SITE_UID/widgets.js (or /widgets/min.js, generated from this file,
 * when the embed script itself is min.js) only when a widget parameter is present,
 * and calls window.tinylyticsWidgets(base, uid, widgets, ignored) once it has
 * loaded: `widgets` holds each widget parameter present with its value ("" when
 * bare), e.g. {hits: "unique", kudos: "❤️"}; `ignored()` says whether this visit
 * is ignored (?ignore, or the visitor's tinylytics_ignore flag).
 *
 * A page costs at most ONE data request, GET BASE/widgets/SITE_UID.json, asking
 * only for what the parameters and the page's elements need:
 *   .tinylytics_hits          hits | hits=unique        the lifetime (unique) hits;
 *                             &hits_path=/a              with data-path, that page's
 *   a.tinylytics_public_stats publicstats                href = the public stats URL
 *   .tinylytics_kudos         kudos&path=/a&path=/b      "👋 N" per page or data-path
 *   .tinylytics_countries     countries                  emoji flags, A–Z
 *   .tinylytics_uptime        uptime                     "💯 100%" (nothing while null)
 *   .tinylytics_webring       webring | webring=avatars  href, title, avatar image
 *
 * Kudos: a button's page is its data-path (which must start with "/"; a button
 * with any other data-path is left alone) or else the page's own path. A private
 * button shows no count: it is either its own class, tinylytics_kudos_private, or
 * a tinylytics_kudos that also has that class (both work the same). A click
 * sends one kudo, POST BASE/collect/SITE_UID {"k":"kudo","u":<page URL>,"p":<path>};
 * 200 (new) and 409 (already given today) both leave the button given: class
 * did_select, disabled, and the kudo's uid kept in
 * localStorage["tinylytics_kudo:SITE_UID:PATH"], so a later visit shows it given.
 *
 * No cookies (credentials: "omit"), no storage but those kudo uids. Nothing here
 * may break the page: every failure (unknown site, network, bad JSON) is
 * swallowed and leaves the elements as they were. Text goes in as textContent,
 * never as HTML.
 */
(() => {
  "use strict";
  const w = window;
  const d = document;
  const loc = location;
  const GIVEN = "did_select";
  const PRIVATE = "tinylytics_kudos_private";
  const KUDO_KEY = "tinylytics_kudo:";
  const WAVE = "👋";
  const MAX_PATHS = 50; // the data endpoint reads at most this many path= parameters
  const MAX_PATH = 2048;
  // One short grapheme: a flag, or one character with its marks, skin tone and tag
  // modifiers, joined into a ZWJ sequence. Anything else (words, markup) is not an emoji.
  // A kudos label: any short text and emoji ("👏 Thanks", "❤️❤️", "Like"), never a
  // control character; written as text, so markup shows as itself.
  const MAX_LABEL = 32; // code points
  const isLabel = (text) =>
    !!text.trim() && [...text].length <= MAX_LABEL && !/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u.test(text.replace(/[\u200D\uFE0F]/g, ""));

  const noop = () => {};
  const safe = (fn) => {
    try {
      fn();
    } catch (e) {
      // never into the page
    }
  };
  const all = (selector) => [].slice.call(d.querySelectorAll(selector));
  const isCount = (n) => typeof n == "number" && isFinite(n) && n >= 0;
  const isWeb = (url) => typeof url == "string" && /^https?:\/\//i.test(url);
  const stored = (key, value) => {
    try {
      if (value === undefined) return localStorage.getItem(key);
      localStorage.setItem(key, value);
    } catch (e) {
      // storage disabled: the button is given for this page view only
    }
    return null;
  };

  // Uptime grades, best first: [lowest percentage, emoji].
  const GRADES = [
    [100, "💯"],
    [99.9, "🔥"],
    [99, "✅"],
    [95, "⚠️"],
    [0, "🚨"],
  ];

  const mount = (base, uid, widgets, ignored) => {
    const asked = []; // query parameters of the one data request
    const shows = []; // what to do with its answer
    const ask = (param, show) => {
      asked.push(param);
      shows.push(show);
    };
    let revalidate = false;

    // ---- hit counter -------------------------------------------------------
    if ("hits" in widgets) {
      const counters = all(".tinylytics_hits");
      const unique = widgets.hits === "unique";
      // A counter with a data-path shows that page's hits; without, the site's.
      const pathOf = (el) => {
        const attr = el.getAttribute("data-path");
        const path = attr === null ? null : attr.trim();
        return path && path[0] === "/" && path.length <= MAX_PATH ? path : null;
      };
      const pages = [];
      counters.forEach((el) => {
        const path = pathOf(el);
        if (path && pages.indexOf(path) < 0 && pages.length < MAX_PATHS) pages.push(path);
      });
      if (counters.length)
        ask(
          (unique ? "hits=unique" : "hits") +
            pages.map((path) => "&hits_path=" + encodeURIComponent(path)).join(""),
          (data) => {
            // Unique hits are a paid feature: the server leaves them out for free sites.
            const perPage = (unique && data.path_unique_hits) || data.path_hits || {};
            const total = unique && isCount(data.unique_hits) ? data.unique_hits : data.hits;
            counters.forEach((el) => {
              const path = pathOf(el);
              const n = path ? perPage[path] : el.getAttribute("data-path") === null ? total : null;
              if (isCount(n)) el.textContent = n.toLocaleString();
            });
          }
        );
    }

    // ---- public stats link (the plugins' a.tinylytics_public_stats) ----------
    if ("publicstats" in widgets) {
      const links = all("a.tinylytics_public_stats");
      if (links.length)
        ask("publicstats", (data) => {
          // null while the stats are not public: the links are left as they are.
          if (isWeb(data.public_stats_url)) links.forEach((a) => (a.href = data.public_stats_url));
        });
    }

    // ---- kudos -------------------------------------------------------------
    if ("kudos" in widgets) {
      const choice = widgets.kudos || "";
      const custom = choice === "custom";
      const emoji = isLabel(choice) ? choice.trim() : WAVE;
      const groups = {}; // path → every button for it, its count and whether it is given
      const paths = [];
      all(".tinylytics_kudos,." + PRIVATE).forEach((el) => {
        const attr = el.getAttribute("data-path");
        const path = attr === null ? loc.pathname : attr.trim();
        if (path[0] !== "/" || path.length > MAX_PATH) return; // not a path: left alone
        let group = groups[path];
        if (!group) {
          if (paths.length >= MAX_PATHS) return;
          paths.push(path);
          group = groups[path] = { path, buttons: [], key: KUDO_KEY + uid + ":" + path };
          group.given = !!stored(group.key);
          revalidate = revalidate || group.given; // so a reload shows the count with it
        }
        group.buttons.push(el);
        el.addEventListener("click", (click) => {
          click.preventDefault(); // e.g. a button inside a form
          safe(() => give(group));
        });
      });

      const render = (group) =>
        group.buttons.forEach((el) => {
          const hidden = el.classList.contains(PRIVATE);
          if (group.given) {
            el.classList.add(GIVEN);
            el.disabled = true;
          }
          if (custom && hidden) return; // the owner's own content and styling
          const n = hidden || group.count === undefined ? "" : group.count.toLocaleString();
          el.textContent = custom ? n : n ? emoji + " " + n : emoji;
        });

      const give = (group) => {
        if (group.given || group.busy || ignored()) return;
        group.busy = true;
        const lock = (locked) => group.buttons.forEach((el) => (el.disabled = locked));
        lock(true);
        fetch(base + "/collect/" + uid, {
          method: "POST",
          body: JSON.stringify({ k: "kudo", u: loc.href, p: group.path }),
          credentials: "omit",
        })
          .then(
            (response) => {
              const status = response.status;
              group.busy = false;
              // 409: this visitor gave this page a kudo today, already counted.
              if (status != 200 && status != 409) return lock(false);
              group.given = true;
              if (status == 200 && group.count !== undefined) group.count++;
              render(group);
              return response.json().then((answer) => stored(group.key, String(answer.uid)));
            },
            () => {
              group.busy = false;
              lock(false);
            }
          )
          .catch(noop);
      };

      paths.forEach((path) => render(groups[path]));
      const counted = paths.filter((path) =>
        groups[path].buttons.some((el) => !el.classList.contains(PRIVATE))
      );
      if (counted.length)
        ask(
          "kudos" + counted.map((path) => "&path=" + encodeURIComponent(path)).join(""),
          (data) =>
            counted.forEach((path) => {
              const n = data.kudos && data.kudos[path];
              if (!isCount(n)) return;
              groups[path].count = n;
              render(groups[path]);
            })
        );
    }

    // ---- visited countries -------------------------------------------------
    if ("countries" in widgets) {
      const places = all(".tinylytics_countries");
      if (places.length)
        ask("countries", (data) => {
          if (!Array.isArray(data.countries)) return;
          const codes = data.countries.filter((code) => /^[A-Z]{2}$/.test(code)).sort();
          places.forEach((el) => {
            el.textContent = "";
            codes.forEach((code) => {
              const flag = d.createElement("span");
              flag.title = code;
              // Regional indicator symbols: A is U+1F1E6.
              flag.textContent = String.fromCodePoint(
                0x1f1a5 + code.charCodeAt(0),
                0x1f1a5 + code.charCodeAt(1)
              );
              el.appendChild(flag);
            });
          });
        });
    }

    // ---- uptime ------------------------------------------------------------
    if ("uptime" in widgets) {
      const el = d.querySelector(".tinylytics_uptime");
      if (el)
        ask("uptime", (data) => {
          const percent = data.uptime; // 0–100, or null while there is no monitoring
          if (!isCount(percent) || percent > 100) return;
          const shown = Math.floor(percent * 100) / 100; // 99.999 is not 100
          const grade = GRADES.find((g) => shown >= g[0])[1];
          el.textContent =
            grade + " " + shown.toLocaleString(undefined, { maximumFractionDigits: 2 }) + "%";
        });
    }

    // ---- webring -----------------------------------------------------------
    if ("webring" in widgets) {
      const links = all(".tinylytics_webring");
      const avatars = widgets.webring === "avatars";
      const images = avatars ? all(".tinylytics_webring_avatar") : [];
      if (links.length || images.length)
        ask(avatars ? "webring=avatars" : "webring", (data) => {
          const member = data.webring;
          if (!member || !isWeb(member.url)) return; // no member: links left alone
          const label = typeof member.label == "string" ? member.label : "";
          links.forEach((a) => {
            a.href = member.url;
            if (label) a.title = label;
          });
          const avatar = member.avatar;
          if (!avatar || !isWeb(avatar.src)) return;
          images.forEach((img) => {
            img.addEventListener("load", () => img.style.removeProperty("display"), {
              once: true,
            });
            if (!img.hasAttribute("alt")) img.alt = label;
            if (typeof avatar.srcset == "string") img.srcset = avatar.srcset;
            img.src = avatar.src;
          });
        });
    }

    if (!asked.length) return;
    fetch(base + "/widgets/" + uid + ".json?" + asked.join("&"), {
      credentials: "omit",
      // The data is cached for a short while; after a kudo, ask again past the cache.
      cache: revalidate ? "no-cache" : "default",
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => {
        if (data && typeof data == "object") shows.forEach((show) => safe(() => show(data)));
      })
      .catch(noop);
  };

  w.tinylyticsWidgets = (base, uid, widgets, ignored) => {
    const run = () => safe(() => mount(base, uid, widgets || {}, ignored || (() => false)));
    if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", run);
    else run();
  };
})();
