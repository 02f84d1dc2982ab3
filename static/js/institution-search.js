/* Search-as-you-type for institution fields.
 *
 * Progressive enhancement: any <input data-suggest-url="..." list="some-datalist"> gets the registry's
 * matching names in its datalist while the user types. Without JavaScript, or when a request fails,
 * the input stays a plain text field and the server resolves what was typed. Names are written with
 * textContent only, never as HTML.
 */
(function () {
  "use strict";

  var DELAY_MS = 150;
  var MIN_CHARS = 2;

  function enhance(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list || list.tagName !== "DATALIST") {
      return;
    }
    var timer = null;
    var pending = null;
    var lastQuery = null;

    function fill(items) {
      var options = [];
      items.forEach(function (item) {
        if (item && typeof item.name === "string") {
          var option = document.createElement("option");
          option.value = item.name;
          option.textContent = item.name;
          options.push(option);
        }
      });
      list.replaceChildren.apply(list, options);
    }

    function lookup() {
      var query = input.value.trim().replace(/\s+/g, " ");
      if (query === lastQuery) {
        return;
      }
      lastQuery = query;
      if (pending) {
        pending.abort();
        pending = null;
      }
      if (query.length < MIN_CHARS) {
        fill([]);
        return;
      }
      var url = new URL(input.getAttribute("data-suggest-url"), window.location.href);
      url.searchParams.set("q", query);
      var controller = new AbortController();
      pending = controller;
      fetch(url.toString(), {
        headers: { "Accept": "application/json" },
        credentials: "same-origin",
        signal: controller.signal
      }).then(function (response) {
        return response.ok ? response.json() : [];
      }).then(function (items) {
        if (pending === controller && Array.isArray(items)) {
          fill(items);
        }
      }).catch(function () {
        /* Aborted or offline: the field keeps working as plain text. */
      });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, DELAY_MS);
    });
  }

  function start() {
    document.querySelectorAll("input[data-suggest-url][list]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
