/* The kiosk page (facegate.web.kiosk): one transaction per person.
 *
 * notice -> (face) -> [claim, 1:1 only] -> camera -> one frame -> result
 *        -> (alternative, from any state) -> the alternative; the face path ends.
 *
 * No camera starts before the person chose face. A frame is drawn on a canvas that is never in
 * the document, sent once, and the canvas is cleared and released; the camera stops as soon as
 * the frame is taken. No timer runs anywhere: nothing moves the person on but their own tap.
 * Every text is in the page (Chinese and English); this script only shows and hides it. */
(function () {
  "use strict";

  var big = document.getElementById("large-text");
  if (big) {
    big.addEventListener("click", function () {
      var on = document.documentElement.classList.toggle("klarge");
      big.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  var root = document.getElementById("kiosk");
  if (!root) { return; }
  var deployment = root.dataset.deployment;
  var transaction = root.dataset.transaction;
  var csrf = root.dataset.csrf;
  var identify = root.dataset.mode === "identify";
  var base = "/kiosk/" + encodeURIComponent(deployment);
  var stream = null;
  var declined = false;
  var claim = null;

  function $(id) { return document.getElementById(id); }

  function show(state) {
    var states = document.querySelectorAll(".kstate");
    for (var i = 0; i < states.length; i++) { states[i].hidden = states[i].id !== "s-" + state; }
    root.dataset.state = state;
    var section = $("s-" + state);
    var heading = section.querySelector("h1:not([hidden])");
    var results = section.querySelectorAll(".kresult");
    for (var j = 0; j < results.length; j++) {
      if (!results[j].hidden) { heading = results[j].querySelector("h1"); }
    }
    if (heading) {
      heading.focus();
      $("kstatus").textContent = heading.textContent;
    }
  }

  function post(path, body, isForm) {
    var init = { method: "POST", credentials: "same-origin", cache: "no-store",
                 headers: { "X-CSRF-Token": csrf } };
    if (isForm) {
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return { status: r.status, data: data };
      });
    });
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
    $("preview").srcObject = null;
  }

  function result(outcome, error) {
    stopCamera();
    var blocks = document.querySelectorAll("#s-result .kresult");
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].hidden = blocks[i].dataset.outcome !== outcome;
    }
    $("error-zh").textContent = error ? (error.message_zh || "") : "";
    $("error-en").textContent = error ? (error.message || "") : "";
    // Try again only where another frame may help: not after a match, nor a refusal.
    var retry = outcome === "not_matched" ||
      (outcome === "error" && error && error.status !== 403 && error.status !== 401);
    $("retry").hidden = !retry;
    show("result");
  }

  function startCamera() {
    if (declined) { return; }
    show("camera");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      result("error", { message: "This device has no usable camera.",
                        message_zh: "本设备没有可用的摄像头。", status: 0 });
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false })
      .then(function (s) {
        if (declined) { s.getTracks().forEach(function (t) { t.stop(); }); return; }
        stream = s;
        $("preview").srcObject = s;
      })
      .catch(function () {
        result("error", { message: "The camera could not be started.",
                          message_zh: "无法启动摄像头。", status: 0 });
      });
  }

  function afterChoice() {
    if (identify || claim) { startCamera(); } else { show("claim"); }
  }

  $("choose-face").addEventListener("click", function () {
    if (declined) { return; }
    post("/choice", { transaction: transaction }).then(function (r) {
      if (r.status !== 200) { r.data.status = r.status; result("error", r.data); return; }
      afterChoice();
    });
  });

  var claimForm = $("claim-form");
  if (claimForm) {
    claimForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = $("claim").value.trim();
      if (!value) { $("claim").focus(); return; }
      claim = value;
      startCamera();
    });
  }

  $("capture").addEventListener("click", function () {
    var video = $("preview");
    if (!stream || !video.videoWidth) { return; }
    var canvas = document.createElement("canvas");  // never added to the document
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    var ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0);
    stopCamera();
    show("busy");
    canvas.toBlob(function (blob) {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      canvas.width = 0;
      canvas.height = 0;
      var form = new FormData();
      form.append("image", blob, "frame.jpg");
      form.append("transaction", transaction);
      if (!identify) { form.append("claim", claim); }
      blob = null;
      post("/match", form, true).then(function (r) {
        form = null;  // the only reference to the frame goes with it
        if (r.status !== 200) { r.data.status = r.status; result("error", r.data); return; }
        var d = r.data;
        result(d.outcome === "matched" ? (d.staff_confirm ? "staff" : "matched")
                                        : "not_matched");
      });
    }, "image/jpeg", 0.92);
  });

  $("retry").addEventListener("click", function () { startCamera(); });

  function toAlternative() {
    declined = true;
    stopCamera();
    post("/decline", { transaction: transaction }).then(function () {
      // Whatever the answer, the face path is over for this transaction: no second prompt.
      var faces = document.querySelectorAll("#choose-face, #capture, #retry");
      for (var i = 0; i < faces.length; i++) { faces[i].disabled = true; }
      show("alternative");
    });
  }

  $("choose-alt").addEventListener("click", toAlternative);
  var alts = document.querySelectorAll(".to-alt");
  for (var i = 0; i < alts.length; i++) { alts[i].addEventListener("click", toAlternative); }

  var dones = document.querySelectorAll(".to-done");
  for (var j = 0; j < dones.length; j++) {
    dones[j].addEventListener("click", function () {
      stopCamera();
      window.location.replace(base);  // the next person: a new transaction
    });
  }

  root.dataset.state = "notice";
}());
