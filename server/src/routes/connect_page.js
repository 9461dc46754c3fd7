// The connect page's only script (served as /_static/connect.js, so the
// page's CSP can say `script-src 'self'`). It speaks Pipedream's messages
// ({type: "success" | "error" | "close"}) to whoever embedded or opened the
// page, and runs OAuth in a popup when the page is framed: providers refuse
// to be framed (X-Frame-Options: DENY), so the consent page opens top-level.
// The page's data comes in <script type="application/json" id="sb-page">.
(function () {
  'use strict';
  var el = document.getElementById('sb-page');
  var cfg = el ? JSON.parse(el.textContent) : {};
  var framed = window.parent !== window;
  // Opened by this page in a frame (the OAuth popup): same origin, so
  // readable. A customer's window that opened the page is not.
  var ownOpener = false;
  try {
    ownOpener = !!window.opener && window.opener.location.origin === location.origin;
  } catch (e) {
    ownOpener = false;
  }
  var host = framed ? window.parent : ownOpener ? null : window.opener;

  // The origins allowed to hear from this page (the token's, or "*"), cut
  // to the embedder's when the browser says who it is: postMessage to
  // another origin is dropped, with a console error.
  function targets() {
    var t = cfg.targets || [];
    var a = location.ancestorOrigins;
    if (framed && a && a.length) {
      t = t.filter(function (o) { return o === '*' || o === a[0]; });
    }
    return t;
  }
  function post(m) {
    if (!host) return;
    targets().forEach(function (o) { host.postMessage(m, o); });
  }
  function byId(id) { return document.getElementById(id); }
  function show(id, on) { var e = byId(id); if (e) e.hidden = !on; }

  // Cancel / Close: tell the embedder to take the page away.
  var close = byId('sb-close');
  if (close && host) {
    close.hidden = false;
    close.addEventListener('click', function () { post({ type: 'close' }); });
  }

  // The result of a flow: to the embedder, and after success (shown for a
  // moment) `close`, as Pipedream's page closes itself.
  function finish(m) {
    post(m);
    if (m.type === 'success') {
      setTimeout(function () { post({ type: 'close' }); }, cfg.closeAfterMs || 1500);
    }
  }

  if (cfg.message) {
    if (ownOpener) {
      // The popup's end: hand the result to the framed page that opened
      // it (same origin only), then go away.
      window.opener.postMessage({ sbOauthResult: cfg.message }, location.origin);
      window.close();
      return;
    }
    finish(cfg.message);
    return;
  }

  // OAuth from a frame: the provider opens in a popup on the user's click.
  var start = byId('sb-oauth');
  var popupCfg = cfg.popup;
  if (!framed || !start || !popupCfg) return;
  var popup = null;
  var watch = null;
  var name = 'sb-oauth-' + Math.random().toString(36).slice(2);
  var features = 'popup,width=600,height=720';

  function state(text, retry, isError) {
    var t = byId('sb-popup-text');
    t.textContent = text;
    t.className = isError ? 'error' : '';
    t.setAttribute('role', isError ? 'alert' : 'status');
    show('sb-popup', true);
    show('sb-popup-retry', retry);
  }
  function opened(w) {
    popup = w;
    state(popupCfg.wait, false, false);
    clearInterval(watch);
    // A window closed without a result: offer to try again.
    watch = setInterval(function () {
      if (popup && popup.closed) {
        clearInterval(watch);
        popup = null;
        state(popupCfg.closed, true, true);
      }
    }, 500);
  }
  function open() {
    var w;
    if (start.tagName === 'FORM') {
      w = window.open('', name, features);
      if (w) {
        start.target = name;
        start.submit();
      }
    } else {
      w = window.open(start.href, name, features);
    }
    if (w) opened(w);
    else state(popupCfg.blocked, true, true);
  }
  start.addEventListener(start.tagName === 'FORM' ? 'submit' : 'click', function (ev) {
    if (start.tagName === 'FORM' && !start.reportValidity()) return;
    ev.preventDefault();
    open();
  });
  byId('sb-popup-retry').addEventListener('click', open);

  window.addEventListener('message', function (e) {
    if (e.origin !== location.origin || !popup || e.source !== popup) return;
    var m = e.data && e.data.sbOauthResult;
    if (!m || (m.type !== 'success' && m.type !== 'error')) return;
    clearInterval(watch);
    popup = null;
    show('sb-flow', false);
    if (m.type === 'success') state(popupCfg.connected, false, false);
    else state(m.error || popupCfg.failed, true, true);
    finish(m);
  });
})();
