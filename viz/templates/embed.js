/* kpigraph hover cards: <span data-kpigraph-metric="客单价">❓</span> shows the metric's card
   (an iframe of /embed/metrics/{name} from the server this script came from) on hover or focus,
   and opens the metric's page on click. No HTML is built from the page's text. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src).origin;
  var frame = null, timer = null;

  function card() {
    if (frame) { return frame; }
    frame = document.createElement("iframe");
    frame.id = "kpigraph-hovercard";
    frame.title = "kpigraph";
    frame.setAttribute("sandbox", "allow-popups allow-popups-to-escape-sandbox");
    var s = frame.style;
    s.position = "absolute"; s.zIndex = "2147483000"; s.width = "360px"; s.height = "220px";
    s.border = "1px solid #dee2e6"; s.borderRadius = "8px"; s.background = "#fff";
    s.boxShadow = "0 6px 24px rgba(0,0,0,.15)"; s.display = "none";
    frame.addEventListener("mouseenter", function () { clearTimeout(timer); });
    frame.addEventListener("mouseleave", hide);
    document.body.appendChild(frame);
    return frame;
  }

  function url(el, page) {
    var name = el.getAttribute("data-kpigraph-metric") || "";
    return origin + (page ? "/metrics/" : "/embed/metrics/") + encodeURIComponent(name.slice(0, 200));
  }

  function show(ev) {
    var el = ev.currentTarget, f = card(), want = url(el, false);
    clearTimeout(timer);
    if (f.getAttribute("src") !== want) { f.setAttribute("src", want); }
    var r = el.getBoundingClientRect();
    f.style.left = (window.scrollX + r.left) + "px";
    f.style.top = (window.scrollY + r.bottom + 6) + "px";
    f.style.display = "block";
  }

  function hide() {
    clearTimeout(timer);
    timer = setTimeout(function () { if (frame) { frame.style.display = "none"; } }, 300);
  }

  function attach(el) {
    if (el.getAttribute("data-kpigraph-ready")) { return; }
    el.setAttribute("data-kpigraph-ready", "1");
    if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); }
    el.style.cursor = "help";
    el.addEventListener("mouseenter", show);
    el.addEventListener("focus", show);
    el.addEventListener("mouseleave", hide);
    el.addEventListener("blur", hide);
    el.addEventListener("click", function () { window.open(url(el, true), "_blank", "noopener"); });
  }

  function scan() {
    var found = document.querySelectorAll("[data-kpigraph-metric]");
    for (var i = 0; i < found.length; i++) { attach(found[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", scan);
  } else { scan(); }
  window.kpigraphScan = scan;  /* call again after a dashboard renders new widgets */
})();
