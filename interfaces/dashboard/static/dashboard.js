/* Tinylytics dashboard: small conveniences on top of pages that work without JavaScript.
 * - copy buttons for snippets (the snippets are selectable textareas without it);
 * - the embed builder updates its snippet as options change (it is a GET form without it);
 * - sign-up and new-site forms preselect the browser's time zone;
 * - the Content tab's progress line follows a running check (a poll of our own JSON),
 *   and the page reloads with the results when it finishes. */
(function () {
  "use strict";

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for the person */ }
    }
  }

  function select(target) {
    if (target.select) { target.focus(); target.select(); }
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });

  // Clicking a snippet selects all of it.
  document.querySelectorAll("textarea.code[readonly]").forEach(function (area) {
    area.addEventListener("focus", function () { area.select(); });
  });

  // The embed builder: rebuild the script URL from the form, as the server would.
  var builder = document.getElementById("embed-builder");
  var snippet = document.getElementById("embed-snippet");
  if (builder && snippet) {
    var base = builder.getAttribute("data-base");
    var uid = builder.getAttribute("data-uid");
    var value = function (text) {
      return /[&=#%+ "'<>]/.test(text) ? encodeURIComponent(text) : text;
    };
    var update = function () {
      var f = builder.elements;
      var params = [];
      ["spa", "events", "beacon"].forEach(function (n) { if (f[n].checked) params.push(n); });
      if (f.hits.value === "total") params.push("hits");
      if (f.hits.value === "unique") params.push("hits=unique");
      if (f.kudos.checked) {
        var emoji = f.kudos_emoji.value.trim();
        params.push(emoji ? "kudos=" + value(emoji) : "kudos");
      }
      ["countries", "uptime"].forEach(function (n) { if (f[n].checked) params.push(n); });
      if (f.webring.value === "plain") params.push("webring");
      if (f.webring.value === "avatars") params.push("webring=avatars");
      var path = f.minified.checked ? "/embed/" + uid + "/min.js" : "/embed/" + uid + ".js";
      var src = base + path + (params.length ? "?" + params.join("&") : "");
      snippet.value = '<script src="' + src + '" defer></' + "script>";
    };
    builder.addEventListener("input", update);
    builder.addEventListener("change", update);
  }

  // Preselect the browser's time zone on forms that start at UTC.
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = null; }
  if (zone) {
    document.querySelectorAll("select[data-detect-timezone]").forEach(function (select) {
      if (select.value === "UTC" && !select.closest(".has-error") && select.form &&
          select.form.hasAttribute("data-fresh")) {
        for (var i = 0; i < select.options.length; i++) {
          if (select.options[i].value === zone) { select.value = zone; break; }
        }
      }
    });
  }

  // A running content check: ask our own endpoint every few seconds how far it is.
  var progress = document.querySelector("[data-progress-url]");
  if (progress && window.fetch) {
    var poll = function () {
      fetch(progress.getAttribute("data-progress-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (answer) {
        if (!answer.ok) return null;
        return answer.json();
      }).then(function (found) {
        if (!found) return;
        if (!found.running) { window.location.reload(); return; }
        if (found.text) progress.textContent = found.text;
        setTimeout(poll, 3000);
      }, function () { setTimeout(poll, 10000); });
    };
    setTimeout(poll, 3000);
  }
})();
