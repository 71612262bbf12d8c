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

  function tick() {
    if (document.hidden || selecting()) {
      setTimeout(tick, every);
      return;
    }
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
        setTimeout(tick, every);
      });
  }

  setTimeout(tick, every);
})();
