// Keeps a ladder page live without reloading it: every second, fetch the
// page's main content alone (?fragment=1, the same server-side template)
// and swap it in. Without script, a <meta http-equiv=refresh> does the same.
(function () {
  "use strict";
  var main = document.getElementById("content");
  var live = document.getElementById("live");
  if (!main || !window.fetch) return;
  var every = parseInt(main.getAttribute("data-refresh"), 10) || 1000;

  function fragmentURL() {
    var u = new URL(window.location.href);
    u.searchParams.set("fragment", "1");
    return u.toString();
  }

  function mark(ok) {
    if (!live) return;
    live.classList.toggle("stale", !ok);
    live.textContent = ok ? "live" : "offline";
  }

  // Swapping while someone selects text (to copy a snapshot ID, say)
  // would drop their selection; wait until they are done.
  function selecting() {
    var sel = window.getSelection && window.getSelection();
    return sel && !sel.isCollapsed && main.contains(sel.anchorNode);
  }

  var next = null, inflight = false;

  function tick() {
    if (document.hidden || selecting()) {
      next = setTimeout(tick, every);
      return;
    }
    inflight = true;
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 5000);
    fetch(fragmentURL(), { cache: "no-store", signal: ctl.signal, headers: { Accept: "text/html" } })
      .then(function (res) {
        // An error page is still worth showing (it says what is wrong);
        // anything that is not HTML is not ours to render.
        var type = res.headers.get("Content-Type") || "";
        if (type.indexOf("text/html") !== 0) throw new Error("HTTP " + res.status);
        return res.text().then(function (html) {
          main.innerHTML = html;
          mark(res.ok);
        });
      })
      .catch(function () { mark(false); })
      .then(function () {
        clearTimeout(timer);
        inflight = false;
        next = setTimeout(tick, every);
      });
  }

  // Something happened (a deploy, a health change, drift): refresh now
  // rather than at the next tick, so the page follows within a moment.
  if (window.EventSource) {
    var stream = new EventSource("/api/v1/events/stream");
    stream.onmessage = function () {
      if (inflight || document.hidden) return;
      clearTimeout(next);
      tick();
    };
  }

  next = setTimeout(tick, every);
})();
