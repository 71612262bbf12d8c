// Keeps a ladder page live without reloading it: every second, fetch the
// page's main content alone (?fragment=1, the same server-side template)
// and bring the page's content up to date with it, node by node. Without
// script, a <meta http-equiv=refresh> does the same (pages with forms go
// without: it would wipe what is being typed).
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

  // Nor while they type into a form field: the swap would take the
  // caret away mid-word.
  function typing() {
    var el = document.activeElement;
    return el && main.contains(el) && (el.tagName === "TEXTAREA" ||
      (el.tagName === "INPUT" && el.type !== "hidden" && el.type !== "submit"));
  }

  // What was typed into fields the user left survives the swap: fields
  // keep their id across renders.
  function keep() {
    var kept = {};
    var fields = main.querySelectorAll("input[id], textarea[id]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) kept[fields[i].id] = fields[i].value;
    }
    return kept;
  }

  function restore(kept) {
    for (var id in kept) {
      var el = document.getElementById(id);
      if (el && main.contains(el)) el.value = kept[id];
    }
  }

  // Nor between pressing a button and releasing it: the click would land
  // on a node the swap removed, and be lost.
  var pressing = false;
  main.addEventListener("pointerdown", function () { pressing = true; });
  document.addEventListener("pointerup", function () { pressing = false; });
  document.addEventListener("pointercancel", function () { pressing = false; });

  function interacting() {
    return document.hidden || pressing || selecting() || typing();
  }

  // Bring the page up to date by changing only what differs: a node whose
  // kind (and id) is unchanged is kept and patched, so a button the user is
  // about to click, or has focused, stays the same button across a refresh
  // rather than being swapped for a copy between pointing and clicking.
  function sameKind(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName &&
      (a.nodeType !== 1 || a.id === b.id);
  }

  function patch(cur, want) {
    if (cur.nodeType !== 1) {
      if (cur.nodeValue !== want.nodeValue) cur.nodeValue = want.nodeValue;
      return;
    }
    if (cur.isEqualNode(want)) return;
    var i, a;
    for (i = cur.attributes.length - 1; i >= 0; i--) {
      a = cur.attributes[i];
      if (!want.hasAttribute(a.name)) cur.removeAttribute(a.name);
    }
    for (i = 0; i < want.attributes.length; i++) {
      a = want.attributes[i];
      if (cur.getAttribute(a.name) !== a.value) cur.setAttribute(a.name, a.value);
    }
    patchChildren(cur, want);
  }

  // later reports whether c is followed, among its siblings, by the
  // element w stands for (same id and tag).
  function later(c, w) {
    if (w.nodeType !== 1 || !w.id) return false;
    var el = document.getElementById(w.id);
    return !!el && el.parentNode === c.parentNode && sameKind(el, w) &&
      !!(c.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
  }

  function patchChildren(cur, want) {
    var c = cur.firstChild, w = want.firstChild;
    while (w) {
      var wn = w.nextSibling;
      if (!c) {
        cur.appendChild(w);
      } else if (sameKind(c, w)) {
        patch(c, w);
        c = c.nextSibling;
      } else if (later(c, w)) {
        // Something above it went (a banner, a row): drop what is gone
        // up to the element with this id, and keep that element.
        while (!sameKind(c, w)) {
          var gone = c;
          c = c.nextSibling;
          cur.removeChild(gone);
        }
        patch(c, w);
        c = c.nextSibling;
      } else {
        cur.insertBefore(w, c);
      }
      w = wn;
    }
    while (c) {
      var rest = c.nextSibling;
      cur.removeChild(c);
      c = rest;
    }
  }

  function update(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    patchChildren(main, tpl.content);
  }

  var next = null, inflight = false, acting = false;

  function tick() {
    if (acting) return; // a form was submitted: the page is on its way out
    if (interacting()) {
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
          if (acting || interacting()) return;
          var kept = keep();
          update(html);
          restore(kept);
          mark(res.ok);
        });
      })
      .catch(function () { mark(false); })
      .then(function () {
        clearTimeout(timer);
        inflight = false;
        if (!acting) next = setTimeout(tick, every);
      });
  }

  // An action (promote, approve, roll back) may run a whole deploy before
  // the server answers: show that the form is working, refuse a second
  // submission meanwhile, and stop swapping the form away.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!main.contains(form) || ev.defaultPrevented) return;
    if (acting) {
      ev.preventDefault();
      return;
    }
    acting = true;
    clearTimeout(next);
    form.classList.add("busy");
    form.setAttribute("aria-busy", "true");
    main.classList.add("acting");
  });

  // Back to a page kept in the back/forward cache: it is live again.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted || !acting) return;
    acting = false;
    main.classList.remove("acting");
    var busy = main.querySelectorAll("form.busy");
    for (var i = 0; i < busy.length; i++) {
      busy[i].classList.remove("busy");
      busy[i].removeAttribute("aria-busy");
    }
    next = setTimeout(tick, every);
  });

  // Something happened (a deploy, a health change, drift): refresh now
  // rather than at the next tick, so the page follows within a moment.
  if (window.EventSource) {
    var stream = new EventSource("/api/v1/events/stream");
    stream.onmessage = function () {
      if (inflight || acting || document.hidden) return;
      clearTimeout(next);
      tick();
    };
  }

  next = setTimeout(tick, every);
})();
